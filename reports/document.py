"""A generated report before it is written out: what was asked, by whom, when, its sections
and the data versions of the layers it read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from iocgis.reports.blocks import Section
from iocgis.reports.model import Text
from iocgis.reports.periods import Period

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class Report:
    definition: str
    kind: str
    title: Text
    period: Period
    area_code: str
    area_name: str
    generated_at: datetime  # UTC, whole seconds
    generated_by: str
    caller: dict[str, Any]
    sections: list[Section] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    @property
    def generated_local(self) -> datetime:
        return self.generated_at.astimezone(ZONE)

    def data_sha256(self) -> dict[str, str]:
        return {s.id: s.sha256() for s in self.sections}
