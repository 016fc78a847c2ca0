"""Cadastral parcels tiled inside communes, and houses inside the residential parcels.

Streams one commune at a time: a rotated grid of lots in blocks separated by streets (small
residential lots around the commune centre, larger farm lots around them), lot boundaries
jittered but shared, so parcels never overlap. Everything is vectorised with numpy/shapely.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely

from iocgis.demo.context import DemoContext
from iocgis.demo.table import FeatureTable

# Land-use mixes (national codes); codes the registry lacks are skipped by ctx.pick.
RESIDENTIAL_MIX_URBAN = {
    "ODT": 88,
    "TMD": 4,
    "SKC": 2,
    "DGD": 1,
    "DYT": 0.5,
    "TON": 1,
    "TIN": 0.5,
    "DVH": 0.5,
    "DTT": 0.5,
    "DKV": 1,
    "TSC": 0.5,
    "DCH": 0.5,
}
RESIDENTIAL_MIX_RURAL = {
    "ONT": 88,
    "TMD": 3,
    "SKC": 2,
    "DGD": 1.5,
    "DYT": 0.5,
    "TON": 1.5,
    "TIN": 1,
    "DVH": 0.5,
    "DTT": 0.5,
    "TSC": 0.5,
    "DCH": 1,
}
FARM_MIX_URBAN = {
    "CLN": 30,
    "HNK": 14,
    "SKC": 12,
    "SKK": 8,
    "TMD": 8,
    "ODT": 8,
    "NTS": 3,
    "DGT": 4,
    "NTD": 2,
    "DRA": 1,
    "DNL": 1,
    "MNC": 1,
    "BCS": 5,
    "DKV": 2,
    "DBV": 1,
}
FARM_MIX_RURAL = {
    "CLN": 38,
    "LUC": 8,
    "LUK": 4,
    "HNK": 14,
    "RSX": 11,
    "RPH": 1,
    "NTS": 4,
    "CNT": 3,
    "ONT": 7,
    "SKC": 3,
    "SKN": 1,
    "NTD": 2,
    "DGT": 2,
    "DTL": 1,
    "BCS": 2,
    "DCS": 1,
}
RESIDENTIAL = ("ODT", "ONT")
# Public land is held by an organisation, not a person.
PUBLIC_USES = (
    "DGD",
    "DYT",
    "TSC",
    "DVH",
    "DTT",
    "DKV",
    "DGT",
    "DTL",
    "DNL",
    "DBV",
    "DCH",
    "DRA",
    "NTD",
    "MNC",
    "CQP",
    "CAN",
    "TIN",
    "TON",
    "SON",
    "DMT",
    "DKH",
)
COMPANY_WORDS = np.array(
    "Phú Thịnh,Tân Hưng,Đại Phát,Việt Thành,An Bình,Long Hải,Minh Tâm,"
    "Hòa Phát,Đồng Tiến,Sao Mai,Phước An,Trường Thịnh".split(","),
    dtype=object,
)
STREET_GAP_M = 8.0
SHEET_LOTS = (48, 32)  # lots per map sheet along and across the grid


@dataclass(frozen=True)
class LotStyle:
    """Lot frontage and depth (metres) and lots per block."""

    width: float
    depth: float
    per_block: int
    rows_per_block: int


def allocation(ctx: DemoContext) -> np.ndarray:
    """Parcels per commune: by population, over the scale's communes."""
    comm = ctx.communes
    chosen = np.ones(len(comm), dtype=bool)
    if ctx.scale.parcel_communes is not None:
        chosen = np.isin(comm.codes, np.array(ctx.scale.parcel_communes, dtype=object))
    weights = np.where(chosen, comm.population.astype(float), 0.0)
    raw = weights / weights.sum() * ctx.scale.parcels
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: ctx.scale.parcels - counts.sum()]] += 1
    return counts


def produce_parcels_and_houses(ctx: DemoContext) -> Iterator[dict[str, FeatureTable]]:
    counts = allocation(ctx)
    for i in np.flatnonzero(counts):
        yield from _commune_chunks(ctx, int(i), int(counts[i]))


