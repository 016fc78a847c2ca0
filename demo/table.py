"""A chunk of generated features for one registry layer, completed and checked against it.

Generators fill the fields they know how to make realistic; ``complete`` fills any other field
the registry declares (from its domain, min/max, type), so a layer or field added to the
registry still gets demo values; ``check`` refuses anything the registry would reject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import shapely

from iocgis.errors import ConfigError
from iocgis.layers import LayerDef, Registry
from iocgis.layers.model import FieldDef, nfc

VN_TZ = timezone(timedelta(hours=7))
# The demo's "now": fixed so that builds are reproducible.
AS_OF = datetime(2025, 11, 30, 0, 0, tzinfo=VN_TZ)


@dataclass
class FeatureTable:
    """Rows of one layer: columns by field name, geometries in EPSG:4326 (or None)."""

    layer_id: str
    columns: dict[str, np.ndarray]
    geometry: np.ndarray | None = None
    size: int = field(init=False)

    def __post_init__(self) -> None:
        sizes = {len(v) for v in self.columns.values()}
        if self.geometry is not None:
            sizes.add(len(self.geometry))
        if len(sizes) > 1:
            raise ValueError(f"{self.layer_id}: columns of different lengths {sorted(sizes)}")
        self.size = sizes.pop() if sizes else 0
        self.columns = {
            k: np.asarray(v, dtype=object) if _is_text(v) else np.asarray(v)
            for k, v in self.columns.items()
        }

    def __len__(self) -> int:
        return self.size


def _is_text(values: object) -> bool:
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    return arr.dtype.kind in ("U", "O", "S")


def timestamps(seconds_before_as_of: np.ndarray) -> np.ndarray:
    """ISO 8601 timestamps with the +07:00 offset, ``seconds`` before the demo's now."""
    base = AS_OF.replace(tzinfo=None)
    return np.array(
        [(base - timedelta(seconds=int(s))).isoformat() + "+07:00" for s in seconds_before_as_of],
        dtype=object,
    )


def dates(days_before_as_of: np.ndarray) -> np.ndarray:
    base = AS_OF.date()
    return np.array(
        [(base - timedelta(days=int(d))).isoformat() for d in days_before_as_of], dtype=object
    )


def complete(
    table: FeatureTable,
    layer: LayerDef,
    registry: Registry,
    rng: np.random.Generator,
    names: NameSource,
) -> FeatureTable:
    """Every registry field present (generic values for missing ones); unknown columns dropped."""
    n = len(table)
    cols: dict[str, np.ndarray] = {}
    for fdef in layer.fields:
        if fdef.name in table.columns:
            cols[fdef.name] = table.columns[fdef.name]
        else:
            cols[fdef.name] = _generic_values(fdef, layer, registry, rng, n, names)
    return FeatureTable(table.layer_id, cols, table.geometry)


class NameSource:
    """What ``complete`` needs to make up text: person names for personal-data fields."""

    def person_names(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def _generic_values(
    fdef: FieldDef,
    layer: LayerDef,
    registry: Registry,
    rng: np.random.Generator,
    n: int,
    names: NameSource,
) -> np.ndarray:
    codes = registry.domain_codes(fdef)
    if codes:
        picked = np.array(codes, dtype=object)[rng.integers(0, len(codes), n)]
        return picked if fdef.type == "text" else picked.astype(float)
    lo = fdef.min if fdef.min is not None else 0.0
    hi = fdef.max if fdef.max is not None else max(lo + 100.0, lo * 2)
    if fdef.type in ("integer", "bigint"):
        return rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1, n).astype(np.int64)
    if fdef.type == "numeric":
        return np.round(rng.uniform(lo, hi, n), 2)
    if fdef.type == "boolean":
        return rng.random(n) < 0.5
    if fdef.type == "date":
        return dates(rng.integers(0, 3650, n))
    if fdef.type == "timestamptz":
        return timestamps(rng.integers(0, 90 * 86400, n))
    if fdef.pii:
        return names.person_names(rng, n)
    if fdef.pattern:
        return np.array([_matching_text(fdef.pattern, i) for i in range(n)], dtype=object)
    prefix = layer.name.upper()[:6]
    if fdef.name in layer.key:
        return np.array(
            [f"{prefix}-{fdef.name.upper()[:4]}-{i + 1:07d}" for i in range(n)], dtype=object
        )
    return np.array([f"{layer.title.vi} {i + 1}" for i in range(n)], dtype=object)


