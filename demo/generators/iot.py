"""IoT monitoring: hydrological, rain, air and water-quality stations and their hourly series."""

from __future__ import annotations

import numpy as np
import shapely

from iocgis.demo.context import DemoContext
from iocgis.demo.generators.infra import _pt
from iocgis.demo.table import AS_OF, FeatureTable, timestamps

OPERATOR_HYDRO = "Đài Khí tượng Thủy văn tỉnh Đồng Nai"
OPERATOR_ENV = "Trung tâm Quan trắc Tài nguyên và Môi trường"
# (code, name, kind, operator, lon, lat, alert levels, mean, amplitude)
FIXED_STATIONS = [
    (
        "TV-BIENHOA",
        "Trạm thủy văn Biên Hòa",
        "muc_nuoc_song",
        OPERATOR_HYDRO,
        106.833,
        10.950,
        (1.8, 2.2, 2.6),
        1.1,
        0.9,
    ),
    (
        "TV-TAIAN",
        "Trạm thủy văn Tà Lài",
        "muc_nuoc_song",
        OPERATOR_HYDRO,
        107.385,
        11.365,
        (112.0, 113.5, 115.0),
        110.0,
        0.6,
    ),
    (
        "TV-PHUHIEP",
        "Trạm thủy văn Phú Hiệp",
        "muc_nuoc_song",
        OPERATOR_HYDRO,
        107.30,
        11.30,
        (114.0, 115.5, 117.0),
        112.0,
        0.5,
    ),
    (
        "TV-LANGA",
        "Trạm thủy văn La Ngà",
        "muc_nuoc_song",
        OPERATOR_HYDRO,
        107.33,
        11.15,
        (111.0, 112.5, 114.0),
        109.5,
        0.4,
    ),
    (
        "TV-LONGDAI",
        "Trạm thủy văn Long Đại",
        "muc_nuoc_song",
        OPERATOR_HYDRO,
        106.872,
        10.845,
        (1.6, 2.0, 2.4),
        0.9,
        1.1,
    ),
    (
        "HO-TRIAN",
        "Hồ Trị An - mực nước hồ",
        "muc_nuoc_ho",
        "Công ty Thủy điện Trị An",
        107.04,
        11.115,
        (61.5, 62.0, 62.5),
        60.8,
        0.05,
    ),
    (
        "HO-THACMO",
        "Hồ Thác Mơ - mực nước hồ",
        "muc_nuoc_ho",
        "Công ty CP Thủy điện Thác Mơ",
        107.03,
        11.86,
        (217.5, 218.0, 218.5),
        216.2,
        0.05,
    ),
    (
        "XL-TRIAN",
        "Đập Trị An - lưu lượng xả",
        "luu_luong",
        "Công ty Thủy điện Trị An",
        107.028,
        11.108,
        (1500.0, 2500.0, 3500.0),
        800.0,
        300.0,
    ),
    (
        "XL-THACMO",
        "Đập Thác Mơ - lưu lượng xả",
        "luu_luong",
        "Công ty CP Thủy điện Thác Mơ",
        107.02,
        11.848,
        (600.0, 1000.0, 1500.0),
        220.0,
        80.0,
    ),
]
AIR_SITES = ["26041", "26017", "26020", "26374", "26368", "26485", "25210", "26080"]
WATER_SITES = [
    ("NM-DN-01", "Sông Đồng Nai tại cầu Hóa An", 106.815, 10.935),
    ("NM-DN-02", "Sông Đồng Nai tại Long Tân", 106.845, 10.795),
    ("NM-TV-01", "Sông Thị Vải tại Phước Thái", 107.01, 10.68),
    ("NM-BE-01", "Sông Bé tại Phước Long", 106.985, 11.79),
    ("NM-LN-01", "Sông La Ngà tại Định Quán", 107.34, 11.16),
    ("NM-BUONG", "Sông Buông tại An Phước", 106.93, 10.85),
]
PARAMETERS = {
    "muc_nuoc_song": (("water_level", "m"),),
    "muc_nuoc_ho": (("water_level", "m"),),
    "luu_luong": (("discharge", "m3/s"),),
    "mua": (("rainfall", "mm"),),
    "khong_khi": (("pm25", "µg/m³"), ("aqi", "")),
    "nuoc_mat": (("wqi", ""),),
}


