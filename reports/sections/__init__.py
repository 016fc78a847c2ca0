"""One collector per section type: each reads its data under the caller's access plans and
returns a ``blocks.Section``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from iocgis.reports.blocks import Section
from iocgis.reports.context import ReportContext
from iocgis.reports.sections import figures, indicators, lists, operation, totals

Collector = Callable[[ReportContext, Any, dict[str, Section]], Awaitable[Section]]

COLLECTORS: dict[str, Collector] = {
    "indicators": indicators.collect,
    "indicator_alerts": indicators.collect_alerts,
    "totals": totals.collect,
    "chart": figures.collect_chart,
    "map": figures.collect_map,
    "list": lists.collect,
    "operation": operation.collect,
}


async def collect(ctx: ReportContext, section: Any, done: dict[str, Section]) -> Section:
    return await COLLECTORS[section.type](ctx, section, done)
