"""The mapping file (YAML): which source field fills which registry field, and more.

```yaml
fields: {MA_XA: commune_code, SO_TO: sheet_no, GHI_CHU: null}   # null drops a field
constants: {province_code: "75"}
crs: EPSG:5899          # when the file does not say (or says it wrong)
encoding: tcvn3
columns: {x: TOA_DO_X, y: TOA_DO_Y}                           # CSV/XLSX coordinates
cad_layers: {DAT_O: ODT, CAY_XANH: CXN}                       # DXF: CAD layer -> code
code_field: land_use                                          # DXF: field the code fills
texts: {KY_HIEU: zone_code, NHAN: label}                      # DXF: TEXT layer -> field
raster: {title_vi: Mô hình số độ cao, title_en: Elevation model, kind: dem, unit: m}
derive: {commune_code: commune_from_location, house_id: key_hash}  # or a list: [commune_code]
admin_units: {from: MA_XA_CU, as: pre2025}                    # old codes/names -> current
```

Source fields not mapped and not named like a registry field go to the ``extra`` JSONB column.
A field the registry declares ``derive`` for is derived when the file lacks it; ``derive``
here asks for it explicitly (also on a layer that does not declare it, or over a column the
file has). ``admin_units`` converts pre-July-2025 codes or names in ``from`` (one field, or a
list joined into an address: [TEN_XA, TEN_HUYEN, TEN_TINH]) into the layer's commune field
and ``province_code`` (``commune:``/``province:`` name other targets, null skips one;
``level: commune|district|province`` when codes lost their leading zeros).
"""

from __future__ import annotations

import re
import typing
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from iocgis.errors import InvalidInput
from iocgis.layers import LayerDef
from iocgis.layers.model import KEY_DERIVATIONS, LOCATION_DERIVATIONS, Derivation

DBF_NAME_LENGTH = 10
KNOWN_KEYS = {"fields", "constants", "crs", "encoding", "columns", "cad_layers", "code_field",
              "texts", "raster", "source_layer", "derive", "admin_units"}
DERIVATIONS: tuple[str, ...] = typing.get_args(Derivation)
ADMIN_UNIT_KEYS = {"from", "as", "level", "commune", "province"}
ADMIN_UNIT_LEVELS = ("auto", "commune", "district", "province")
_DEFAULT = "(default)"  # an admin_units target not given: the layer's own field, if any


def normalise_name(name: str) -> str:
    """'Mã xã' -> 'ma_xa', 'SO_TO' -> 'so_to': how source names are matched to fields."""
    text = unicodedata.normalize("NFD", str(name)).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@dataclass(frozen=True)
class AdminUnitsSpec:
    """``admin_units``: source field(s) holding old units, and the fields the current fill."""

    sources: tuple[str, ...]
    edition: str = "pre2025"
    level: str = "auto"
    commune: str | None = _DEFAULT
    province: str | None = _DEFAULT

    @property
    def label(self) -> str:
        return "+".join(self.sources)

    def targets(self, layer: LayerDef) -> dict[str, str]:
        """Registry field -> "commune" or "province"."""
        commune = self.commune
        if commune == _DEFAULT:
            commune = getattr(layer, "commune_field", None) or (
                "commune_code" if layer.has_field("commune_code") else None)
        province = self.province
        if province == _DEFAULT:
            province = "province_code" if layer.has_field("province_code") else None
        out = {}
        if commune:
            out[commune] = "commune"
        if province:
            out[province] = "province"
        return out


@dataclass(frozen=True)
class Mapping:
    fields: dict[str, str | None] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    crs: str | None = None
    encoding: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    cad_layers: dict[str, str] = field(default_factory=dict)
    code_field: str | None = None
    texts: dict[str, str] = field(default_factory=dict)
    raster: dict[str, Any] = field(default_factory=dict)
    source_layer: str | None = None
    # registry field -> derivation (None: the one the registry declares for it)
    derive: dict[str, str | None] = field(default_factory=dict)
    admin_units: tuple[AdminUnitsSpec, ...] = ()
    origin: str = "mapping"


