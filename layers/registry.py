"""Load the layer registry from ``layers/*.yaml`` once, validate it, and answer questions about it.

A wrong file fails at start-up with the file, the key and the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from iocgis.errors import ConfigError, NotFound
from iocgis.layers.model import Code, FieldDef, GroupDef, LayerDef
from iocgis.yamlfile import invalid, read_definitions

REGISTRY_DIR = Path(__file__).resolve().parent
CODELISTS_FILE = "codelists.yaml"


class Registry:
    """Every layer the platform knows, by id (``group.name``), in file order."""

    def __init__(self, groups: Iterable[GroupDef], codelists: dict[str, tuple[Code, ...]]) -> None:
        self.groups: tuple[GroupDef, ...] = tuple(groups)
        self.codelists = codelists
        self._layers: dict[str, LayerDef] = {}
        for group in self.groups:
            for layer in group.layers:
                self._layers[layer.id] = layer

    def reading_kept(self, tables: Mapping[str, tuple[str, str]]) -> Registry:
        """The same registry with some layers read from kept tables of older data versions
        (layer id -> schema, table): a report regenerated at the versions it recorded."""
        copy = Registry(self.groups, self.codelists)
        for layer_id, (schema, table) in tables.items():
            copy._layers[layer_id] = self.get(layer_id).kept_in(schema, table)
        return copy

    def __iter__(self) -> Iterator[LayerDef]:
        return iter(self._layers.values())

    def __len__(self) -> int:
        return len(self._layers)

    def __contains__(self, layer_id: object) -> bool:
        return layer_id in self._layers

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._layers)

    def get(self, layer_id: str) -> LayerDef:
        try:
            return self._layers[layer_id]
        except KeyError:
            raise NotFound(f"unknown layer {layer_id!r}", where="layer",
                           hint="list the layers with `iocgis layers`") from None

    def group(self, name: str) -> GroupDef:
        for group in self.groups:
            if group.group == name:
                return group
        raise NotFound(f"unknown layer group {name!r}", where="group",
                       hint="list the layers with `iocgis layers`")

    def spatial(self) -> tuple[LayerDef, ...]:
        return tuple(layer for layer in self if layer.is_spatial)

    def admin_layer(self, level: str) -> LayerDef:
        for layer in self:
            if layer.admin_level == level:
                return layer
        raise ConfigError(f"no layer declares admin_level {level!r}", where=str(REGISTRY_DIR))

    def domain_codes(self, field: FieldDef) -> tuple[str, ...] | None:
        """The allowed codes of a field, resolving named code lists."""
        domain = self.resolve_domain(field)
        return None if domain is None else tuple(c.code for c in domain)

    def resolve_domain(self, field: FieldDef) -> tuple[Code, ...] | None:
        if field.domain is None:
            return None
        if isinstance(field.domain, str):
            return self.codelists[field.domain]
        return field.domain

    @property
    def schemas(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(layer.schema_name for layer in self))


def _fail(path: Path, exc: ValidationError | Exception,
          layer_names: list[str] | None = None) -> ConfigError:
    if isinstance(exc, ValidationError):  # name the layer, not its position
        return invalid(exc, "layer registry", str(path), dict(enumerate(layer_names or [])))
    return ConfigError(f"invalid layer registry: {exc}", where=str(path),
                       hint="fix the file and restart")


def _group_from(path: Path, raw: Any, codelists: dict[str, tuple[Code, ...]]) -> GroupDef:
    if not isinstance(raw, dict) or "group" not in raw or "layers" not in raw:
        raise _fail(path, ValueError("expected a mapping with keys 'group', 'title' and 'layers'"))
    group = raw["group"]
    layers = []
    for name, body in (raw.get("layers") or {}).items():
        if not isinstance(body, dict):
            raise _fail(path, ValueError(f"layer {name!r} must be a mapping"))
        fields = body.get("fields") or {}
        if isinstance(fields, dict):  # the YAML spells fields as a mapping name -> definition
            fields = [{"name": fname, **(fbody or {})} for fname, fbody in fields.items()]
        for f in fields:
            domain = f.get("domain")
            if isinstance(domain, str) and domain not in codelists:
                raise _fail(path, ValueError(
                    f"layers.{name}.fields.{f.get('name')}.domain: unknown code list {domain!r} "
                    f"(known: {', '.join(sorted(codelists))})"))
        layers.append({**body, "group": group, "name": name, "fields": fields})
    try:
        return GroupDef.model_validate({**{k: v for k, v in raw.items() if k != "layers"},
                                        "layers": layers})
    except ValidationError as exc:
        raise _fail(path, exc, [layer["name"] for layer in layers]) from exc


def load_registry(directory: Path = REGISTRY_DIR) -> Registry:
    """Read every group file in ``directory``; raise ``ConfigError`` naming file and key."""
    codelists_path = directory / CODELISTS_FILE
    codelists: dict[str, tuple[Code, ...]] = {}
    if codelists_path.exists():
        raw = read_definitions(codelists_path, "layer registry") or {}
        try:
            codelists = {name: tuple(Code.model_validate(c) for c in codes)
                         for name, codes in raw.items()}
        except ValidationError as exc:
            raise _fail(codelists_path, exc) from exc
    groups = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == CODELISTS_FILE:
            continue
        group = _group_from(path, read_definitions(path, "layer registry"), codelists)
        if group.group in seen:
            raise _fail(path, ValueError(f"group {group.group!r} is also defined in {seen[group.group]}"))
        seen[group.group] = path
        groups.append(group)
    if not groups:
        raise ConfigError("the layer registry is empty", where=str(directory),
                          hint="add one YAML file per layer group")
    groups.sort(key=lambda g: (g.order, g.group))
    return Registry(groups, codelists)


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The registry, loaded once per process."""
    return load_registry()
