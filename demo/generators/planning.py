"""Planning: the provincial plan, urban master plans (on real ward groupings), zoning and
detailed plans with their land-use zones. One detailed plan is also drawn as a CAD file."""

from __future__ import annotations

import numpy as np
import shapely
from shapely import affinity

from iocgis.demo.context import DemoContext
from iocgis.demo.table import FeatureTable, dates

# (code, name, ward codes, approving authority) — groupings of the former towns and city.
MASTER_PLANS = [
    (
        "QHC-BIENHOA",
        "Quy hoạch chung đô thị Biên Hòa đến năm 2045",
        ("25993", "26005", "26017", "26020", "26041", "26068", "26188", "26374", "26377", "26380"),
        "Thủ tướng Chính phủ",
    ),
    (
        "QHC-LONGKHANH",
        "Quy hoạch chung đô thị Long Khánh đến năm 2040",
        ("26080", "26089", "26098", "26104", "26113"),
        "UBND tỉnh Đồng Nai",
    ),
    (
        "QHC-DONGXOAI",
        "Quy hoạch chung đô thị Đồng Xoài đến năm 2040",
        ("25195", "25210"),
        "UBND tỉnh Đồng Nai",
    ),
    (
        "QHC-PHUOCLONG",
        "Quy hoạch chung đô thị Phước Long",
        ("25217", "25220"),
        "UBND tỉnh Đồng Nai",
    ),
    ("QHC-BINHLONG", "Quy hoạch chung đô thị Bình Long", ("25326", "25333"), "UBND tỉnh Đồng Nai"),
    (
        "QHC-CHONTHANH",
        "Quy hoạch chung đô thị Chơn Thành",
        ("25432", "25441"),
        "UBND tỉnh Đồng Nai",
    ),
    (
        "QHC-LONGTHANH",
        "Quy hoạch chung đô thị Long Thành đến năm 2045",
        ("26368", "26383", "26389"),
        "Thủ tướng Chính phủ",
    ),
    (
        "QHC-NHONTRACH",
        "Quy hoạch chung đô thị Nhơn Trạch đến năm 2045",
        ("26485", "26491", "26503"),
        "Thủ tướng Chính phủ",
    ),
]
DXF_PROJECT_CODE = "QHCT-26041-01"
ZONE_MIX_DETAILED = {
    "ODT": 50,
    "TMD": 12,
    "DGD": 7,
    "DYT": 3,
    "DKV": 14,
    "DTT": 5,
    "DVH": 4,
    "TSC": 3,
    "DCH": 2,
}
ZONE_MIX_ZONING = {
    "ODT": 40,
    "TMD": 12,
    "SKC": 10,
    "SKK": 6,
    "DKV": 14,
    "DGD": 6,
    "DYT": 3,
    "CLN": 5,
    "DTT": 4,
}
# Building rules per land use: (FAR range, density % range, floors range)
RULES = {
    "ODT": ((1.5, 6.0), (45, 90), (3, 12)),
    "TMD": ((3.0, 12.0), (40, 70), (5, 30)),
    "DGD": ((0.8, 2.0), (30, 40), (2, 5)),
    "DYT": ((1.0, 3.0), (35, 40), (3, 9)),
    "DKV": ((0.02, 0.1), (2, 5), (1, 1)),
    "DTT": ((0.2, 1.0), (20, 30), (1, 3)),
    "DVH": ((0.6, 2.0), (30, 40), (1, 5)),
    "TSC": ((1.0, 3.0), (30, 40), (3, 9)),
    "DCH": ((0.8, 2.0), (40, 60), (1, 3)),
    "SKC": ((0.6, 1.8), (50, 70), (1, 4)),
    "SKK": ((0.6, 1.8), (50, 70), (1, 4)),
    "CLN": ((0.01, 0.05), (1, 5), (1, 1)),
}


def _label(far: float, density: float, floors: int) -> str:
    far_text = f"{far:.1f}".replace(".", ",")
    return f"MĐXD {density:.0f}% - HSSDĐ {far_text} - {floors} tầng"


def _rules(rng: np.random.Generator, land_use: str) -> dict:
    (f0, f1), (d0, d1), (n0, n1) = RULES.get(land_use, ((0.5, 2.0), (30, 60), (1, 5)))
    floors = int(rng.integers(n0, n1 + 1))
    density = float(np.round(rng.uniform(d0, d1)))
    far = float(np.round(min(rng.uniform(f0, f1), floors * density / 100), 1)) or 0.1
    return {
        "far_max": far,
        "density_max_pct": density,
        "floors_max": floors,
        "height_max_m": float(np.round(floors * 3.6 + 2.0, 1)),
        "label": _label(far, density, floors),
    }