def load(spec: str | Path | dict[str, Any] | None, layer: LayerDef | None) -> Mapping:
    if spec is None:
        return Mapping()
    origin = "mapping"
    if isinstance(spec, dict):
        raw: Any = spec
    else:
        path = Path(spec)
        origin = str(path)
        if not path.is_file():
            raise InvalidInput(f"mapping file {path} does not exist", where="--mapping",
                               hint="give the path of a YAML mapping file")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"mapping file {path} is not valid YAML: "
                               f"{str(exc).splitlines()[0]}", where=str(path),
                               hint="fix the file (see README, 'Importing data')") from exc
    if not isinstance(raw, dict):
        raise InvalidInput("the mapping must be a YAML mapping of keys", where=origin,
                           hint=f"known keys: {', '.join(sorted(KNOWN_KEYS))}")
    unknown = set(raw) - KNOWN_KEYS
    if unknown:
        raise InvalidInput(f"unknown mapping key(s) {', '.join(sorted(unknown))}", where=origin,
                           hint=f"known keys: {', '.join(sorted(KNOWN_KEYS))}")
    for key in ("fields", "constants", "columns", "cad_layers", "texts", "raster"):
        if key in raw and not isinstance(raw[key] or {}, dict):
            raise InvalidInput(f"mapping key {key!r} must be a mapping", where=f"{origin}: {key}",
                               hint="write it as KEY: VALUE lines under it")
    mapping = Mapping(
        fields={str(k): (None if v is None else str(v)) for k, v in (raw.get("fields") or {}).items()},
        constants=dict(raw.get("constants") or {}),
        crs=str(raw["crs"]) if raw.get("crs") else None,
        encoding=str(raw["encoding"]) if raw.get("encoding") else None,
        columns={str(k): str(v) for k, v in (raw.get("columns") or {}).items()},
        cad_layers={str(k): str(v) for k, v in (raw.get("cad_layers") or {}).items()},
        code_field=str(raw["code_field"]) if raw.get("code_field") else None,
        texts={str(k): str(v) for k, v in (raw.get("texts") or {}).items()},
        raster=dict(raw.get("raster") or {}),
        source_layer=str(raw["source_layer"]) if raw.get("source_layer") else None,
        derive=_derive(raw.get("derive"), origin),
        admin_units=_admin_units(raw.get("admin_units"), origin),
        origin=origin,
    )
    if layer is not None:
        _check_targets(mapping, layer)
    return mapping


def _derive(raw: Any, origin: str) -> dict[str, str | None]:
    if raw is None:
        return {}
    if isinstance(raw, (list, tuple)):
        raw = {str(name): None for name in raw}
    if not isinstance(raw, dict):
        raise InvalidInput("mapping key 'derive' must be a list of fields or a mapping",
                           where=f"{origin}: derive",
                           hint="e.g. derive: {commune_code: commune_from_location}")
    out: dict[str, str | None] = {}
    for name, how in raw.items():
        if how is not None and str(how) not in DERIVATIONS:
            raise InvalidInput(f"mapping derive.{name}: unknown derivation {how!r}",
                               where=f"{origin}: derive.{name}",
                               hint=f"known derivations: {', '.join(DERIVATIONS)}")
        out[str(name)] = None if how is None else str(how)
    return out


def _admin_units(raw: Any, origin: str) -> tuple[AdminUnitsSpec, ...]:
    if raw is None:
        return ()
    specs = raw if isinstance(raw, list) else [raw]
    out = []
    for i, spec in enumerate(specs):
        where = f"{origin}: admin_units" + (f"[{i}]" if isinstance(raw, list) else "")
        example = "admin_units: {from: MA_XA_CU, as: pre2025}"
        if not isinstance(spec, dict) or not spec.get("from"):
            raise InvalidInput("mapping admin_units needs the source field(s) in 'from'",
                               where=where, hint=f"e.g. {example}")
        unknown = set(spec) - ADMIN_UNIT_KEYS
        if unknown:
            raise InvalidInput(f"unknown admin_units key(s) {', '.join(sorted(unknown))}",
                               where=where, hint=f"known keys: {', '.join(sorted(ADMIN_UNIT_KEYS))}")
        edition = str(spec.get("as") or "pre2025")
        if edition != "pre2025":
            raise InvalidInput(f"admin_units as: {edition!r} is not a known edition",
                               where=where, hint="as: pre2025 (units before 1 July 2025)")
        level = str(spec.get("level") or "auto")
        if level not in ADMIN_UNIT_LEVELS:
            raise InvalidInput(f"admin_units level: {level!r} is not a level", where=where,
                               hint=f"use one of: {', '.join(ADMIN_UNIT_LEVELS)}")
        sources = spec["from"] if isinstance(spec["from"], list) else [spec["from"]]
        targets = {k: (None if spec[k] is None else str(spec[k])) if k in spec else _DEFAULT
                   for k in ("commune", "province")}
        out.append(AdminUnitsSpec(tuple(str(s) for s in sources), edition, level,
                                  targets["commune"], targets["province"]))
    return tuple(out)


