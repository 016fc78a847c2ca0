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
```

Source fields not mapped and not named like a registry field go to the ``extra`` JSONB column.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from iocgis.errors import InvalidInput
from iocgis.layers import LayerDef

DBF_NAME_LENGTH = 10
KNOWN_KEYS = {"fields", "constants", "crs", "encoding", "columns", "cad_layers", "code_field",
              "texts", "raster", "source_layer"}


def normalise_name(name: str) -> str:
    """'Mã xã' -> 'ma_xa', 'SO_TO' -> 'so_to': how source names are matched to fields."""
    text = unicodedata.normalize("NFD", str(name)).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


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
        origin=origin,
    )
    if layer is not None:
        _check_targets(mapping, layer)
    return mapping


def _check_targets(mapping: Mapping, layer: LayerDef) -> None:
    names = set(layer.field_names)
    targets = [("fields", s, t) for s, t in mapping.fields.items() if t not in (None, "extra")]
    targets += [("constants", t, t) for t in mapping.constants]
    targets += [("texts", s, t) for s, t in mapping.texts.items()]
    if mapping.code_field:
        targets.append(("code_field", mapping.code_field, mapping.code_field))
    for key, source, target in targets:
        if target not in names:
            raise InvalidInput(f"mapping {key}.{source} names {target!r}, which is not a field "
                               f"of {layer.id}", where=f"{mapping.origin}: {key}.{source}",
                               hint=f"fields of {layer.id}: {', '.join(layer.field_names)}")


@dataclass
class FieldPlan:
    """For one source: the source column of each registry field, constants, extras."""

    sources: dict[str, str]  # registry field -> source column
    constants: dict[str, Any]
    extras: list[str]  # source columns kept in `extra`


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
    used = set(sources.values()) | dropped | set(reserved)
    extras = [s for s in source_fields if s not in used]
    missing = [s for s in mapping.fields if s not in source_fields]
    if missing:
        raise InvalidInput(f"the mapping names source field(s) {', '.join(missing)} that the "
                           "file does not have", where=mapping.origin,
                           hint=f"the file's fields: {', '.join(source_fields[:30])}")
    return FieldPlan(sources, dict(mapping.constants), extras)
