"""Generating a report: the definition's sections collected under the caller's plans, the data
versions checked, then the PDF and XLSX written (in worker threads)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from iocgis.access import Caller, require_right
from iocgis.api.state import AppState
from iocgis.errors import InvalidInput, Unauthorized
from iocgis.reports.context import ReportContext, area_of, reading_state
from iocgis.reports.definitions import definition as find_definition
from iocgis.reports.document import Report
from iocgis.reports.model import Definition
from iocgis.reports.pdf import report_pdf
from iocgis.reports.periods import Period, parse_period
from iocgis.reports.sections import collect
from iocgis.reports.versions import registry_at
from iocgis.reports.xlsx import report_xlsx

FORMATS = ("pdf", "xlsx")
WRITERS: dict[str, Callable[[Report], bytes]] = {"pdf": report_pdf, "xlsx": report_xlsx}
MEDIA = {"pdf": "application/pdf",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Order:
    """What is asked: a definition, a period, an area (a commune code; default the province)
    and the formats."""

    report: str
    period: str
    area: str | None = None
    formats: tuple[str, ...] = FORMATS

    def checked(self) -> Order:
        formats = tuple(dict.fromkeys(f.strip().lower() for f in self.formats if f.strip()))
        bad = [f for f in formats if f not in FORMATS]
        if bad or not formats:
            raise InvalidInput(f"unknown format {(bad or [''])[0][:20]!r}", where="formats",
                               hint="pdf, xlsx or both (pdf,xlsx)")
        area = (self.area or "").strip() or None
        if area is not None and not (area.isdigit() and len(area) in (2, 5)):
            raise InvalidInput(f"{area[:20]!r} is not an administrative code", where="area",
                               hint="a 5-digit commune code (e.g. 26041) or the 2-digit province")
        return Order(self.report, self.period.strip(), area, formats)


@dataclass
class Generated:
    report: Report
    outputs: dict[str, bytes]

    def sha256(self) -> dict[str, str]:
        return {f: hashlib.sha256(b).hexdigest() for f, b in self.outputs.items()}


def write(fmt: str, report: Report) -> bytes:
    return WRITERS[fmt](report)


def caller_facts(caller: Caller) -> dict[str, Any]:
    """What the record keeps of the caller: enough to read again as they did."""
    return {"name": caller.name, "roles": sorted(caller.roles), "pii": caller.pii,
            "communes": sorted(caller.commune_codes), "auth": caller.auth, "mfa": caller.mfa,
            "sees_pii": caller.sees_pii, "level": caller.level}


def caller_of(facts: dict[str, Any]) -> Caller:
    return Caller(name=facts["name"], roles=frozenset(facts["roles"]), pii=bool(facts["pii"]),
                  commune_codes=frozenset(facts["communes"]), auth=facts["auth"],
                  mfa=bool(facts["mfa"]))


def check_order(caller: Caller, order: Order) -> tuple[Order, Definition, Period]:
    """The order checked before any work: the caller may ask for it, the period suits it."""
    order = order.checked()
    definition = find_definition(order.report)
    if caller.is_anonymous:
        raise Unauthorized("reports need a signed-in account", where="Authorization",
                           hint="sign in (POST /auth/token) or send an API key")
    if definition.needs == "admin":
        require_right(caller, "admin")
    period = parse_period(order.period)
    if definition.kind == "periodic" and period.kind != definition.periodicity:
        raise InvalidInput(f"report {definition.name} is a {definition.periodicity} report, "
                           f"{period.code} is a {period.kind}", where="period",
                           hint={"quarter": "e.g. 2026-Q3", "month": "e.g. 2026-07",
                                 "half": "e.g. 2026-H1", "year": "e.g. 2026"}
                           [definition.periodicity or "quarter"])
    if definition.area == "commune" and (order.area is None or len(order.area) != 5):
        raise InvalidInput(f"report {definition.name} is for one commune", where="area",
                           hint="give the commune's 5-digit code, e.g. 26041")
    return order, definition, period


async def generate(state: AppState, owner: AsyncConnectionPool, caller: Caller, order: Order,
                   *, maps: Any = None, generated_at: datetime | None = None,
                   progress: Progress | None = None, writers: Executor | None = None,
                   versions: dict[str, int] | None = None) -> Generated:
    """The report's data read as ``caller``, then its files written by ``writers`` (a process
    pool keeps WeasyPrint's CPU time off the server's event loop; None: a thread).
    ``versions``: read each of these layers at that data version (a regeneration): live when
    it is the live one, else from the import history's kept table, else Gone."""
    order, definition, period = check_order(caller, order)
    registry = (state.registry if versions is None
                else await registry_at(state.registry, owner, versions))
    area, communes = await area_of(reading_state(state, registry), caller, order.area,
                                   definition)
    at = (generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    ctx = ReportContext(state=state, owner=owner, registry=registry, caller=caller,
                        definition=definition, period=period, area=area, communes=communes,
                        generated_at=at, maps=maps, pinned=dict(versions or {}))
    ctx.versions_at_start = await ctx.layer_versions()
    done = {}
    total = len(definition.sections) + len(order.formats)
    for i, section in enumerate(definition.sections):
        if progress:
            progress({"step": section.id, "done": i, "total": total})
        done[section.id] = await collect(ctx, section, done)
    report = Report(definition=definition.name, kind=definition.kind, title=definition.title,
                    period=period, area_code=area.code, area_name=area.name, generated_at=at,
                    generated_by=caller.name, caller=caller_facts(caller),
                    sections=list(done.values()), versions=await ctx.versions_read())
    outputs = {}
    for j, fmt in enumerate(order.formats):
        if progress:
            progress({"step": fmt, "done": len(definition.sections) + j, "total": total})
        outputs[fmt] = await asyncio.get_running_loop().run_in_executor(writers, write, fmt,
                                                                        report)
    if progress:
        progress({"step": "done", "done": total, "total": total})
    return Generated(report, outputs)