def _commune_chunks(ctx: DemoContext, i: int, n: int) -> Iterator[dict[str, FeatureTable]]:
    comm = ctx.communes
    rng = ctx.rng(f"land.parcels/{comm.codes[i]}")
    urban = bool(comm.urban[i])
    area = shapely.buffer(ctx.commune_land(i), -3.0)
    if area.is_empty:
        return
    shapely.prepare(area)
    n_res = int(round(n * (0.61 if urban else 0.47)))
    res_style = LotStyle(5.0, 20.0, 12, 2) if urban else LotStyle(10.0, 30.0, 10, 2)
    farm_style = LotStyle(18.0, 32.0, 6, 2) if urban else LotStyle(28.0, 60.0, 6, 2)
    # Shrink lots when the commune is too small for the count (the big scales).
    needed = (
        n_res * res_style.width * res_style.depth
        + (n - n_res) * farm_style.width * farm_style.depth
    ) * 1.5
    shrink = min(1.0, float(np.sqrt(0.7 * area.area / max(needed, 1.0))))
    res_style = _scaled(res_style, shrink)
    farm_style = _scaled(farm_style, shrink)
    angle = rng.uniform(0, np.pi / 2)
    anchor = comm.anchors[i]
    res = _lots(rng, area, anchor, angle, res_style, n_res, exclude=None)
    hull = (
        shapely.buffer(shapely.convex_hull(shapely.multipoints(res["quad"].reshape(-1, 2))), 12.0)
        if len(res)
        else None
    )
    farm = _lots(rng, area, anchor, angle, farm_style, n - len(res), exclude=hull)
    lots = np.concatenate([res, farm])
    sheet_res, parcel_res = _sheet_numbers(res, 0)
    sheet_farm, parcel_farm = _sheet_numbers(farm, int(sheet_res.max(initial=0)))
    sheets = np.concatenate([sheet_res, sheet_farm])
    parcels = np.concatenate([parcel_res, parcel_farm])
    land_use = np.concatenate(
        [
            ctx.pick(
                rng,
                "land.parcels",
                "land_use",
                RESIDENTIAL_MIX_URBAN if urban else RESIDENTIAL_MIX_RURAL,
                len(res),
            ),
            ctx.pick(
                rng,
                "land.parcels",
                "land_use",
                FARM_MIX_URBAN if urban else FARM_MIX_RURAL,
                len(farm),
            ),
        ]
    )
    step = ctx.scale.chunk_parcels
    for start in range(0, len(lots), step):
        sl = slice(start, start + step)
        yield _chunk(ctx, rng, i, lots[sl], sheets[sl], parcels[sl], land_use[sl], urban)


def _scaled(style: LotStyle, factor: float) -> LotStyle:
    return LotStyle(
        style.width * factor, style.depth * factor, style.per_block, style.rows_per_block
    )


def _lots(
    rng: np.random.Generator,
    area: shapely.Geometry,
    anchor: np.ndarray,
    angle: float,
    style: LotStyle,
    n: int,
    exclude: shapely.Geometry | None,
) -> np.ndarray:
    """Up to n lots (LOT_DTYPE: quad corners and grid position), nearest the anchor first,
    inside ``area`` and clear of ``exclude``."""
    if n <= 0:
        return _empty_lots()
    taken = exclude.area if exclude is not None else 0.0
    side = np.sqrt(n * style.width * style.depth * 1.8 + taken)
    for _ in range(8):
        lots = _grid(rng, anchor, angle, style, side)
        keep = _inside(area, lots["quad"], exclude)
        lots = lots[keep]
        if len(lots) >= n or side > 4 * np.sqrt(area.area):
            break
        side *= 1.6
    if not len(lots):
        return _empty_lots()
    centre = lots["quad"][:, :4].mean(axis=1)
    dist = np.hypot(centre[:, 0] - anchor[0], centre[:, 1] - anchor[1])
    return lots[np.argsort(dist, kind="stable")[:n]]


