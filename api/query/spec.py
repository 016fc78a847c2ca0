"""What one layer is asked: which features (a spatial selection plus attribute conditions),
how they are grouped and totalled, and which page of features comes back.

Every name in a spec is already checked against the registry and the caller's rights
(``allowlist``); ``sql`` trusts a spec and only quotes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from iocgis.access import AccessPlan
from iocgis.layers import FieldDef, LayerDef

Value = str | int | float | bool


@dataclass(frozen=True)
class Condition:
    """``field IN values`` on the queried layer (one value: equality)."""

    field: FieldDef
    values: tuple[Value, ...]


@dataclass(frozen=True)
class RelatedCondition:
    """``field IN (SELECT other_field FROM other WHERE ...)``: e.g. zones of approved projects."""

    field: FieldDef
    layer: LayerDef
    other_field: FieldDef
    where: tuple[Condition, ...]


@dataclass(frozen=True)
class AtPoint:
    """Features at a point: containing it, or within ``tolerance_m`` of it."""

    lon: float
    lat: float
    tolerance_m: float = 0.0


@dataclass(frozen=True)
class Around:
    """Features within a geodesic radius of a point."""

    lon: float
    lat: float
    radius_m: float


@dataclass(frozen=True)
class Nearest:
    """The ``count`` features nearest to a point (geodesic metres), optionally within a limit."""

    lon: float
    lat: float
    count: int
    max_distance_m: float | None = None


@dataclass(frozen=True)
class Inside:
    """Features intersecting a polygon (EPSG:4326 WKB); areas and lengths clipped to it."""

    wkb: bytes
    clip: bool = True


@dataclass(frozen=True)
class InsideLayer:
    """Features intersecting any feature of another layer that meets ``where``."""

    layer: LayerDef
    where: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class FartherThan:
    """Features farther than ``distance_m`` from every feature of another layer."""

    layer: LayerDef
    distance_m: float
    where: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Everywhere:
    """No spatial restriction: the whole layer (attribute conditions still apply)."""


Selection = AtPoint | Around | Nearest | Inside | InsideLayer | FartherThan | Everywhere


@dataclass(frozen=True)
class Ratio:
    """A per-group ratio such as pupils per school: ``sum(numerator) / count`` or / sum(field)."""

    name: str
    numerator: FieldDef
    denominator: FieldDef | None  # None: the number of features in the group
    target: float | None = None
    direction: Literal["higher_better", "lower_better"] = "higher_better"


@dataclass(frozen=True)
class LayerQuery:
    """Everything asked of one layer in one request, under the caller's plan for it."""

    plan: AccessPlan
    selection: Selection
    fields: tuple[FieldDef, ...]  # the properties returned (the caller's visible fields)
    where: tuple[Condition | RelatedCondition, ...] = ()
    within: bytes | None = None  # also keep to this area (EPSG:4326 WKB), unclipped
    group_by: FieldDef | None = None
    totals: tuple[FieldDef, ...] = ()  # numeric fields summed and averaged per group
    flags: tuple[FieldDef, ...] = ()  # boolean fields counted (how many are true) per group
    ratios: tuple[Ratio, ...] = ()
    only_failing: bool = False  # keep only groups whose ratios miss their target
    limit: int = 100
    offset: int = 0
    with_features: bool = True
    step: str | None = None  # the scenario step this query answers (its key in the response)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def layer(self) -> LayerDef:
        return self.plan.layer

    @property
    def key(self) -> str:
        return self.step or self.layer.id
