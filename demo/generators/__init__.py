"""Demo generators, one per registry layer (or per group of layers made together).

``PRODUCERS`` maps layer ids to how their rows are made; a registry layer missing here gets
``generic.produce_generic``. Each producer yields chunks: ``{layer_id: FeatureTable}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from iocgis.demo.context import DemoContext
from iocgis.demo.generators import (
    admin,
    base,
    citizen,
    emergency,
    generic,
    infra,
    iot,
    kpi,
    land,
    planning,
)
from iocgis.demo.table import FeatureTable

Chunks = Iterator[dict[str, FeatureTable]]


@dataclass(frozen=True)
class Producer:
    """Makes one or more layers together (parcels and the houses standing on them)."""

    layers: tuple[str, ...]
    make: Callable[[DemoContext], Chunks]

    @property
    def label(self) -> str:
        return " + ".join(self.layers)


def _single(layer_id: str, fn: Callable[[DemoContext], FeatureTable]) -> Producer:
    def make(ctx: DemoContext) -> Chunks:
        yield {layer_id: fn(ctx)}

    return Producer((layer_id,), make)


PRODUCERS: tuple[Producer, ...] = (
    _single("admin.provinces", admin.produce_provinces),
    _single("admin.communes", admin.produce_communes),
    _single("base.roads", base.produce_roads),
    _single("base.waterways", base.produce_waterways),
    _single("base.water_areas", base.produce_water_areas),
    _single("base.places", base.produce_places),
    Producer(("land.parcels", "housing.houses"), land.produce_parcels_and_houses),
    _single("infra.power_lines", infra.produce_power_lines),
    _single("infra.substations", infra.produce_substations),
    _single("infra.schools", infra.produce_schools),
    _single("infra.health_facilities", infra.produce_health_facilities),
    _single("infra.water_pipes", infra.produce_water_pipes),
    _single("infra.drainage_lines", infra.produce_drainage_lines),
    _single("infra.drainage_outlets", infra.produce_drainage_outlets),
    _single("infra.trees", infra.produce_trees),
    _single("infra.green_areas", infra.produce_green_areas),
    _single("infra.public_stations", infra.produce_public_stations),
    _single("planning.projects", planning.produce_projects),
    _single("planning.zones", planning.produce_zones),
    _single("iot.stations", iot.produce_stations),
    _single("iot.observations", iot.produce_observations),
    _single("emergency.incidents", emergency.produce_incidents),
    _single("emergency.flood_zones", emergency.produce_flood_zones),
    _single("emergency.shelters", emergency.produce_shelters),
    _single("citizen.reports", citizen.produce_reports),
    _single("kpi.indicators", kpi.produce_indicators),
    _single("kpi.values", kpi.produce_values),
)


def producers_for(layer_ids: tuple[str, ...]) -> list[Producer]:
    """The producers of the registry's layers, in registry order; generic ones for the rest.

    A producer making a layer the registry no longer has keeps only the layers it still has."""
    wanted = set(layer_ids)
    chosen: list[Producer] = []
    covered: set[str] = set()
    by_first: dict[str, Producer] = {}
    for producer in PRODUCERS:
        kept = tuple(lid for lid in producer.layers if lid in wanted)
        if kept:
            by_first[kept[0]] = Producer(kept, producer.make)
    for lid in layer_ids:
        if lid in covered:
            continue
        producer = by_first.get(lid) or _single(
            lid, lambda ctx, _lid=lid: generic.produce_generic(ctx, _lid)
        )
        chosen.append(producer)
        covered.update(producer.layers)
    return chosen