def _site(
    ctx: DemoContext, rng: np.random.Generator, i: int, size: tuple[float, float], spread: float
) -> shapely.Geometry | None:
    """A rotated rectangle inside commune i's land, near its centre; None when none fits."""
    area = shapely.intersection(ctx.communes.polygons[i], ctx.land)
    for _ in range(30):
        c = ctx.communes.anchors[i] + rng.normal(0, spread, 2)
        w, h = rng.uniform(*size, 2)
        rect = affinity.rotate(
            shapely.box(c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2),
            float(rng.uniform(0, 90)),
            origin="centroid",
        )
        if area.contains(rect):
            return rect
        spread *= 0.8
    return None


def _blocks(
    rng: np.random.Generator, site: shapely.Geometry, nx: int, ny: int, road: float
) -> list[shapely.Geometry]:
    """The site cut into nx × ny blocks separated by roads ``road`` metres wide."""
    rect = shapely.minimum_rotated_rectangle(site)
    corners = shapely.get_coordinates(rect)[:4]
    origin, ex, ey = corners[0], corners[1] - corners[0], corners[3] - corners[0]
    blocks = []
    for bi in range(nx):
        for bj in range(ny):
            u0, u1 = bi / nx, (bi + 1) / nx
            v0, v1 = bj / ny, (bj + 1) / ny
            du, dv = road / 2 / np.linalg.norm(ex), road / 2 / np.linalg.norm(ey)
            quad = [
                origin + ex * u + ey * v
                for u, v in (
                    (u0 + du, v0 + dv),
                    (u1 - du, v0 + dv),
                    (u1 - du, v1 - dv),
                    (u0 + du, v1 - dv),
                )
            ]
            blocks.append(shapely.Polygon(quad))
    return blocks


def _build(ctx: DemoContext) -> tuple[list[dict], list[dict]]:
    if "planning" in ctx.extras:
        return ctx.extras["planning"]
    rng = ctx.rng("planning")
    comm = ctx.communes
    projects: list[dict] = [
        {
            "project_code": "QH-TINH-2021-2030",
            "name": "Quy hoạch tỉnh Đồng Nai thời kỳ 2021 - 2030, tầm nhìn đến năm 2050",
            "kind": "tong_the",
            "level": "tinh",
            "scale": "1:25000",
            "approving_authority": "Thủ tướng Chính phủ",
            "decision_no": "586/QĐ-TTg",
            "days_ago": 500,
            "status": "da_phe_duyet",
            "geom": ctx.outline,
        }
    ]
    for code, name, wards, authority in MASTER_PLANS:
        idx = [comm.index(w) for w in wards if w in set(comm.codes)]
        if not idx:
            continue
        projects.append(
            {
                "project_code": code,
                "name": name,
                "kind": "chung",
                "level": "do_thi",
                "scale": "1:10000",
                "approving_authority": authority,
                "decision_no": f"{int(rng.integers(100, 3000))}/QĐ-"
                + ("TTg" if "Thủ tướng" in authority else "UBND"),
                "days_ago": int(rng.integers(200, 2500)),
                "status": "da_phe_duyet",
                "geom": shapely.union_all(comm.polygons[idx]),
            }
        )
    zones: list[dict] = []
    # Zoning plans: two per master plan, 2-4 km across.
    for master in [p for p in projects if p["kind"] == "chung"]:
        wards = [
            i for i in range(len(comm)) if master["geom"].contains(shapely.Point(comm.anchors[i]))
        ]
        for k in range(2):
            i = wards[int(rng.integers(0, len(wards)))]
            site = _site(ctx, rng, i, (1800, 3500), 1500)
            if site is None:
                continue
            code = f"QHPK-{comm.codes[i]}-{k + 1:02d}"
            projects.append(
                _plan(
                    rng,
                    code,
                    f"Quy hoạch phân khu tỷ lệ 1/2000 khu {comm.short_name(i)} {k + 1}",
                    "phan_khu",
                    "1:2000",
                    site,
                    "UBND tỉnh Đồng Nai",
                )
            )
            zones += _zones(ctx, rng, code, site, 4, 3, 30.0, ZONE_MIX_ZONING)
    # Detailed plans: the CAD drawing's plan first, then 30 more across the province.
    wards = list(np.flatnonzero(comm.urban))
    targets = [comm.index("26041")] + [
        int(v) for v in rng.choice(np.r_[wards, wards, np.flatnonzero(~comm.urban)], 30)
    ]
    for k, i in enumerate(targets):
        site = _site(ctx, rng, i, (300, 800), 1200)
        if site is None:
            continue
        code = DXF_PROJECT_CODE if k == 0 else f"QHCT-{comm.codes[i]}-{k + 1:02d}"
        if any(p["project_code"] == code for p in projects):
            continue
        kind_name = "Khu dân cư" if rng.random() < 0.7 else "Khu đô thị mới"
        scale = "1:500" if k == 0 or rng.random() < 0.6 else "1:2000"
        plan = _plan(
            rng,
            code,
            f"Quy hoạch chi tiết tỷ lệ {scale.replace(':', '/')} {kind_name} {comm.short_name(i)}",
            "chi_tiet",
            scale,
            site,
            f"UBND {comm.names[i]}" if rng.random() < 0.5 else "UBND tỉnh Đồng Nai",
        )
        if k == 0:
            plan["status"] = "da_phe_duyet"
        projects.append(plan)
        zones += _zones(
            ctx,
            rng,
            code,
            site,
            int(rng.integers(3, 6)),
            int(rng.integers(2, 4)),
            14.0,
            ZONE_MIX_DETAILED,
        )
    ctx.extras["planning"] = (projects, zones)
    return projects, zones