LOT_DTYPE = np.dtype([("quad", float, (5, 2)), ("gi", np.int64), ("gj", np.int64)])


def _empty_lots() -> np.ndarray:
    return np.empty(0, dtype=LOT_DTYPE)


def _grid(
    rng: np.random.Generator, anchor: np.ndarray, angle: float, style: LotStyle, side: float
) -> np.ndarray:
    """A square grid of lots of about ``side`` metres centred on the anchor, rotated by angle."""
    w, d, bx, by = style.width, style.depth, style.per_block, style.rows_per_block
    nx = max(int(side / (w + STREET_GAP_M / bx)), bx)
    ny = max(int(side / (d + STREET_GAP_M / by)), by)
    gi, gj = np.meshgrid(np.arange(nx), np.arange(ny))
    gi, gj = gi.ravel(), gj.ravel()
    # Shared boundaries inside a block are jittered; block edges stay straight (streets).
    jitter = rng.uniform(-0.18, 0.18, (nx + 1, ny + 1)) * w
    jitter[np.arange(nx + 1) % bx == 0, :] = 0.0
    jitter[nx, :] = 0.0
    left = gi * w + (gi // bx) * STREET_GAP_M
    bottom = gj * d + (gj // by) * STREET_GAP_M
    u_bl, u_br = left + jitter[gi, gj], left + w + jitter[gi + 1, gj]
    u_tl, u_tr = left + jitter[gi, gj + 1], left + w + jitter[gi + 1, gj + 1]
    u = np.stack([u_bl, u_br, u_tr, u_tl, u_bl], axis=1)
    v = np.stack([bottom, bottom, bottom + d, bottom + d, bottom], axis=1)
    u -= u.max() / 2
    v -= v.max() / 2
    cos, sin = np.cos(angle), np.sin(angle)
    lots = np.empty(len(gi), dtype=LOT_DTYPE)
    lots["quad"][:, :, 0] = anchor[0] + u * cos - v * sin
    lots["quad"][:, :, 1] = anchor[1] + u * sin + v * cos
    lots["gi"], lots["gj"] = gi, gj
    return lots


def _inside(
    area: shapely.Geometry, quads: np.ndarray, exclude: shapely.Geometry | None
) -> np.ndarray:
    corners = quads[:, :4]
    keep = np.ones(len(quads), dtype=bool)
    for k in range(4):
        keep &= shapely.contains_xy(area, corners[:, k, 0], corners[:, k, 1])
    idx = np.flatnonzero(keep)
    polys = shapely.polygons(quads[idx])
    exact = shapely.contains(area, polys)
    if exclude is not None:
        shapely.prepare(exclude)
        exact &= ~shapely.intersects(exclude, polys)
    keep[idx] = exact
    return keep


def _sheet_numbers(lots: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Map sheet numbers (blocks of the grid, numbered from 1 + offset) and parcel numbers
    (1.. within each sheet, row by row)."""
    if not len(lots):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    si, sj = lots["gi"] // SHEET_LOTS[0], lots["gj"] // SHEET_LOTS[1]
    key = sj * 10_000 + si
    _, sheet = np.unique(key, return_inverse=True)
    sheet = sheet + 1 + offset
    order = np.lexsort((lots["gi"], lots["gj"], sheet))
    parcel = np.empty(len(lots), np.int64)
    sorted_sheet = sheet[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_sheet)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    parcel[order] = np.arange(len(order)) - run_start + 1
    return sheet.astype(np.int64), parcel


def _chunk(
    ctx: DemoContext,
    rng: np.random.Generator,
    i: int,
    lots: np.ndarray,
    sheet: np.ndarray,
    parcel_no: np.ndarray,
    land_use: np.ndarray,
    urban: bool,
) -> dict[str, FeatureTable]:
    comm = ctx.communes
    n = len(lots)
    code, name = str(comm.codes[i]), str(comm.names[i])
    quads = lots["quad"]
    polys = shapely.polygons(quads)
    area = shapely.area(polys)
    legal_area = np.round(area * rng.normal(1.0, 0.008, n), 1)
    holders = ctx.names.person_names(rng, n)
    public = np.isin(land_use, PUBLIC_USES)
    holders[public] = f"UBND {name}"
    business = np.isin(land_use, ("SKC", "SKK", "SKN", "TMD"))
    holders[business] = np.array(
        [
            f"Công ty TNHH {w}"
            for w in COMPANY_WORDS[rng.integers(0, len(COMPANY_WORDS), business.sum())]
        ],
        dtype=object,
    )
    letters = np.array(list(string.ascii_uppercase), dtype=object)
    series = letters[rng.integers(0, 26, n)] + letters[rng.integers(0, 26, n)]
    certificates = np.array(
        [f"{s} {k:06d}" for s, k in zip(series, rng.integers(0, 10**6, n))], dtype=object
    )
    certificates[rng.random(n) < 0.07] = None  # not certified yet
    residential = np.isin(land_use, RESIDENTIAL)
    addresses = ctx.names.addresses(rng, n, name, urban=urban)
    parcels = ctx.table(
        "land.parcels",
        {
            "commune_code": np.full(n, code, dtype=object),
            "sheet_no": sheet,
            "parcel_no": parcel_no,
            "land_use": land_use,
            "area_m2": legal_area,
            "address": addresses,
            "certificate_no": certificates,
            "holder_name": holders,
        },
        polys,
    )
    # Houses: one on almost every residential lot, its footprint a shrunk copy of the lot
    # (or, for a surveyed house, the footprint's point on surface).
    built = residential & (rng.random(n) < 0.985)
    idx = np.flatnonzero(built)
    m = len(idx)
    centre = quads[idx, :4].mean(axis=1, keepdims=True)
    factor = (rng.uniform(0.6, 0.88, m) if urban else rng.uniform(0.28, 0.5, m))[:, None, None]
    footprints = shapely.polygons(centre + (quads[idx] - centre) * factor)
    temporary = rng.random(m) < (0.01 if urban else 0.035)
    poor = rng.random(m) < (0.004 if urban else 0.015)
    near_poor = ~poor & (rng.random(m) < (0.01 if urban else 0.025))
    floor_p = [0.22, 0.3, 0.26, 0.13, 0.06, 0.02, 0.01] if urban else [0.8, 0.16, 0.04, 0, 0, 0, 0]
    floors = rng.choice(np.arange(1, 8), m, p=floor_p)
    floors[temporary] = 1
    height = np.round(floors * rng.uniform(3.3, 3.8, m) + rng.uniform(0, 1.5, m), 1)
    height[temporary] = np.round(rng.uniform(2.6, 3.4, temporary.sum()), 1)
    heads = holders[idx].copy()
    tenants = rng.random(m) < 0.1
    heads[tenants] = ctx.names.person_names(rng, int(tenants.sum()))
    year = np.clip(np.round(2025 - rng.gamma(2.0, 8.0, m)), 1960, 2025).astype(np.int64)
    # Some houses come from a department's survey of positions (points, no footprint): most
    # of a rural commune's, a few of a ward's (chosen by parcel number: no random draw).
    surveyed = parcel_no[idx] % 10 < (1 if urban else 6)
    footprints[surveyed] = shapely.point_on_surface(footprints[surveyed])
    houses = ctx.table(
        "housing.houses",
        {
            "house_id": np.array(
                [f"{code}-{s:04d}-{p:05d}" for s, p in zip(sheet[idx], parcel_no[idx])],
                dtype=object,
            ),
            "commune_code": np.full(m, code, dtype=object),
            "address": addresses[idx],
            "household_head": heads,
            "household_size": np.clip(rng.poisson(2.6, m) + 1, 1, 50).astype(np.int64),
            "is_poor": poor,
            "is_near_poor": near_poor,
            "is_temporary": temporary,
            "floors": floors.astype(np.int64),
            "height_m": height,
            "year_built": year,
        },
        footprints,
    )
    return {"land.parcels": parcels, "housing.houses": houses}
