"""Urban technical infrastructure: power, schools, health, water supply, drainage, greenery and
public stations, placed by commune population and along the road network."""

from __future__ import annotations

import numpy as np
import shapely

from iocgis.demo.context import DemoContext
from iocgis.demo.generators.base import _line
from iocgis.demo.geo import lineal_part, lonlat_to_metric, wander
from iocgis.demo.table import FeatureTable

OPERATOR_POWER = ("Công ty Điện lực Đồng Nai", "Công ty Điện lực Bình Phước")
OPERATOR_TRANSMISSION = "Công ty Truyền tải điện 4"
OPERATOR_WATER = ("Công ty CP Cấp nước Đồng Nai", "Công ty CP Cấp thoát nước Bình Phước")
# (name, kV, operator, waypoints)
TRANSMISSION = [
    (
        "Đường dây 500 kV Phú Mỹ - Sông Mây",
        500,
        [(107.05, 10.60), (107.04, 10.80), (107.03, 10.99)],
    ),
    (
        "Đường dây 500 kV Sông Mây - Tân Định",
        500,
        [(107.03, 10.99), (106.90, 11.03), (106.72, 11.06)],
    ),
    (
        "Đường dây 500 kV Sông Mây - Tân Uyên",
        500,
        [(107.03, 10.99), (106.93, 11.06), (106.80, 11.12)],
    ),
    (
        "Đường dây 500 kV Chơn Thành - Đắk Nông",
        500,
        [(106.65, 11.43), (106.90, 11.55), (107.20, 11.78), (107.45, 11.95)],
    ),
    (
        "Đường dây 220 kV Trị An - Long Bình",
        220,
        [(107.03, 11.10), (106.96, 11.00), (106.90, 10.93)],
    ),
    (
        "Đường dây 220 kV Long Bình - Long Thành",
        220,
        [(106.90, 10.93), (106.94, 10.86), (106.97, 10.79)],
    ),
    (
        "Đường dây 220 kV Long Thành - Nhơn Trạch",
        220,
        [(106.97, 10.79), (106.92, 10.75), (106.87, 10.72)],
    ),
    (
        "Đường dây 220 kV Trị An - Xuân Lộc",
        220,
        [(107.03, 11.10), (107.15, 11.00), (107.28, 10.95), (107.40, 10.93)],
    ),
    (
        "Đường dây 220 kV Thác Mơ - Đồng Xoài",
        220,
        [(107.02, 11.84), (106.95, 11.68), (106.88, 11.53)],
    ),
    (
        "Đường dây 220 kV Đồng Xoài - Chơn Thành",
        220,
        [(106.88, 11.53), (106.76, 11.47), (106.65, 11.43)],
    ),
    (
        "Đường dây 220 kV Bình Long - Lộc Ninh",
        220,
        [(106.60, 11.64), (106.60, 11.75), (106.59, 11.84)],
    ),
]
# (name, kV, MVA, lon, lat)
MAIN_SUBSTATIONS = [
    ("Trạm biến áp 500 kV Sông Mây", 500, 1800, 107.03, 10.99),
    ("Trạm biến áp 500 kV Chơn Thành", 500, 1800, 106.65, 11.43),
    ("Trạm biến áp 220 kV Long Bình", 220, 750, 106.90, 10.93),
    ("Trạm biến áp 220 kV Long Thành", 220, 500, 106.97, 10.79),
    ("Trạm biến áp 220 kV Nhơn Trạch", 220, 500, 106.87, 10.72),
    ("Trạm biến áp 220 kV Xuân Lộc", 220, 375, 107.40, 10.93),
    ("Trạm biến áp 220 kV Trị An", 220, 250, 107.03, 11.10),
    ("Trạm biến áp 220 kV Đồng Xoài", 220, 500, 106.88, 11.53),
    ("Trạm biến áp 220 kV Bình Long", 220, 250, 106.60, 11.64),
    ("Trạm biến áp 220 kV Thác Mơ", 220, 250, 107.02, 11.84),
]
HOSPITALS = [
    ("Bệnh viện Đa khoa Đồng Nai", "26041", 1400, 320),
    ("Bệnh viện Đa khoa Thống Nhất", "26017", 1000, 210),
    ("Bệnh viện Nhi đồng Đồng Nai", "26041", 800, 150),
    ("Bệnh viện Đa khoa tỉnh Bình Phước", "25210", 800, 160),
    ("Bệnh viện Đa khoa khu vực Long Khánh", "26080", 600, 110),
    ("Bệnh viện Đa khoa khu vực Long Thành", "26368", 400, 80),
    ("Bệnh viện Đa khoa khu vực Định Quán", "26206", 300, 55),
    ("Bệnh viện Phổi Đồng Nai", "26041", 300, 45),
    ("Bệnh viện Da liễu Đồng Nai", "26017", 120, 25),
]
UNIVERSITIES = [
    ("Trường Đại học Đồng Nai", "dai_hoc", "26041"),
    ("Trường Đại học Lạc Hồng", "dai_hoc", "26020"),
    ("Trường Đại học Công nghệ Đồng Nai", "dai_hoc", "25993"),
    ("Trường Cao đẳng Kỹ thuật Đồng Nai", "nghe", "26041"),
    ("Trường Cao đẳng Bình Phước", "nghe", "25210"),
]
BUS_TERMINALS = [
    ("Bến xe Biên Hòa", 106.840, 10.955),
    ("Bến xe Đồng Nai", 106.890, 10.945),
    ("Bến xe Long Khánh", 107.245, 10.930),
    ("Bến xe Xuân Lộc", 107.400, 10.932),
    ("Bến xe Đồng Xoài", 106.885, 11.535),
    ("Bến xe Phước Long", 107.010, 11.820),
    ("Bến xe Bình Long", 106.600, 11.650),
    ("Bến xe Tân Phú", 107.430, 11.270),
]
RAIL_STATIONS = [
    ("Ga Biên Hòa", 106.828, 10.953),
    ("Ga Hố Nai", 106.905, 10.968),
    ("Ga Trảng Bom", 107.003, 10.948),
    ("Ga Dầu Giây", 107.140, 10.938),
    ("Ga Long Khánh", 107.240, 10.930),
    ("Ga Gia Ray", 107.400, 10.925),
]
PIERS = [
    ("Bến đò Cù lao Phố", 106.836, 10.946),
    ("Bến phà Cát Lái", 106.795, 10.772),
    ("Bến tàu Nhơn Trạch", 106.850, 10.740),
]
TREE_SPECIES = {
    "Dầu rái": 14,
    "Sao đen": 14,
    "Bằng lăng": 12,
    "Lim xẹt": 8,
    "Me tây": 6,
    "Phượng vĩ": 8,
    "Sò đo cam": 6,
    "Muồng hoàng yến": 8,
    "Long não": 6,
    "Xà cừ": 8,
    "Giáng hương": 5,
    "Osaka": 5,
}
PARK_NAMES = [
    "Công viên Biên Hùng",
    "Công viên Nguyễn Văn Trị",
    "Công viên Long Bình",
    "Quảng trường tỉnh Đồng Nai",
    "Công viên Hồ Suối Cam",
    "Công viên Đồng Xoài",
    "Công viên Long Khánh",
    "Công viên 30 Tháng 4",
]


