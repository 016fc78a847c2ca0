"""Loading the report definitions (``reports/definitions/*.yaml``) once, checked against the
registry, the indicator sectors and the map themes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from iocgis.errors import ConfigError, NotFound
from iocgis.layers import Registry, get_registry
from iocgis.reports.model import (
    ChartSection,
    Definition,
    IndicatorAlertsSection,
    IndicatorsSection,
    MapSection,
    TotalsSection,
)
from iocgis.yamlfile import read_definitions, validated

FOLDER = Path(__file__).resolve().parent / "definitions"


def _check(definition: Definition, registry: Registry, where: str) -> None:
    from iocgis.styles.definitions import get_themes

    themes = set(get_themes().themes)
    sectors = registry.domain_codes(registry.get("kpi.indicators").field("sector")) or ()
    seen: set[str] = set()
    for i, section in enumerate(definition.sections):
        key = f"{where}: sections.{i} ({section.id})"
        if section.id in seen:
            raise ConfigError(f"section id {section.id!r} is used twice", where=key,
                              hint="give every section its own id")
        if isinstance(section, (IndicatorsSection, IndicatorAlertsSection)) and section.sector \
                and section.sector not in sectors:
            raise ConfigError(f"unknown sector {section.sector!r}", where=key,
                              hint=f"use one of: {', '.join(sectors)}")
        if isinstance(section, TotalsSection):
            for layer_id in section.layers:
                if layer_id not in registry or not registry.get(layer_id).is_spatial:
                    raise ConfigError(f"unknown spatial layer {layer_id!r}", where=key,
                                      hint="name a layer of layers/*.yaml with a geometry")
                layer = registry.get(layer_id)
                if section.group_by and not layer.has_field(section.group_by):
                    raise ConfigError(f"layer {layer_id} has no field {section.group_by!r}",
                                      where=key, hint="group by one of its fields")
        if isinstance(section, ChartSection) and section.of not in seen:
            raise ConfigError(f"chart of {section.of!r}: no earlier section has that id",
                              where=key, hint="a chart draws a table listed before it")
        if isinstance(section, MapSection) and section.theme not in themes:
            raise ConfigError(f"unknown theme {section.theme!r}", where=key,
                              hint=f"use one of: {', '.join(sorted(themes))}")
        seen.add(section.id)
    if definition.kind == "periodic" and definition.periodicity is None:
        raise ConfigError("a periodic report needs its periodicity", where=f"{where}: periodicity",
                          hint="month, quarter, half or year")


def load_definition(path: Path, registry: Registry) -> Definition:
    definition = validated(Definition, read_definitions(path, "report definition"),
                           "report definition", str(path))
    if definition.name != path.stem:
        raise ConfigError(f"the report is named {definition.name!r} in file {path.name}",
                          where=f"{path}: name", hint="name the file after the report")
    _check(definition, registry, str(path))
    return definition


@lru_cache(maxsize=1)
def get_definitions() -> dict[str, Definition]:
    registry = get_registry()
    return {p.stem: load_definition(p, registry) for p in sorted(FOLDER.glob("*.yaml"))}


def definition(name: str) -> Definition:
    found = get_definitions().get(name)
    if found is None:
        raise NotFound(f"unknown report {name[:60]!r}", where="report",
                       hint=f"use one of: {', '.join(get_definitions())}")
    return found