def stations(ctx: DemoContext) -> list[dict]:
    if "iot_stations" in ctx.extras:
        return ctx.extras["iot_stations"]
    rng = ctx.rng("iot.stations")
    comm = ctx.communes
    rows = [
        {
            "code": c,
            "name": n,
            "kind": k,
            "operator": o,
            "xy": _pt(lon, lat),
            "alerts": a,
            "mean": m,
            "amp": amp,
        }
        for c, n, k, o, lon, lat, a, m, amp in FIXED_STATIONS
    ]
    for code in AIR_SITES:
        if code not in set(comm.codes):
            continue
        i = comm.index(code)
        rows.append(
            {
                "code": f"KK-{code}",
                "name": f"Trạm quan trắc không khí {comm.short_name(i)}",
                "kind": "khong_khi",
                "operator": OPERATOR_ENV,
                "xy": tuple(comm.anchors[i] + rng.normal(0, 300, 2)),
                "alerts": (50.0, 100.0, 150.0),
                "mean": float(rng.uniform(18, 40)),
                "amp": float(rng.uniform(5, 15)),
            }
        )
    for code, name, lon, lat in WATER_SITES:
        rows.append(
            {
                "code": code,
                "name": f"Trạm quan trắc nước mặt {name}",
                "kind": "nuoc_mat",
                "operator": OPERATOR_ENV,
                "xy": _pt(lon, lat),
                "alerts": (50.0, 25.0, 10.0),
                "mean": float(rng.uniform(60, 85)),
                "amp": 4.0,
            }
        )
    # Rain gauges spread over the province: every fifth commune.
    for i in range(0, len(comm), 5):
        rows.append(
            {
                "code": f"MUA-{comm.codes[i]}",
                "name": f"Trạm đo mưa {comm.short_name(i)}",
                "kind": "mua",
                "operator": OPERATOR_HYDRO,
                "xy": tuple(comm.anchors[i]),
                "alerts": (50.0, 100.0, 150.0),
                "mean": 0.0,
                "amp": 0.0,
            }
        )
    allowed = set(ctx.codes("iot.stations", "kind"))
    rows = [
        r for r in rows if r["kind"] in allowed and ctx.outline.contains(shapely.Point(r["xy"]))
    ]
    xy = np.array([r["xy"] for r in rows])
    idx = comm.locate(xy[:, 0], xy[:, 1])
    for r, i in zip(rows, idx):
        r["commune_code"] = str(comm.codes[i]) if i >= 0 else None
    ctx.extras["iot_stations"] = rows
    return rows


def produce_stations(ctx: DemoContext) -> FeatureTable:
    rows = stations(ctx)
    cols = {
        "station_code": [r["code"] for r in rows],
        "name": [r["name"] for r in rows],
        "kind": [r["kind"] for r in rows],
        "commune_code": [r["commune_code"] for r in rows],
        "operator": [r["operator"] for r in rows],
    }
    cols = {k: np.array(v, dtype=object) for k, v in cols.items()}
    for k in range(3):
        cols[f"alert_{k + 1}"] = np.array([r["alerts"][k] for r in rows], float)
    return ctx.table("iot.stations", cols, shapely.points(np.array([r["xy"] for r in rows])))


def produce_observations(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("iot.observations")
    hours = ctx.scale.observation_days * 24
    t = np.arange(hours)[::-1].astype(float)  # hours before the demo's now, oldest first
    clock = (AS_OF.hour - t) % 24
    columns: dict[str, list[np.ndarray]] = {
        "station_code": [],
        "parameter": [],
        "observed_at": [],
        "value": [],
        "unit": [],
    }
    stamps = timestamps(t * 3600)
    allowed = set(ctx.codes("iot.observations", "parameter"))
    for r in stations(ctx):
        for parameter, unit in PARAMETERS[r["kind"]]:
            if parameter not in allowed:
                continue
            value = _series(rng, r, parameter, t, clock)
            columns["station_code"].append(np.full(hours, r["code"], dtype=object))
            columns["parameter"].append(np.full(hours, parameter, dtype=object))
            columns["observed_at"].append(stamps)
            columns["value"].append(value)
            columns["unit"].append(np.full(hours, unit, dtype=object))
    cols = {k: np.concatenate(v) for k, v in columns.items()}
    return ctx.table("iot.observations", cols)


def _series(
    rng: np.random.Generator, station: dict, parameter: str, t: np.ndarray, clock: np.ndarray
) -> np.ndarray:
    n = len(t)
    mean, amp = station["mean"], station["amp"]
    if parameter == "water_level" and station["kind"] == "muc_nuoc_song":
        # Semi-diurnal tide downstream, a slow flood wave upstream; a few hours above alert 1.
        tide = amp * np.sin(2 * np.pi * t / 12.42) + 0.3 * amp * np.sin(2 * np.pi * t / 24.0)
        wave = (
            (station["alerts"][0] - mean) * 0.9 * np.exp(-(((t - n * 0.4) / (n * 0.12 + 1)) ** 2))
        )
        return np.round(mean + tide + wave + rng.normal(0, 0.03, n), 2)
    if parameter == "water_level":
        return np.round(mean + 0.002 * (n - t) + rng.normal(0, 0.01, n), 2)
    if parameter == "discharge":
        release = np.where(rng.random(n) < 0.02, rng.uniform(1.5, 3.0, n), 1.0)
        return np.round(
            np.maximum(mean + amp * np.sin(2 * np.pi * clock / 24) * 0.5, 0)
            * np.maximum.accumulate(release[::-1])[::-1] ** 0.3
            + rng.normal(0, 10, n),
            1,
        ).clip(0)
    if parameter == "rainfall":
        storm = (rng.random(n) < 0.06) & ((clock >= 13) & (clock <= 20) | (rng.random(n) < 0.3))
        return np.round(np.where(storm, rng.gamma(1.2, 9.0, n), 0.0), 1)
    if parameter == "pm25":
        rush = np.exp(-(((clock - 7.5) / 1.5) ** 2)) + np.exp(-(((clock - 18) / 2) ** 2))
        return np.round(np.clip(mean + amp * rush + rng.normal(0, 4, n), 3, None), 1)
    if parameter == "aqi":
        pm = mean + amp * (
            np.exp(-(((clock - 7.5) / 1.5) ** 2)) + np.exp(-(((clock - 18) / 2) ** 2))
        )
        return np.round(np.clip(pm * 2.1 + rng.normal(0, 6, n), 5, 500))
    if parameter == "wqi":
        return np.round(
            np.clip(mean + amp * np.sin(2 * np.pi * t / 24) + rng.normal(0, 2, n), 5, 100)
        )
    return np.round(rng.uniform(0, 100, n), 2)