PIPE_MATERIALS = np.array(["HDPE", "gang dẻo", "uPVC", "thép"], dtype=object)


def _pt(lon: float, lat: float) -> tuple[float, float]:
    x, y = lonlat_to_metric(np.array([lon]), np.array([lat]))
    return float(x[0]), float(y[0])


def _inside_rows(ctx: DemoContext, rows: list[dict]) -> list[dict]:
    return [r for r in rows if ctx.outline.contains(shapely.Point(r["xy"]))]


def produce_substations(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("infra.substations")
    rows = [
        {"name": n, "voltage_kv": kv, "capacity_mva": mva, "xy": _pt(lon, lat)}
        for n, kv, mva, lon, lat in MAIN_SUBSTATIONS
    ]
    comm = ctx.communes
    busiest = np.argsort(-comm.population, kind="stable")[:40]
    for i in busiest:
        xy = comm.anchors[i] + rng.normal(0, 800, 2)
        rows.append(
            {
                "name": f"Trạm biến áp 110 kV {comm.short_name(int(i))}",
                "voltage_kv": 110,
                "capacity_mva": float(rng.choice([40, 63, 2 * 40, 2 * 63])),
                "xy": tuple(xy),
            }
        )
    rows = [r for r in _inside_rows(ctx, rows)]
    ctx.extras["substations"] = rows
    return ctx.table(
        "infra.substations",
        {
            "substation_id": np.array([f"TBA-{k + 1:03d}" for k in range(len(rows))], dtype=object),
            "name": np.array([r["name"] for r in rows], dtype=object),
            "voltage_kv": np.array([r["voltage_kv"] for r in rows], float),
            "capacity_mva": np.array([r["capacity_mva"] for r in rows], float),
        },
        shapely.points(np.array([r["xy"] for r in rows])),
    )


def produce_power_lines(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("infra.power_lines")
    rows = []
    for name, kv, pts in TRANSMISSION:
        geom = lineal_part(shapely.intersection(_line(pts), ctx.outline))
        if not geom.is_empty:
            rows.append(
                {"name": name, "voltage_kv": kv, "operator": OPERATOR_TRANSMISSION, "geom": geom}
            )
    if "substations" not in ctx.extras:
        produce_substations(ctx)
    subs = ctx.extras["substations"]
    big = [s for s in subs if s["voltage_kv"] >= 220]
    big_xy = np.array([s["xy"] for s in big])
    for s in subs:
        if s["voltage_kv"] != 110:
            continue
        k = int(np.argmin(np.hypot(*(big_xy - np.array(s["xy"])).T)))
        geom = lineal_part(
            shapely.intersection(shapely.LineString([big[k]["xy"], s["xy"]]), ctx.outline)
        )
        if not geom.is_empty and geom.length > 50:
            rows.append(
                {
                    "name": f"Đường dây 110 kV {big[k]['name'].split(' kV ')[-1]} - "
                    f"{s['name'].split(' kV ')[-1]}",
                    "voltage_kv": 110,
                    "operator": OPERATOR_POWER[0],
                    "geom": geom,
                }
            )
    comm = ctx.communes
    for i in np.flatnonzero(comm.urban):
        for k in range(int(rng.integers(4, 9))):
            line = wander(
                rng,
                tuple(comm.anchors[i] + rng.normal(0, 700, 2)),
                rng.uniform(0, 2 * np.pi),
                rng.uniform(600, 2500),
                step=150,
                turn=0.05,
            )
            geom = lineal_part(shapely.intersection(line, comm.polygons[i]))
            if not geom.is_empty:
                rows.append(
                    {
                        "name": f"Tuyến 22 kV {comm.short_name(int(i))} {k + 1}",
                        "voltage_kv": 22,
                        "operator": OPERATOR_POWER[int(comm.codes[i] < "25500")],
                        "geom": geom,
                    }
                )
    return ctx.table(
        "infra.power_lines",
        {
            "line_id": np.array([f"DZ-{k + 1:04d}" for k in range(len(rows))], dtype=object),
            "name": np.array([r["name"] for r in rows], dtype=object),
            "voltage_kv": np.array([r["voltage_kv"] for r in rows], float),
            "operator": np.array([r["operator"] for r in rows], dtype=object),
        },
        [r["geom"] for r in rows],
    )


SCHOOL_LEVELS = {
    "mam_non": ("Trường Mầm non", 1 / 8000, (120, 600), 18),
    "tieu_hoc": ("Trường Tiểu học", 1 / 9000, (350, 1800), 22),
    "thcs": ("Trường THCS", 1 / 14000, (450, 1900), 24),
    "thpt": ("Trường THPT", 1 / 30000, (800, 2400), 25),
    "lien_cap": ("Trường Liên cấp", 1 / 90000, (400, 1500), 20),
}
HONOREES = [
    "Nguyễn Du",
    "Lê Quý Đôn",
    "Trần Phú",
    "Võ Thị Sáu",
    "Lý Tự Trọng",
    "Chu Văn An",
    "Nguyễn Khuyến",
    "Huỳnh Văn Nghệ",
    "Ngô Quyền",
    "Trần Quốc Toản",
    "Kim Đồng",
    "Lương Thế Vinh",
    "Nguyễn Bỉnh Khiêm",
    "Tô Vĩnh Diện",
    "Đinh Tiên Hoàng",
    "Hoa Sen",
    "Họa Mi",
    "Sơn Ca",
    "Tuổi Thơ",
    "Bình Minh",
]


def schools(ctx: DemoContext) -> list[dict]:
    """Schools per commune by population (shared with the shelters)."""
    if "schools" in ctx.extras:
        return ctx.extras["schools"]
    rng = ctx.rng("infra.schools")
    comm = ctx.communes
    rows: list[dict] = []
    for i in range(len(comm)):
        short = comm.short_name(i)
        for level, (prefix, per_person, pupils, ratio) in SCHOOL_LEVELS.items():
            k = int(rng.poisson(comm.population[i] * per_person)) + (
                1 if level != "thpt" and level != "lien_cap" else 0
            )
            for s in range(k):
                honoree = HONOREES[int(rng.integers(0, len(HONOREES)))]
                name = f"{prefix} {short}" if s == 0 else f"{prefix} {honoree}"
                n_pupils = int(rng.integers(*pupils))
                rooms = max(int(n_pupils / rng.uniform(30, 40)), 4)
                rows.append(
                    {
                        "name": name,
                        "level": level,
                        "i": i,
                        "pupils": n_pupils,
                        "teachers": max(int(n_pupils / ratio), 5),
                        "classrooms": rooms,
                        "is_public": bool(level != "lien_cap" and rng.random() < 0.93),
                        "shelter_capacity": rooms * 25 if level in ("thcs", "thpt") else 0,
                    }
                )
    for name, level, code in UNIVERSITIES:
        i = comm.index(code)
        n_pupils = int(rng.integers(3000, 15000))
        rows.append(
            {
                "name": name,
                "level": level,
                "i": i,
                "pupils": n_pupils,
                "teachers": n_pupils // 30,
                "classrooms": n_pupils // 45,
                "is_public": "Lạc Hồng" not in name and "Công nghệ" not in name,
                "shelter_capacity": 0,
            }
        )
    counts = np.bincount([r["i"] for r in rows], minlength=len(comm))
    xy, idx = ctx.points_in_communes(rng, counts)
    order = np.argsort([r["i"] for r in rows], kind="stable")
    rows = [rows[k] for k in order]
    seen: dict[str, int] = {}
    for r, p in zip(rows, xy):
        r["xy"] = tuple(p)
        r["code"] = str(comm.codes[r["i"]])
        n = seen.get(r["name"] + r["code"], 0)
        seen[r["name"] + r["code"]] = n + 1
        if n:  # two schools honouring the same person in one commune
            r["name"] = f"{r['name']} (cơ sở {n + 1})"
    for k, r in enumerate(rows):
        r["school_id"] = f"TH-{r['code']}-{k + 1:04d}"
    ctx.extras["schools"] = rows
    return rows


def produce_schools(ctx: DemoContext) -> FeatureTable:
    rows = schools(ctx)
    cols = {f: np.array([r[f] for r in rows], dtype=object) for f in ("school_id", "name", "level")}
    cols["commune_code"] = np.array([r["code"] for r in rows], dtype=object)
    for f in ("pupils", "teachers", "classrooms", "shelter_capacity"):
        cols[f] = np.array([r[f] for r in rows], dtype=np.int64)
    cols["is_public"] = np.array([r["is_public"] for r in rows], dtype=bool)
    return ctx.table("infra.schools", cols, shapely.points(np.array([r["xy"] for r in rows])))


def produce_health_facilities(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("infra.health_facilities")
    comm = ctx.communes
    rows: list[dict] = []
    for i in range(len(comm)):
        rows.append(
            {
                "name": f"Trạm Y tế {comm.names[i]}",
                "kind": "tram_y_te",
                "i": i,
                "beds": int(rng.integers(3, 11)),
                "doctors": int(rng.integers(1, 4)),
            }
        )
        if comm.population[i] > 60_000 or (not comm.urban[i] and comm.area_km2[i] > 250):
            rows.append(
                {
                    "name": f"Trung tâm Y tế khu vực {comm.short_name(i)}",
                    "kind": "trung_tam_y_te",
                    "i": i,
                    "beds": int(rng.integers(80, 300)),
                    "doctors": int(rng.integers(15, 60)),
                }
            )
        clinics = int(rng.poisson(4 if comm.urban[i] else 1))
        for k in range(clinics):
            rows.append(
                {
                    "name": f"Phòng khám đa khoa {comm.short_name(i)} {k + 1}",
                    "kind": "phong_kham",
                    "i": i,
                    "beds": int(rng.integers(0, 20)),
                    "doctors": int(rng.integers(2, 12)),
                }
            )
    for name, code, beds, doctors in HOSPITALS:
        rows.append(
            {
                "name": name,
                "kind": "benh_vien",
                "i": comm.index(code),
                "beds": beds,
                "doctors": doctors,
            }
        )
    rows.sort(key=lambda r: r["i"])
    counts = np.bincount([r["i"] for r in rows], minlength=len(comm))
    xy, _ = ctx.points_in_communes(rng, counts)
    return ctx.table(
        "infra.health_facilities",
        {
            "facility_id": np.array(
                [f"YT-{comm.codes[r['i']]}-{k + 1:04d}" for k, r in enumerate(rows)], dtype=object
            ),
            "name": np.array([r["name"] for r in rows], dtype=object),
            "kind": np.array([r["kind"] for r in rows], dtype=object),
            "commune_code": np.array([comm.codes[r["i"]] for r in rows], dtype=object),
            "beds": np.array([r["beds"] for r in rows], dtype=np.int64),
            "doctors": np.array([r["doctors"] for r in rows], dtype=np.int64),
        },
        shapely.points(xy),
    )


def _ward_network(
    ctx: DemoContext, purpose: str, per_ward: tuple[int, int]
) -> list[tuple[int, shapely.Geometry]]:
    """Short networks in every ward: (commune index, line) pairs."""
    rng = ctx.rng(purpose)
    comm = ctx.communes
    out = []
    for i in np.flatnonzero(comm.urban):
        for _ in range(int(rng.integers(*per_ward))):
            line = wander(
                rng,
                tuple(comm.anchors[i] + rng.normal(0, 900, 2)),
                rng.uniform(0, 2 * np.pi),
                rng.uniform(300, 1800),
                step=120,
                turn=0.06,
            )
            geom = lineal_part(shapely.intersection(line, ctx.land))
            geom = lineal_part(shapely.intersection(geom, comm.polygons[i]))
            if not geom.is_empty and geom.length > 60:
                out.append((int(i), geom))
    return out


def produce_water_pipes(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("infra.water_pipes.attrs")
    lines = _ward_network(ctx, "infra.water_pipes", (10, 25))
    trunk = lineal_part(
        shapely.intersection(
            _line([(106.90, 11.04), (106.87, 10.99), (106.85, 10.95), (106.87, 10.92)]), ctx.outline
        )
    )
    n = len(lines)
    diameters = rng.choice([100, 150, 200, 300, 400, 600], n, p=[0.3, 0.25, 0.2, 0.13, 0.08, 0.04])
    comm = ctx.communes
    geoms = [g for _, g in lines] + [trunk]
    return ctx.table(
        "infra.water_pipes",
        {
            "pipe_id": np.array(
                [f"ONG-{comm.codes[i]}-{k + 1:04d}" for k, (i, _) in enumerate(lines)]
                + ["ONG-TRUNK-THIENTAN"],
                dtype=object,
            ),
            "diameter_mm": np.r_[diameters, 1500].astype(np.int64),
            "material": np.concatenate(
                [
                    PIPE_MATERIALS[rng.integers(0, len(PIPE_MATERIALS), n)],
                    np.array(["thép"], dtype=object),
                ]
            ),
            "operator": np.array(
                [OPERATOR_WATER[int(comm.codes[i] < "25500")] for i, _ in lines]
                + [OPERATOR_WATER[0]],
                dtype=object,
            ),
            "year_built": np.r_[rng.integers(1995, 2025, n), 2014].astype(np.int64),
        },
        geoms,
    )


def produce_drainage_lines(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("infra.drainage_lines.attrs")
    lines = _ward_network(ctx, "infra.drainage_lines", (8, 20))
    ctx.extras["drainage_lines"] = lines
    n = len(lines)
    kind = ctx.pick(
        rng, "infra.drainage_lines", "kind", {"cong_tron": 55, "cong_hop": 25, "muong_ho": 20}, n
    )
    size = np.where(
        kind == "cong_tron",
        rng.choice([400, 600, 800, 1000, 1200], n),
        rng.choice([1000, 1200, 1600, 2000], n),
    )
    comm = ctx.communes
    return ctx.table(
        "infra.drainage_lines",
        {
            "drain_id": np.array(
                [f"TN-{comm.codes[i]}-{k + 1:04d}" for k, (i, _) in enumerate(lines)], dtype=object
            ),
            "kind": kind,
            "diameter_mm": size.astype(np.int64),
        },
        [g for _, g in lines],
    )


def produce_drainage_outlets(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("infra.drainage_outlets")
    if "drainage_lines" not in ctx.extras:
        produce_drainage_lines(ctx)
    rivers = [r for r in ctx.hydro.rivers if r["kind"] in ("song", "suoi", "kenh")]
    river_geoms = np.array([r["geom"] for r in rivers], dtype=object)
    rows = []
    for k, (i, line) in enumerate(ctx.extras["drainage_lines"]):
        end = shapely.get_coordinates(line)[-1]
        dist = shapely.distance(river_geoms, shapely.Point(end))
        j = int(np.argmin(dist))
        rows.append(
            {
                "id": f"CX-{ctx.communes.codes[i]}-{k + 1:04d}",
                "xy": end,
                "receiving": rivers[j]["name"] if dist[j] < 4000 else "Mương thoát nước chung",
                "gate": bool(rng.random() < (0.6 if dist[j] < 1500 else 0.2)),
            }
        )
    return ctx.table(
        "infra.drainage_outlets",
        {
            "outlet_id": np.array([r["id"] for r in rows], dtype=object),
            "receiving_water": np.array([r["receiving"] for r in rows], dtype=object),
            "has_gate": np.array([r["gate"] for r in rows], dtype=bool),
        },
        shapely.points(np.array([r["xy"] for r in rows])),
    )


def produce_trees(ctx: DemoContext) -> FeatureTable:
    """Street trees every few metres along urban roads, offset to the kerb."""
    rng = ctx.rng("infra.trees")
    roads = ctx.roads.of_class("do_thi", "quoc_lo", "tinh_lo")
    urban_area = shapely.union_all(ctx.communes.polygons[ctx.communes.urban])
    lines = [lineal_part(shapely.intersection(r["geom"], urban_area)) for r in roads]
    lines = np.array([g for g in lines if not g.is_empty], dtype=object)
    lengths = shapely.length(lines)
    n = ctx.scale.trees
    which = rng.choice(len(lines), n, p=lengths / lengths.sum())
    at = rng.uniform(0, 1, n) * lengths[which]
    base = shapely.line_interpolate_point(lines[which], at)
    ahead = shapely.line_interpolate_point(lines[which], np.minimum(at + 1.0, lengths[which]))
    b, a = shapely.get_coordinates(base), shapely.get_coordinates(ahead)
    direction = a - b
    norm = np.hypot(direction[:, 0], direction[:, 1])
    norm[norm == 0] = 1.0
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0) * rng.uniform(6, 12, n)
    xy = b + np.column_stack([-direction[:, 1], direction[:, 0]]) / norm[:, None] * side[:, None]
    keep = shapely.contains_xy(ctx.land, xy[:, 0], xy[:, 1])
    xy = xy[keep]
    m = len(xy)
    species = np.array(list(TREE_SPECIES), dtype=object)
    p = np.array(list(TREE_SPECIES.values()), float)
    planted = np.clip(np.round(2025 - rng.gamma(2.0, 7.0, m)), 1950, 2025).astype(np.int64)
    height = np.round(np.clip(2.5 + (2025 - planted) * rng.uniform(0.35, 0.6, m), 2, 40), 1)
    return ctx.table(
        "infra.trees",
        {
            "tree_id": np.array([f"CX-{k + 1:07d}" for k in range(m)], dtype=object),
            "species": species[rng.choice(len(species), m, p=p / p.sum())],
            "height_m": height,
            "planted_year": planted,
        },
        shapely.points(xy),
    )


def produce_green_areas(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("infra.green_areas")
    comm = ctx.communes
    rows = []
    names = iter(PARK_NAMES)
    for i in np.flatnonzero(comm.urban):
        for k in range(int(rng.integers(2, 6))):
            c = comm.anchors[i] + rng.normal(0, 900, 2)
            kind = ctx.pick(
                rng,
                "infra.green_areas",
                "kind",
                {"cong_vien": 45, "vuon_hoa": 35, "dai_xanh": 20},
                1,
            )[0]
            if kind == "dai_xanh":
                geom = shapely.LineString([c, c + rng.normal(0, 400, 2)]).buffer(
                    8, cap_style="flat"
                )
            else:
                w, h = rng.uniform(40, 260, 2)
                geom = shapely.box(c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2)
            geom = shapely.intersection(geom, shapely.intersection(comm.polygons[i], ctx.land))
            if (
                geom.is_empty
                or geom.area < 200
                or geom.geom_type not in ("Polygon", "MultiPolygon")
            ):
                continue
            name = next(names, None) if kind == "cong_vien" else None
            if name is None:
                name = {
                    "cong_vien": "Công viên",
                    "vuon_hoa": "Vườn hoa",
                    "dai_xanh": "Dải cây xanh",
                }.get(str(kind), "Mảng xanh") + f" {comm.short_name(int(i))} {k + 1}"
            rows.append(
                {
                    "id": f"XANH-{comm.codes[i]}-{k + 1:02d}",
                    "name": name,
                    "kind": kind,
                    "geom": geom,
                }
            )
    return ctx.table(
        "infra.green_areas",
        {
            "green_id": np.array([r["id"] for r in rows], dtype=object),
            "name": np.array([r["name"] for r in rows], dtype=object),
            "kind": np.array([r["kind"] for r in rows], dtype=object),
        },
        [r["geom"] for r in rows],
    )


def produce_public_stations(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("infra.public_stations")
    rows = [{"name": n, "kind": "ben_xe", "xy": _pt(lon, lat)} for n, lon, lat in BUS_TERMINALS]
    rows += [{"name": n, "kind": "ga", "xy": _pt(lon, lat)} for n, lon, lat in RAIL_STATIONS]
    rows += [{"name": n, "kind": "ben_tau", "xy": _pt(lon, lat)} for n, lon, lat in PIERS]
    # Bus stops every ~1.2 km along the national and provincial roads.
    for road in ctx.roads.of_class("quoc_lo", "tinh_lo"):
        line = road["geom"]
        for d in np.arange(600, line.length, 1200):
            p = shapely.get_coordinates(shapely.line_interpolate_point(line, d))[0]
            rows.append(
                {
                    "name": f"Trạm xe buýt {road['ref']} km {d / 1000:.1f}".replace(".", ",", 1)
                    .replace("ĐT,", "ĐT.")
                    .replace("CT,", "CT."),
                    "kind": "tram_xe_buyt",
                    "xy": tuple(p + rng.normal(0, 8, 2)),
                }
            )
    comm = ctx.communes
    for i in np.flatnonzero(comm.urban):
        for k in range(int(rng.integers(1, 4))):
            rows.append(
                {
                    "name": f"Trạm sạc xe điện {comm.short_name(int(i))} {k + 1}",
                    "kind": "tram_sac",
                    "xy": tuple(comm.anchors[i] + rng.normal(0, 700, 2)),
                }
            )
    rows = [r for r in rows if ctx.land.contains(shapely.Point(r["xy"]))]
    return ctx.table(
        "infra.public_stations",
        {
            "station_id": np.array([f"TRAM-{k + 1:05d}" for k in range(len(rows))], dtype=object),
            "name": np.array([r["name"] for r in rows], dtype=object),
            "kind": _known_kinds(ctx, rows),
        },
        shapely.points(np.array([r["xy"] for r in rows])),
    )


def _known_kinds(ctx: DemoContext, rows: list[dict]) -> np.ndarray:
    allowed = set(ctx.codes("infra.public_stations", "kind"))
    fallback = sorted(allowed)[0] if allowed else None
    return np.array([r["kind"] if r["kind"] in allowed else fallback for r in rows], dtype=object)
