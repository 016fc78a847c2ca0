"""Base map: the real main roads, rivers and reservoirs of Đồng Nai (traced approximately from
well-known waypoints), synthetic local roads, streams and ponds, and named places."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.ops import nearest_points

from iocgis.demo import reference
from iocgis.demo.context import DemoContext
from iocgis.demo.geo import blob, lineal_part, lonlat_to_metric, polygonal_part, wander
from iocgis.demo.names import STREETS
from iocgis.demo.table import FeatureTable


def _line(points: list[tuple[float, float]]) -> shapely.LineString:
    lon, lat = np.array(points).T
    x, y = lonlat_to_metric(lon, lat)
    return shapely.LineString(np.column_stack([x, y]))


# (id, name, kind, width m, waypoints lon/lat from upstream to downstream)
RIVERS = [
    (
        "SONG-DONGNAI",
        "Sông Đồng Nai",
        "song",
        350.0,
        [
            (107.56, 11.62),
            (107.47, 11.45),
            (107.39, 11.37),
            (107.29, 11.31),
            (107.18, 11.25),
            (107.10, 11.19),
            (107.03, 11.12),
            (106.97, 11.09),
            (106.90, 11.05),
            (106.86, 11.00),
            (106.835, 10.955),
            (106.83, 10.925),
            (106.86, 10.89),
            (106.875, 10.86),
            (106.85, 10.80),
            (106.82, 10.75),
            (106.78, 10.70),
        ],
    ),
    (
        "SONG-BE",
        "Sông Bé",
        "song",
        120.0,
        [
            (107.20, 12.20),
            (107.12, 12.05),
            (107.06, 11.93),
            (107.03, 11.86),
            (106.98, 11.78),
            (106.94, 11.66),
            (106.90, 11.58),
            (106.83, 11.45),
            (106.78, 11.33),
            (106.80, 11.20),
            (106.86, 11.08),
            (106.90, 11.05),
        ],
    ),
    (
        "SONG-LANGA",
        "Sông La Ngà",
        "song",
        90.0,
        [
            (107.60, 11.20),
            (107.50, 11.18),
            (107.40, 11.17),
            (107.33, 11.15),
            (107.25, 11.14),
            (107.18, 11.14),
        ],
    ),
    (
        "SONG-THIVAI",
        "Sông Thị Vải",
        "song",
        400.0,
        [(107.03, 10.78), (107.02, 10.72), (107.00, 10.66), (106.99, 10.60)],
    ),
    (
        "SONG-BUONG",
        "Sông Buông",
        "song",
        40.0,
        [(107.06, 10.90), (107.00, 10.86), (106.94, 10.85), (106.88, 10.84)],
    ),
    (
        "SONG-RAY",
        "Sông Ray",
        "song",
        50.0,
        [(107.38, 10.92), (107.36, 10.82), (107.34, 10.72), (107.33, 10.62)],
    ),
    ("SUOI-LINH", "Suối Linh", "suoi", 12.0, [(106.88, 10.99), (106.86, 10.97), (106.845, 10.955)]),
    ("SUOI-CAI", "Suối Cái", "suoi", 10.0, [(106.95, 11.01), (106.93, 10.98), (106.90, 10.96)]),
    (
        "KENH-PHUOCTHAI",
        "Kênh Phước Thái",
        "kenh",
        15.0,
        [(107.08, 10.70), (107.05, 10.68), (107.02, 10.67)],
    ),
]

# (id, name, kind, capacity million m³, lobe radius m, path lon/lat)
LAKES = [
    (
        "HO-TRIAN",
        "Hồ Trị An",
        "ho_chua",
        2765.0,
        4200.0,
        [(107.04, 11.12), (107.09, 11.16), (107.14, 11.19), (107.20, 11.21), (107.26, 11.25)],
    ),
    (
        "HO-THACMO",
        "Hồ Thác Mơ",
        "ho_chua",
        1360.0,
        2600.0,
        [(107.02, 11.85), (107.05, 11.90), (107.09, 11.95), (107.12, 12.00)],
    ),
    ("HO-SONGMAY", "Hồ Sông Mây", "ho_chua", 12.5, 700.0, [(107.02, 10.99), (107.04, 11.01)]),
    ("HO-CAUMOI", "Hồ Cầu Mới", "ho_chua", 41.0, 900.0, [(107.12, 10.80), (107.15, 10.82)]),
    ("HO-DATON", "Hồ Đa Tôn", "ho_chua", 21.0, 800.0, [(107.47, 11.28), (107.49, 11.30)]),
    ("HO-SUOIGIAI", "Hồ Suối Giai", "ho_chua", 28.0, 900.0, [(106.95, 11.43), (106.97, 11.45)]),
    ("HO-SUOILAM", "Hồ Suối Lam", "ho_chua", 3.5, 400.0, [(106.94, 11.88), (106.95, 11.89)]),
    ("HO-BIENHUNG", "Hồ Biên Hùng", "ho", 0.1, 90.0, [(106.8190, 10.9480), (106.8200, 10.9485)]),
]

# (ref, name, class, lanes, surface, waypoints)
MAIN_ROADS = [
    (
        "CT.01",
        "Cao tốc Thành phố Hồ Chí Minh - Long Thành - Dầu Giây",
        "cao_toc",
        8,
        [
            (106.78, 10.80),
            (106.86, 10.79),
            (106.94, 10.79),
            (107.02, 10.84),
            (107.09, 10.89),
            (107.14, 10.925),
        ],
    ),
    (
        "CT.01",
        "Cao tốc Dầu Giây - Phan Thiết",
        "cao_toc",
        4,
        [(107.14, 10.925), (107.26, 10.89), (107.40, 10.87), (107.50, 10.89), (107.60, 10.93)],
    ),
    (
        "CT.29",
        "Cao tốc Biên Hòa - Vũng Tàu",
        "cao_toc",
        6,
        [(106.87, 10.93), (106.92, 10.86), (106.96, 10.78), (107.01, 10.68), (107.04, 10.58)],
    ),
    (
        "QL1A",
        "Quốc lộ 1A",
        "quoc_lo",
        6,
        [
            (106.79, 10.896),
            (106.842, 10.935),
            (106.88, 10.955),
            (106.925, 10.97),
            (107.005, 10.953),
            (107.08, 10.942),
            (107.14, 10.935),
            (107.245, 10.925),
            (107.33, 10.925),
            (107.40, 10.93),
            (107.48, 10.95),
            (107.56, 10.985),
        ],
    ),
    ("QL1K", "Quốc lộ 1K", "quoc_lo", 4, [(106.76, 10.90), (106.80, 10.925), (106.835, 10.94)]),
    (
        "QL20",
        "Quốc lộ 20",
        "quoc_lo",
        4,
        [
            (107.14, 10.935),
            (107.16, 11.01),
            (107.165, 11.03),
            (107.26, 11.12),
            (107.355, 11.195),
            (107.43, 11.27),
            (107.48, 11.33),
            (107.53, 11.40),
        ],
    ),
    (
        "QL51",
        "Quốc lộ 51",
        "quoc_lo",
        6,
        [
            (106.86, 10.918),
            (106.90, 10.88),
            (106.95, 10.79),
            (106.99, 10.72),
            (107.03, 10.64),
            (107.05, 10.59),
        ],
    ),
    (
        "QL56",
        "Quốc lộ 56",
        "quoc_lo",
        2,
        [(107.245, 10.925), (107.26, 10.85), (107.25, 10.75), (107.24, 10.66)],
    ),
    (
        "QL13",
        "Quốc lộ 13",
        "quoc_lo",
        4,
        [
            (106.64, 11.30),
            (106.646, 11.42),
            (106.63, 11.50),
            (106.60, 11.65),
            (106.59, 11.84),
            (106.55, 11.93),
            (106.52, 11.99),
        ],
    ),
    (
        "QL14",
        "Quốc lộ 14",
        "quoc_lo",
        4,
        [
            (106.646, 11.42),
            (106.75, 11.48),
            (106.88, 11.535),
            (107.02, 11.64),
            (107.12, 11.72),
            (107.25, 11.82),
            (107.40, 11.93),
            (107.47, 11.99),
        ],
    ),
    (
        "ĐT.768",
        "Đường tỉnh 768",
        "tinh_lo",
        2,
        [(106.83, 10.96), (106.87, 11.00), (106.92, 11.04), (106.98, 11.08), (107.02, 11.10)],
    ),
    ("ĐT.767", "Đường tỉnh 767", "tinh_lo", 2, [(106.98, 11.08), (107.00, 11.02), (107.00, 10.96)]),
    (
        "ĐT.769",
        "Đường tỉnh 769",
        "tinh_lo",
        2,
        [(106.95, 10.79), (107.05, 10.87), (107.10, 10.93), (107.15, 10.99)],
    ),
    (
        "ĐT.763",
        "Đường tỉnh 763",
        "tinh_lo",
        2,
        [(107.355, 11.195), (107.33, 11.10), (107.30, 11.03), (107.39, 10.93)],
    ),
    (
        "ĐT.25B",
        "Đường tỉnh 25B",
        "tinh_lo",
        4,
        [(106.80, 10.76), (106.86, 10.74), (106.95, 10.73), (107.02, 10.74)],
    ),
    (
        "ĐT.741",
        "Đường tỉnh 741",
        "tinh_lo",
        4,
        [
            (106.72, 11.28),
            (106.80, 11.40),
            (106.88, 11.535),
            (106.92, 11.68),
            (107.02, 11.82),
            (107.10, 11.98),
            (107.17, 12.13),
        ],
    ),
    (
        "ĐT.753",
        "Đường tỉnh 753",
        "tinh_lo",
        2,
        [(106.88, 11.535), (106.95, 11.48), (107.00, 11.43), (107.02, 11.30)],
    ),
    ("ĐT.759", "Đường tỉnh 759", "tinh_lo", 2, [(107.02, 11.82), (106.94, 11.90), (106.80, 11.96)]),
]
SURFACES = {
    "cao_toc": "bê tông nhựa",
    "quoc_lo": "bê tông nhựa",
    "tinh_lo": "bê tông nhựa",
    "do_thi": "bê tông nhựa",
    "xa": "láng nhựa",
    "khac": "cấp phối sỏi đỏ",
}

LANDMARKS = [
    ("Khu du lịch Bửu Long", 106.800, 10.962),
    ("Văn miếu Trấn Biên", 106.806, 10.951),
    ("Cù lao Phố", 106.838, 10.935),
    ("Vườn quốc gia Cát Tiên", 107.42, 11.43),
    ("Thác Giang Điền", 107.010, 10.906),
    ("Núi Chứa Chan", 107.378, 10.880),
    ("Cảng hàng không quốc tế Long Thành", 107.040, 10.770),
    ("Núi Bà Rá", 106.985, 11.835),
    ("Nhà máy thủy điện Trị An", 107.030, 11.105),
    ("Sóc Bom Bo", 107.150, 11.870),
    ("Căn cứ Tà Thiết", 106.560, 11.960),
    ("Khu công nghiệp Biên Hòa 1", 106.855, 10.920),
]


@dataclass(frozen=True)
class Hydrography:
    """Rivers (lines) and water bodies (polygons), metric, with their attributes."""

    rivers: list[dict]
    lakes: list[dict]

    @property
    def water_union(self) -> shapely.Geometry:
        return shapely.union_all([lake["geom"] for lake in self.lakes])

    def river(self, river_id: str) -> dict:
        return next(r for r in self.rivers if r["id"] == river_id)


@dataclass(frozen=True)
class RoadNetwork:
    roads: list[dict]

    def of_class(self, *classes: str) -> list[dict]:
        return [r for r in self.roads if r["road_class"] in classes]


def build_hydrography(ctx: DemoContext) -> Hydrography:
    rng = ctx.rng("base.hydrography")
    outline = ctx.outline
    rivers = []
    for rid, name, kind, width, pts in RIVERS:
        geom = lineal_part(shapely.intersection(_line(pts), outline))
        if not geom.is_empty:
            rivers.append({"id": rid, "name": name, "kind": kind, "width_m": width, "geom": geom})
    # Streams: meandering lines from random points, named after their commune.
    comm = ctx.communes
    for k in range(40):
        i = int(rng.integers(0, len(comm)))
        start = comm.anchors[i] + rng.normal(0, 2500, 2)
        geom = lineal_part(
            shapely.intersection(
                wander(rng, tuple(start), rng.uniform(0, 2 * np.pi), rng.uniform(3000, 14000)),
                outline,
            )
        )
        if geom.is_empty:
            continue
        rivers.append(
            {
                "id": f"SUOI-{k + 1:03d}",
                "name": f"Suối {comm.short_name(i)} {k % 3 + 1}",
                "kind": "suoi",
                "width_m": float(np.round(rng.uniform(3, 15), 1)),
                "geom": geom,
            }
        )
    lakes = []
    for lid, name, kind, capacity, radius, path in LAKES:
        geom = polygonal_part(shapely.intersection(blob(rng, _line(path), radius), outline))
        if not geom.is_empty:
            lakes.append(
                {"id": lid, "name": name, "kind": kind, "capacity_mcm": capacity, "geom": geom}
            )
    # The Đồng Nai river downstream of Biên Hòa as a water area.
    lower = _line(RIVERS[0][4][9:])
    lakes.append(
        {
            "id": "SONG-DONGNAI-HADU",
            "name": "Sông Đồng Nai (hạ du)",
            "kind": "song",
            "capacity_mcm": None,
            "geom": polygonal_part(shapely.intersection(lower.buffer(170, quad_segs=4), outline)),
        }
    )
    return Hydrography(rivers=rivers, lakes=lakes)


def build_roads(ctx: DemoContext) -> RoadNetwork:
    rng = ctx.rng("base.roads")
    outline = ctx.outline
    roads: list[dict] = []
    for k, (ref, name, cls, lanes, pts) in enumerate(MAIN_ROADS):
        geom = lineal_part(shapely.intersection(_line(pts), outline))
        if geom.is_empty:
            continue
        roads.append(
            {
                "road_id": f"75-{ref.replace('.', '').replace('Đ', 'D')}-{k + 1:02d}",
                "name": name,
                "ref": ref,
                "road_class": cls,
                "lanes": lanes,
                "surface": SURFACES[cls],
                "geom": geom,
            }
        )
    trunk = shapely.union_all([r["geom"] for r in roads])
    comm = ctx.communes
    for i in range(len(comm)):
        anchor = shapely.Point(comm.anchors[i])
        cls = "do_thi" if comm.urban[i] else "xa"
        # A road from the commune centre to the nearest main road.
        near = nearest_points(trunk, anchor)[0]
        if near.distance(anchor) > 300:
            geom = lineal_part(shapely.intersection(shapely.LineString([anchor, near]), outline))
            if not geom.is_empty:
                roads.append(_local_road(rng, comm, i, len(roads), cls, geom))
        # Local streets: a rotated grid in wards, a few lanes in communes.
        n_streets = int(rng.integers(6, 12)) if comm.urban[i] else int(rng.integers(2, 5))
        for _s in range(n_streets):
            heading = rng.uniform(0, np.pi)
            start = comm.anchors[i] + rng.normal(0, 900 if comm.urban[i] else 2500, 2)
            line = wander(rng, tuple(start), heading, rng.uniform(800, 3500), step=200, turn=0.08)
            geom = lineal_part(shapely.intersection(line, comm.polygons[i]))
            if not geom.is_empty and geom.length > 100:
                roads.append(_local_road(rng, comm, i, len(roads), cls, geom))
    return RoadNetwork(roads=roads)


def _local_road(
    rng: np.random.Generator,
    comm,
    i: int,
    k: int,
    cls: str,  # noqa: ANN001
    geom: shapely.Geometry,
) -> dict:
    street = str(STREETS[int(rng.integers(0, len(STREETS)))])
    name = (
        f"Đường {street}" if cls == "do_thi" else f"Đường liên ấp {comm.short_name(i)} {k % 9 + 1}"
    )
    return {
        "road_id": f"75-{comm.codes[i]}-{k + 1:04d}",
        "name": name,
        "ref": None,
        "road_class": cls,
        "lanes": 4 if cls == "do_thi" and rng.random() < 0.3 else 2,
        "surface": SURFACES[cls] if rng.random() < 0.85 else "bê tông xi măng",
        "geom": geom,
    }


def _rows(items: list[dict], fields: list[str]) -> dict[str, np.ndarray]:
    return {f: np.array([it.get(f) for it in items], dtype=object) for f in fields}


def produce_roads(ctx: DemoContext) -> FeatureTable:
    roads = ctx.roads.roads
    cols = _rows(roads, ["road_id", "name", "ref", "road_class", "surface"])
    cols["lanes"] = np.array([r["lanes"] for r in roads], dtype=np.int64)
    return ctx.table("base.roads", cols, [r["geom"] for r in roads])


def produce_waterways(ctx: DemoContext) -> FeatureTable:
    rivers = ctx.hydro.rivers
    cols = _rows(rivers, ["name", "kind"])
    cols["waterway_id"] = np.array([r["id"] for r in rivers], dtype=object)
    cols["width_m"] = np.array([r["width_m"] for r in rivers], float)
    return ctx.table("base.waterways", cols, [r["geom"] for r in rivers])


def produce_water_areas(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("base.water_areas")
    lakes = list(ctx.hydro.lakes)
    # Farm ponds in rural communes.
    comm = ctx.communes
    rural = np.flatnonzero(~comm.urban)
    counts = np.bincount(rural[rng.integers(0, len(rural), ctx.scale.ponds)], minlength=len(comm))
    xy, idx = ctx.points_in_communes(rng, counts)
    for k, ((x, y), i) in enumerate(zip(xy, idx)):
        w, h = rng.uniform(15, 70, 2)
        pond = shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
        if ctx.land.contains(pond):
            lakes.append(
                {
                    "id": f"AO-{comm.codes[i]}-{k + 1:05d}",
                    "name": None,
                    "kind": "ao",
                    "capacity_mcm": round(w * h * 2.0 / 1e6, 4),
                    "geom": pond,
                }
            )
    cols = _rows(lakes, ["name", "kind"])
    cols["water_id"] = np.array([lk["id"] for lk in lakes], dtype=object)
    cols["capacity_mcm"] = np.array(
        [np.nan if lk["capacity_mcm"] is None else lk["capacity_mcm"] for lk in lakes], float
    )
    return ctx.table("base.water_areas", cols, [lk["geom"] for lk in lakes])


def produce_places(ctx: DemoContext) -> FeatureTable:
    comm = ctx.communes
    rows: list[dict] = []
    centre = comm.index(reference.ADMIN_CENTRE_CODE)
    for i in range(len(comm)):
        rows.append(
            {
                "place_id": f"XA-{comm.codes[i]}",
                "name": str(comm.names[i]),
                "kind": "tinh_ly" if i == centre else "trung_tam_xa",
                "population": int(comm.population[i]),
                "xy": comm.anchors[i],
            }
        )
    for place in reference.places():
        x, y = lonlat_to_metric(np.array([place.lon]), np.array([place.lat]))
        rows.append(
            {
                "place_id": f"GN-{place.geonameid}",
                "name": place.name,
                "kind": "khu_dan_cu",
                "population": place.population or None,
                "xy": (x[0], y[0]),
            }
        )
    for k, (name, lon, lat) in enumerate(LANDMARKS):
        x, y = lonlat_to_metric(np.array([lon]), np.array([lat]))
        rows.append(
            {
                "place_id": f"DD-{k + 1:03d}",
                "name": name,
                "kind": "dia_danh",
                "population": None,
                "xy": (x[0], y[0]),
            }
        )
    rows = [r for r in rows if ctx.outline.contains(shapely.Point(r["xy"]))]
    cols = _rows(rows, ["place_id", "name", "kind"])
    cols["population"] = np.array([r["population"] for r in rows], dtype=object)
    return ctx.table("base.places", cols, shapely.points(np.array([r["xy"] for r in rows])))
