"""What every demo generator shares: the scale, seeded generators, the province and its communes,
and the features several layers are derived from (rivers, roads, schools)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from iocgis.demo import reference
from iocgis.demo.geo import as_multi, lonlat_to_metric, to_wgs84
from iocgis.demo.names import NAMES, VietnameseNames
from iocgis.demo.scales import Scale
from iocgis.demo.table import FeatureTable
from iocgis.layers import LayerDef, Registry

if TYPE_CHECKING:
    from iocgis.demo.generators.base import Hydrography, RoadNetwork


@dataclass(frozen=True)
class Communes:
    """The 95 communes: official attributes and approximate polygons (metres, UTM 48N)."""

    codes: np.ndarray
    names: np.ndarray
    types: np.ndarray
    area_km2: np.ndarray
    population: np.ndarray
    polygons: np.ndarray
    anchors: np.ndarray  # (n, 2): the official centroid, or a point inside when it falls outside
    tree: shapely.STRtree

    @property
    def urban(self) -> np.ndarray:
        return self.types == "Phường"

    def __len__(self) -> int:
        return len(self.codes)

    def index(self, code: str) -> int:
        hits = np.flatnonzero(self.codes == code)
        if not hits.size:
            raise KeyError(code)
        return int(hits[0])

    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the commune holding each point, -1 outside every commune."""
        points = shapely.points(np.asarray(x, float), np.asarray(y, float))
        found = np.full(len(points), -1, dtype=np.int64)
        pt_idx, poly_idx = self.tree.query(points, predicate="intersects")
        found[pt_idx[::-1]] = poly_idx[::-1]  # the lowest commune index wins on a shared edge
        return found

    def short_name(self, i: int) -> str:
        """'Trấn Biên' for 'Phường Trấn Biên'."""
        name = str(self.names[i])
        for prefix in ("Phường ", "Xã ", "Đặc khu "):
            if name.startswith(prefix):
                return name[len(prefix) :]
        return name


class DemoContext:
    """One build: scale, seed, registry, and lazily built shared geography."""

    def __init__(self, scale: Scale, seed: int, registry: Registry) -> None:
        self.scale = scale
        self.seed = seed
        self.registry = registry
        self.names: VietnameseNames = NAMES
        self.extras: dict[str, Any] = {}  # side products one generator leaves for another

    def rng(self, purpose: str) -> np.random.Generator:
        """A Generator per purpose: a layer's values do not shift when another layer changes."""
        return np.random.default_rng([self.seed, zlib.crc32(purpose.encode("utf-8"))])

    def layer(self, layer_id: str) -> LayerDef:
        return self.registry.get(layer_id)

    def codes(self, layer_id: str, field: str) -> tuple[str, ...]:
        layer = self.layer(layer_id)
        return self.registry.domain_codes(layer.field(field)) or ()

    def pick(
        self, rng: np.random.Generator, layer_id: str, field: str, weights: dict[str, float], n: int
    ) -> np.ndarray:
        """n codes of a domain field, weighted; codes the registry no longer has are skipped."""
        allowed = set(self.codes(layer_id, field))
        items = [(c, w) for c, w in weights.items() if c in allowed] or [(c, 1.0) for c in allowed]
        codes = np.array([c for c, _ in items], dtype=object)
        p = np.array([w for _, w in items], float)
        return codes[rng.choice(len(codes), n, p=p / p.sum())]

    def table(self, layer_id: str, columns: dict[str, Any], geoms_m: Any = None) -> FeatureTable:
        """A table from metric geometries: to EPSG:4326 and to the registry's geometry type."""
        layer = self.layer(layer_id)
        geoms = None
        if layer.is_spatial:
            geoms = to_wgs84(np.asarray(geoms_m, dtype=object))
            if layer.footprint or (
                layer.geometry
                and layer.geometry.startswith("Multi")
                and layer.geometry != "MultiPoint"
            ):  # a layer with footprints: its polygons as MultiPolygons, its points as they are
                geoms = as_multi(geoms)
            elif layer.geometry == "MultiPoint":
                geoms = shapely.multipoints(geoms, indices=np.arange(len(geoms)))
        return FeatureTable(layer_id, columns, geoms)

    @cached_property
    def outline(self) -> shapely.Geometry:
        """The province in metres."""
        geom = reference.outline_metric()
        shapely.prepare(geom)
        return geom

    @cached_property
    def communes(self) -> Communes:
        return _build_communes(self.outline, self.rng("admin.population"))

    @cached_property
    def hydro(self) -> Hydrography:
        from iocgis.demo.generators.base import build_hydrography

        return build_hydrography(self)

    @cached_property
    def roads(self) -> RoadNetwork:
        from iocgis.demo.generators.base import build_roads

        return build_roads(self)

    @cached_property
    def land(self) -> shapely.Geometry:
        """The province without its lakes and wide rivers: where buildings may stand."""
        geom = shapely.difference(self.outline, self.hydro.water_union)
        shapely.prepare(geom)
        return geom

    def commune_land(self, i: int) -> shapely.Geometry:
        return shapely.intersection(self.communes.polygons[i], self.land)

    def points_in_communes(
        self, rng: np.random.Generator, counts: np.ndarray, on_land: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Random points, counts[i] inside commune i; returns (xy, commune index per point)."""
        from iocgis.demo.geo import random_points_in

        xy, idx = [], []
        for i, k in enumerate(counts):
            if k <= 0:
                continue
            area = self.commune_land(i) if on_land else self.communes.polygons[i]
            if area.is_empty:
                area = self.communes.polygons[i]
            pts = random_points_in(rng, area, int(k))
            xy.append(pts)
            idx.append(np.full(len(pts), i))
        if not xy:
            return np.empty((0, 2)), np.empty(0, dtype=np.int64)
        return np.concatenate(xy), np.concatenate(idx)


def _build_communes(outline: shapely.Geometry, rng: np.random.Generator) -> Communes:
    """Voronoi cells of the official centroids, clipped to the outline (approximate polygons)."""
    refs = reference.communes()
    x, y = lonlat_to_metric(np.array([c.lon for c in refs]), np.array([c.lat for c in refs]))
    seeds = shapely.multipoints(np.column_stack([x, y]))
    cells = np.array(
        shapely.voronoi_polygons(seeds, extend_to=outline, ordered=True).geoms, dtype=object
    )
    polygons = shapely.intersection(cells, outline)
    polygons = np.array(
        [shapely.make_valid(p) if not p.is_valid else p for p in polygons], dtype=object
    )
    inside = shapely.contains_xy(polygons, x, y)
    anchors = np.column_stack([x, y])
    for i in np.flatnonzero(~inside):
        anchors[i] = shapely.get_coordinates(shapely.point_on_surface(polygons[i]))[0]
    types = np.array([c.type for c in refs], dtype=object)
    area = np.array([c.area_km2 for c in refs])
    # Synthetic population: wards are denser; the total is the official one.
    density = np.where(
        types == "Phường", rng.uniform(1800, 6000, len(refs)), rng.uniform(150, 700, len(refs))
    )
    raw = density * area
    population = np.floor(raw / raw.sum() * reference.PROVINCE_POPULATION).astype(np.int64)
    population[int(np.argmax(population))] += reference.PROVINCE_POPULATION - population.sum()
    return Communes(
        codes=np.array([c.code for c in refs], dtype=object),
        names=np.array([c.name for c in refs], dtype=object),
        types=types,
        area_km2=area,
        population=population,
        polygons=polygons,
        anchors=anchors,
        tree=shapely.STRtree(polygons),
    )