def _check_targets(mapping: Mapping, layer: LayerDef) -> None:
    names = set(layer.field_names)
    targets = [("fields", s, t) for s, t in mapping.fields.items() if t not in (None, "extra")]
    targets += [("constants", t, t) for t in mapping.constants]
    targets += [("texts", s, t) for s, t in mapping.texts.items()]
    targets += [("derive", t, t) for t in mapping.derive]
    for spec in mapping.admin_units:
        targets += [("admin_units", spec.label, t) for t in spec.targets(layer)]
    if mapping.code_field:
        targets.append(("code_field", mapping.code_field, mapping.code_field))
    for key, source, target in targets:
        if target not in names:
            raise InvalidInput(f"mapping {key}.{source} names {target!r}, which is not a field "
                               f"of {layer.id}", where=f"{mapping.origin}: {key}.{source}",
                               hint=f"fields of {layer.id}: {', '.join(layer.field_names)}")
    for spec in mapping.admin_units:
        if not spec.targets(layer):
            raise InvalidInput(f"mapping admin_units.{spec.label}: {layer.id} has no commune or "
                               "province field to fill", where=f"{mapping.origin}: admin_units",
                               hint="name the field with commune: FIELD or province: FIELD")
    explicit = {t: f"fields.{s}" for s, t in mapping.fields.items() if t not in (None, "extra")}
    explicit.update({t: f"constants.{t}" for t in mapping.constants})
    filled = [(t, f"admin_units.{spec.label}") for spec in mapping.admin_units
              for t in spec.targets(layer)] + [(t, f"derive.{t}") for t in mapping.derive]
    for target, by in filled:
        if target in explicit:
            raise InvalidInput(f"mapping {by} and {explicit[target]} both fill {target!r}",
                               where=f"{mapping.origin}: {by}", hint="keep one of them")
        explicit[target] = by
    for name, how in mapping.derive.items():
        _check_derivation(layer, name, how or layer.field(name).derive,
                          f"{mapping.origin}: derive.{name}")


def _check_derivation(layer: LayerDef, name: str, how: str | None, where: str) -> None:
    field_def = layer.field(name)
    if how is None:
        raise InvalidInput(f"{layer.id} declares no derivation for {name!r}", where=where,
                           hint=f"name one: derive: {{{name}: DERIVATION}} "
                                f"({', '.join(DERIVATIONS)})")
    problem = None
    if field_def.type != "text":
        problem = f"{how} fills text fields and {name!r} is {field_def.type}"
    elif how in LOCATION_DERIVATIONS and not layer.is_spatial:
        problem = f"{how} needs a location and {layer.id} has no geometry"
    elif how in KEY_DERIVATIONS and name not in layer.key:
        problem = f"{how} generates keys and {name!r} is not part of {layer.id}'s key"
    elif how == "key_hash" and not layer.is_spatial:
        problem = f"key_hash hashes the geometry and {layer.id} has none"
    if problem:
        raise InvalidInput(f"mapping derive.{name}: {problem}", where=where,
                           hint=f"known derivations: {', '.join(DERIVATIONS)}")


@dataclass
class FieldPlan:
    """For one source: the source column of each registry field, constants, extras."""

    sources: dict[str, str]  # registry field -> source column
    constants: dict[str, Any]
    extras: list[str]  # source columns kept in `extra`
    # registry field -> derivation, run in SQL on the staging table (importers/derive.py)
    derived: dict[str, str] = field(default_factory=dict)
    # registry field -> (admin_units spec, "commune" | "province"), filled per batch
    converted: dict[str, tuple[AdminUnitsSpec, str]] = field(default_factory=dict)


def plan(source_fields: list[str], layer: LayerDef, mapping: Mapping,
         reserved: set[str] = frozenset()) -> FieldPlan:  # type: ignore[assignment]
    registry = set(layer.field_names)
    sources: dict[str, str] = {}
    dropped: set[str] = set()
    for src in source_fields:
        if src in mapping.fields:
            target = mapping.fields[src]
            if target is None:
                dropped.add(src)
            elif target != "extra":
                sources[target] = src
    for src in source_fields:
        if src in mapping.fields or src in reserved:
            continue
        guess = normalise_name(src)
        if guess not in registry and len(guess) == DBF_NAME_LENGTH:
            # a DBF cuts names to 10 characters: commune_co is commune_code
            longer = [f for f in layer.field_names if f.startswith(guess)]
            guess = longer[0] if len(longer) == 1 else guess
        if guess in registry and guess not in sources:
            sources[guess] = src
    converted = {target: (spec, level) for spec in mapping.admin_units
                 for target, level in spec.targets(layer).items()}
    derived = {name: how or layer.field(name).derive for name, how in mapping.derive.items()}
    for name in [*converted, *derived]:
        sources.pop(name, None)  # a column only named like the field: asked to fill it otherwise
    for f in layer.fields:
        if f.derive and f.name not in sources and f.name not in mapping.constants \
                and f.name not in converted and f.name not in derived:
            derived[f.name] = f.derive
    used = set(sources.values()) | dropped | set(reserved)
    extras = [s for s in source_fields if s not in used]
    missing = [s for s in mapping.fields if s not in source_fields]
    missing += [s for spec in mapping.admin_units for s in spec.sources
                if s not in source_fields]
    if missing:
        raise InvalidInput(f"the mapping names source field(s) {', '.join(missing)} that the "
                           "file does not have", where=mapping.origin,
                           hint=f"the file's fields: {', '.join(source_fields[:30])}")
    return FieldPlan(sources, dict(mapping.constants), extras,
                     {k: str(v) for k, v in derived.items()}, converted)
