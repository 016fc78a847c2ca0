"""Report definitions as data: one YAML file per report in ``reports/definitions/``, read once
and checked against the registry (layers, fields, indicator sectors, themes) so a wrong file
stops the start-up naming the file and the key."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Text(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    vi: str
    en: str


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    title: Text
    note: Text | None = None


class IndicatorsSection(_Section):
    """Indicators against their targets (``api/query/kpi.py``) for the report's area, or per
    commune of it, with the period before and the same period a year earlier."""

    type: Literal["indicators"]
    units: Literal["area", "communes"] = "area"
    sector: str | None = None
    indicators: tuple[str, ...] = ()  # empty: every indicator (of the sector)
    compare: tuple[Literal["previous", "last_year"], ...] = ()


class IndicatorAlertsSection(_Section):
    """Indicators that miss their target in any unit of the area (``/query/kpi/alerts``)."""

    type: Literal["indicator_alerts"]
    sector: str | None = None


class TotalsSection(_Section):
    """Group totals of layers inside the area (the query engine of ``/query/admin/{code}``)."""

    type: Literal["totals"]
    layers: tuple[str, ...] = Field(min_length=1)
    group_by: str | None = None
    where: tuple[str, ...] = ()  # field:value[|value] as the query API's where=


class ChartSection(_Section):
    """A bar chart of one numeric column of an earlier table section."""

    type: Literal["chart"]
    of: str  # the id of an earlier section
    label: str  # the column naming the bars
    value: str  # the numeric column
    filter: dict[str, str] = Field(default_factory=dict)  # column: value, rows kept
    target: str | None = None  # a column drawn as a reference line


class Overlay(BaseModel):
    """Communes coloured by an indicator's status over the map (a choropleth)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    indicator: str


class MapSection(_Section):
    """The area in a theme of ``styles/themes`` rendered on the server (MapLibre GL JS)."""

    type: Literal["map"]
    theme: str = "basemap"
    width_mm: float = Field(default=170, gt=20, le=400)
    height_mm: float = Field(default=110, gt=20, le=400)
    dpi: int = Field(default=150, ge=72, le=300)
    overlay: Overlay | None = None


class ListSection(_Section):
    """Rows of an operational list in the area and period."""

    type: Literal["list"]
    source: Literal["alerts", "incidents", "overdue_citizen_reports"]
    columns: tuple[str, ...] = ()  # empty: the source's default columns
    limit: int = Field(default=200, ge=1, le=5000)


class OperationSection(_Section):
    """The IOC's own operation (Điều 13.10, 20.3), from the audit trail and ``meta``."""

    type: Literal["operation"]
    topic: Literal["usage", "freshness", "imports", "security"]


Section = Annotated[IndicatorsSection | IndicatorAlertsSection | TotalsSection | ChartSection
                    | MapSection | ListSection | OperationSection, Field(discriminator="type")]


class Definition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,60}$")
    title: Text
    description: Text | None = None
    kind: Literal["periodic", "thematic", "adhoc"]
    # periodic: the period's kind is fixed; thematic and ad hoc take any
    periodicity: Literal["month", "quarter", "half", "year"] | None = None
    area: Literal["province", "commune"] = "province"  # commune: --area is required
    needs: Literal["any", "admin"] = "any"  # admin: the operation report
    schedule: str | None = None  # systemd OnCalendar expression of the periodic run
    sections: tuple[Section, ...] = Field(min_length=1)
