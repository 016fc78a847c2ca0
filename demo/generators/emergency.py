"""Emergency response: incidents, flood zones along the rivers, evacuation shelters."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.ops import substring

from iocgis.demo.context import DemoContext
from iocgis.demo.generators.infra import schools
from iocgis.demo.geo import polygonal_part
from iocgis.demo.table import FeatureTable, timestamps

INCIDENT_KINDS = {
    "tai_nan": 35,
    "chay": 20,
    "lu_lut": 9,
    "xa_lu": 1,
    "cuu_nan": 8,
    "dich_benh": 10,
    "moi_truong": 17,
}
TITLES = {
    "tai_nan": [
        "Va chạm giữa xe tải và xe máy",
        "Tai nạn liên hoàn",
        "Xe khách lật",
        "Va chạm xe máy",
    ],
    "chay": ["Cháy xưởng gỗ", "Cháy nhà dân", "Cháy kho hàng", "Cháy rừng trồng", "Cháy xe ô tô"],
    "lu_lut": ["Ngập sâu sau mưa lớn", "Nước sông dâng gây ngập", "Sạt lở bờ sông"],
    "xa_lu": ["Thông báo xả lũ hồ Trị An", "Thông báo xả lũ hồ Thác Mơ"],
    "cuu_nan": ["Cứu hộ người đuối nước", "Cứu nạn người mắc kẹt", "Tìm kiếm người mất tích"],
    "dich_benh": ["Ổ dịch sốt xuất huyết", "Ca bệnh tay chân miệng", "Dịch tả lợn châu Phi"],
    "moi_truong": [
        "Cá chết hàng loạt",
        "Xả thải trái phép ra suối",
        "Khói bụi từ nhà máy",
        "Đổ trộm chất thải rắn",
    ],
}
# (scenario, buffer m around the river, return period years, max depth m)
FLOOD_SCENARIOS = [
    ("bao_dong_2", 250.0, 5, 0.8),
    ("bao_dong_3", 600.0, 10, 1.5),
    ("lich_su_1999", 1200.0, 100, 3.2),
    ("xa_lu_tri_an", 900.0, 20, 2.4),
]
FLOOD_RIVERS = ("SONG-DONGNAI", "SONG-LANGA", "SONG-BE", "SONG-BUONG")


def produce_incidents(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("emergency.incidents")
    comm = ctx.communes
    n = ctx.scale.incidents
    weights = comm.population / comm.population.sum()
    counts = np.bincount(rng.choice(len(comm), n, p=weights), minlength=len(comm))
    xy, idx = ctx.points_in_communes(rng, counts)
    n = len(xy)
    kind = ctx.pick(rng, "emergency.incidents", "kind", INCIDENT_KINDS, n)
    # Reservoir discharges happen at the dams.
    dams = [r for r in ctx.hydro.lakes if r["id"] in ("HO-TRIAN", "HO-THACMO")]
    for k in np.flatnonzero(kind == "xa_lu"):
        lake = dams[int(rng.integers(0, len(dams)))]["geom"] if dams else None
        if lake is not None:
            p = shapely.get_coordinates(shapely.point_on_surface(lake))[0]
            xy[k] = p
            idx[k] = max(int(comm.locate(p[:1], p[1:])[0]), 0)
    age_s = rng.exponential(20 * 86400, n).clip(0, 180 * 86400).astype(np.int64)
    recent = age_s < 2 * 86400
    status = np.where(
        recent,
        ctx.pick(
            rng, "emergency.incidents", "status", {"moi": 40, "dang_xu_ly": 50, "da_xu_ly": 10}, n
        ),
        ctx.pick(
            rng, "emergency.incidents", "status", {"dang_xu_ly": 5, "da_xu_ly": 35, "dong": 60}, n
        ),
    )
    titles = np.array(
        [f"{_title(rng, str(k))} tại {comm.names[i]}" for k, i in zip(kind, idx)], dtype=object
    )
    severity = np.clip(rng.poisson(1.3, n) + 1, 1, 5).astype(np.int64)
    casualties = np.where(
        np.isin(kind, ["tai_nan", "chay", "cuu_nan"]), rng.poisson(0.4 * severity), 0
    ).astype(np.int64)
    order = np.argsort(-age_s, kind="stable")  # oldest first, codes in time order
    phones = ctx.names.phones(rng, n)
    return ctx.table(
        "emergency.incidents",
        {
            "incident_code": np.array([f"SC-{k + 1:06d}" for k in range(n)], dtype=object),
            "kind": kind[order],
            "title": titles[order],
            "status": status[order],
            "severity": severity[order],
            "reported_at": timestamps(age_s[order]),
            "commune_code": comm.codes[idx][order],
            "casualties": casualties[order],
            "reporter_phone": phones,
        },
        shapely.points(xy[order]),
    )


def _title(rng: np.random.Generator, kind: str) -> str:
    options = TITLES.get(kind, ["Sự cố"])
    return options[int(rng.integers(0, len(options)))]


def produce_flood_zones(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("emergency.flood_zones")
    comm = ctx.communes
    rivers = [r for r in ctx.hydro.rivers if r["id"] in FLOOD_RIVERS]
    allowed = set(ctx.codes("emergency.flood_zones", "scenario"))
    rows = []
    for scenario, width, period, depth in FLOOD_SCENARIOS:
        if scenario not in allowed:
            continue
        if scenario == "xa_lu_tri_an":  # downstream of the dam only
            river = ctx.hydro.river("SONG-DONGNAI")["geom"]
            dam = shapely.Point(
                shapely.get_coordinates(
                    next(r for r in ctx.hydro.lakes if r["id"] == "HO-TRIAN")["geom"].centroid
                )
            )
            cut = shapely.line_locate_point(river, dam)
            lines = [
                substring(river, cut, river.length) if river.geom_type == "LineString" else river
            ]
        else:
            lines = [r["geom"] for r in rivers]
        band = shapely.union_all(
            [line.buffer(width * rng.uniform(0.8, 1.2), quad_segs=4) for line in lines]
        )
        band = shapely.difference(band, ctx.hydro.water_union)
        pieces = shapely.intersection(comm.polygons, band)
        for i, piece in enumerate(pieces):
            piece = polygonal_part(piece)
            if piece.is_empty or piece.area < 5000:
                continue
            rows.append(
                {
                    "zone_code": f"NGAP-{scenario.upper()}-{comm.codes[i]}",
                    "scenario": scenario,
                    "return_period_years": period,
                    "max_depth_m": float(np.round(depth * rng.uniform(0.6, 1.1), 1)),
                    "geom": piece,
                }
            )
    return ctx.table(
        "emergency.flood_zones",
        {
            "zone_code": np.array([r["zone_code"] for r in rows], dtype=object),
            "scenario": np.array([r["scenario"] for r in rows], dtype=object),
            "return_period_years": np.array(
                [r["return_period_years"] for r in rows], dtype=np.int64
            ),
            "max_depth_m": np.array([r["max_depth_m"] for r in rows], float),
        },
        [r["geom"] for r in rows],
    )


def produce_shelters(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("emergency.shelters")
    comm = ctx.communes
    rows = [
        {
            "name": f"Điểm sơ tán {s['name']}",
            "capacity": s["shelter_capacity"],
            "xy": s["xy"],
            "code": s["code"],
        }
        for s in schools(ctx)
        if s["shelter_capacity"] > 0
    ]
    for i in range(len(comm)):
        xy = comm.anchors[i] + rng.normal(0, 200, 2)
        if ctx.land.contains(shapely.Point(xy)):
            rows.append(
                {
                    "name": f"Nhà văn hóa {comm.names[i]}",
                    "capacity": int(rng.integers(100, 400)),
                    "xy": tuple(xy),
                    "code": str(comm.codes[i]),
                }
            )
    return ctx.table(
        "emergency.shelters",
        {
            "shelter_id": np.array([f"SOTAN-{k + 1:04d}" for k in range(len(rows))], dtype=object),
            "name": np.array([r["name"] for r in rows], dtype=object),
            "capacity_people": np.array([r["capacity"] for r in rows], dtype=np.int64),
            "commune_code": np.array([r["code"] for r in rows], dtype=object),
        },
        shapely.points(np.array([r["xy"] for r in rows])),
    )