def _matching_text(pattern: str, i: int) -> str:
    """A value for a few common patterns (digit codes); other patterns get a digit string."""
    digits = re.findall(r"\\d\{(\d+)\}", pattern)
    width = int(digits[0]) if digits else 6
    return f"{i % 10**width:0{width}d}"


def check(table: FeatureTable, layer: LayerDef, registry: Registry) -> None:
    """Raise ConfigError when a value breaks the registry (a generator bug, or a registry edit
    the demo does not follow yet): required, domain, min/max, pattern, length, NFC, geometry."""
    for fdef in layer.fields:
        values = table.columns[fdef.name]
        where = f"demo layer {layer.id}, field {fdef.name}"
        present = _present(values)
        if fdef.required and not present.all():
            raise ConfigError(
                "required field left empty",
                where=where,
                hint="fix the demo generator for this layer",
            )
        shown = values[present]
        if fdef.type == "text" and len(shown):
            uniq = set(shown.tolist())
            codes = registry.domain_codes(fdef)
            bad = [
                v
                for v in uniq
                if not isinstance(v, str)
                or (codes is not None and v not in codes)
                or (fdef.pattern is not None and not re.search(fdef.pattern, v))
                or (fdef.max_length is not None and len(v) > fdef.max_length)
                or v != nfc(v)
            ]
            if bad:
                raise ConfigError(
                    f"value {sorted(map(str, bad))[0]!r} does not fit the registry",
                    where=where,
                    hint="fix the demo generator for this layer",
                )
        if fdef.is_numeric and len(shown):
            nums = shown.astype(float)
            if (fdef.min is not None and nums.min() < fdef.min) or (
                fdef.max is not None and nums.max() > fdef.max
            ):
                raise ConfigError(
                    f"values {nums.min()}..{nums.max()} outside [{fdef.min}, {fdef.max}]",
                    where=where,
                    hint="fix the demo generator for this layer",
                )
            if fdef.type in ("integer", "bigint") and not np.all(nums == np.round(nums)):
                raise ConfigError("non-integer value in an integer field", where=where)
    if layer.is_spatial:
        geoms = table.geometry
        if geoms is None or len(geoms) != len(table):
            raise ConfigError("spatial layer without geometries", where=f"demo layer {layer.id}")
        # a layer with footprints takes its positions (points) and footprints (polygons)
        expected = [shapely.GeometryType[_GEOS_TYPE[g]] for g in layer.accepted_geometries]
        types = shapely.get_type_id(geoms)
        if (~np.isin(types, expected)).any() or shapely.is_empty(geoms).any():
            raise ConfigError(
                f"geometries must be non-empty {'/'.join(layer.accepted_geometries)}",
                where=f"demo layer {layer.id}",
            )
        if not shapely.is_valid(geoms).all():
            raise ConfigError("invalid geometry generated", where=f"demo layer {layer.id}")


_GEOS_TYPE = {
    "Point": "POINT",
    "MultiPoint": "MULTIPOINT",
    "MultiLineString": "MULTILINESTRING",
    "MultiPolygon": "MULTIPOLYGON",
}


def _present(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "O":
        return np.array([v is not None and v == v for v in values], dtype=bool)
    if values.dtype.kind == "f":
        return ~np.isnan(values)
    return np.ones(len(values), dtype=bool)