def _plan(
    rng: np.random.Generator,
    code: str,
    name: str,
    kind: str,
    scale: str,
    site: shapely.Geometry,
    authority: str,
) -> dict:
    status = str(
        rng.choice(
            ["dang_lap", "cho_phe_duyet", "da_phe_duyet", "het_hieu_luc"],
            p=[0.15, 0.15, 0.62, 0.08],
        )
    )
    approved = status in ("da_phe_duyet", "het_hieu_luc")
    return {
        "project_code": code,
        "name": name,
        "kind": kind,
        "level": "khu_chuc_nang" if kind == "chi_tiet" else "do_thi",
        "scale": scale,
        "approving_authority": authority,
        "decision_no": f"{int(rng.integers(100, 9000))}/QĐ-UBND" if approved else None,
        "days_ago": int(rng.integers(30, 3000)) if approved else None,
        "status": status,
        "geom": site,
    }


def _zones(
    ctx: DemoContext,
    rng: np.random.Generator,
    code: str,
    site: shapely.Geometry,
    nx: int,
    ny: int,
    road: float,
    mix: dict[str, float],
) -> list[dict]:
    blocks = _blocks(rng, site, nx, ny, road)
    uses = ctx.pick(rng, "planning.zones", "land_use", mix, len(blocks))
    zones, counter = [], {}
    for block, use in zip(blocks, uses):
        counter[use] = counter.get(use, 0) + 1
        zones.append(
            {
                "zone_code": f"{code}/{use}-{counter[use]:02d}",
                "project_code": code,
                "land_use": str(use),
                **_rules(rng, str(use)),
                "geom": block,
            }
        )
    return zones


def dxf_plan(ctx: DemoContext) -> tuple[dict, list[dict]]:
    """The detailed plan drawn as the demo's CAD file, with its zones (metric geometries)."""
    projects, zones = _build(ctx)
    project = next(p for p in projects if p["project_code"] == DXF_PROJECT_CODE)
    return project, [z for z in zones if z["project_code"] == DXF_PROJECT_CODE]


def produce_projects(ctx: DemoContext) -> FeatureTable:
    projects, _ = _build(ctx)
    cols = {
        f: np.array([p[f] for p in projects], dtype=object)
        for f in (
            "project_code",
            "name",
            "kind",
            "level",
            "scale",
            "approving_authority",
            "decision_no",
            "status",
        )
    }
    days = [p["days_ago"] for p in projects]
    decided = dates(np.array([d or 0 for d in days]))
    cols["decision_date"] = np.array(
        [v if d is not None else None for v, d in zip(decided, days)], dtype=object
    )
    cols["area_ha"] = np.round(np.array([p["geom"].area / 1e4 for p in projects]), 2)
    return ctx.table("planning.projects", cols, [p["geom"] for p in projects])


def produce_zones(ctx: DemoContext) -> FeatureTable:
    _, zones = _build(ctx)
    cols = {
        f: np.array([z[f] for z in zones], dtype=object)
        for f in ("zone_code", "project_code", "land_use", "label")
    }
    for f in ("far_max", "density_max_pct", "height_max_m"):
        cols[f] = np.array([z[f] for z in zones], float)
    cols["floors_max"] = np.array([z["floors_max"] for z in zones], dtype=np.int64)
    return ctx.table("planning.zones", cols, [z["geom"] for z in zones])
