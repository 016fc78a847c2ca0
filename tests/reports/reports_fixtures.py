"""A small, hand-made data set for the report tests: a province of three communes with
indicators and their values for three periods, houses, schools, incidents (one with a
reporter's phone), citizen reports (some overdue), a station alert, flood zones, shelters; the
first commune's houses with footprints and heights (the dashboard's 3D housing)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import shapely

from ..security.security_helpers import insert_sample

PROVINCE = "75"
COMMUNES = {"26041": ("Phường Trấn Biên", (106.80, 10.92, 106.86, 10.98)),
            "26068": ("Phường Tam Hiệp", (106.86, 10.92, 106.92, 10.98)),
            "26380": ("Xã Long Hưng", (106.80, 10.86, 106.92, 10.92))}
PERIOD = "2025-Q3"
PHONE = "0912345678"
NAME = "Trần Thị Báo Cáo"
INDICATORS = {  # code: (name, name_en, sector, unit, target, direction)
    "POOR_RATE": ("Tỷ lệ hộ nghèo đa chiều", "Multidimensional poverty rate", "an_sinh", "%",
                  0.5, "lower_better"),
    "HEALTH_INSURANCE": ("Tỷ lệ dân số tham gia bảo hiểm y tế", "Health insurance coverage",
                         "y_te", "%", 95.0, "higher_better"),
}
# (indicator, unit, period) -> value; the province and each commune, this quarter, the one
# before, and the same quarter a year earlier
VALUES = {}
for i, unit in enumerate([PROVINCE, *COMMUNES]):
    for period, shift in ((PERIOD, 0.0), ("2025-Q2", 0.1), ("2024-Q3", 0.2)):
        VALUES[("POOR_RATE", unit, period)] = round(0.3 + 0.15 * i + shift, 2)
        VALUES[("HEALTH_INSURANCE", unit, period)] = round(97.0 - 1.5 * i - shift, 2)


def _multi(bounds: tuple[float, float, float, float]) -> str:
    return shapely.MultiPolygon([shapely.box(*bounds)]).wkt


def _point(code: str, dx: float, dy: float) -> str:
    west, south, east, north = COMMUNES[code][1]
    return shapely.Point(west + (east - west) * dx, south + (north - south) * dy).wkt


def load_report_data(conn: psycopg.Connection) -> None:
    insert_sample(conn, "admin.provinces", code=PROVINCE, name="Tỉnh Đồng Nai",
                  geom=_multi((106.80, 10.86, 106.92, 10.98)))
    for code, (name, bounds) in COMMUNES.items():
        insert_sample(conn, "admin.communes", code=code, name=name, province_code=PROVINCE,
                      type="phuong" if name.startswith("Phường") else "xa", geom=_multi(bounds))
    for code, (name, name_en, sector, unit, target, direction) in INDICATORS.items():
        insert_sample(conn, "kpi.indicators", code=code, name=name, name_en=name_en,
                      sector=sector, unit=unit, target=target, direction=direction)
    for (code, unit, period), value in VALUES.items():
        insert_sample(conn, "kpi.values", indicator_code=code, admin_code=unit, period=period,
                      value=value)
    for k, code in enumerate(COMMUNES):
        for n in range(3 + k):
            at = _point(code, 0.2 + 0.1 * n, 0.5)
            # the first commune's houses are drawn (footprints, heights: the dashboard's 3D)
            drawn = {"footprint": _multi(shapely.from_wkt(at).buffer(0.0001, cap_style=3).bounds),
                     "floors": 2 + n, "height_m": 7.0 + 3 * n} if k == 0 else {"geom": at}
            insert_sample(conn, "housing.houses", house_id=f"{code}-{n:05d}", commune_code=code,
                          household_size=2 + n, is_poor=n % 2 == 0, is_near_poor=n == 1,
                          is_temporary=n == 2, household_head=NAME, **drawn)
        insert_sample(conn, "infra.schools", commune_code=code, geom=_point(code, 0.5, 0.2))
        insert_sample(conn, "emergency.shelters", commune_code=code, name=f"Điểm sơ tán {code}",
                      capacity_people=100 * (k + 1), geom=_point(code, 0.8, 0.8))
        insert_sample(conn, "emergency.incidents", incident_code=f"SC-{code}", commune_code=code,
                      title=f"Ngập sâu tại {COMMUNES[code][0]}", kind="ngap_lut",
                      reported_at=datetime(2025, 8, 10 + k, 3, tzinfo=UTC), casualties=k,
                      reporter_phone=PHONE, geom=_point(code, 0.4, 0.4))
        insert_sample(conn, "citizen.reports", report_code=f"PA-{code}-1", commune_code=code,
                      reported_at=datetime(2025, 7, 1, tzinfo=UTC),
                      due_at=datetime(2025, 7, 10, tzinfo=UTC), answered_at=None,
                      reporter_name=NAME, reporter_phone=PHONE, geom=_point(code, 0.6, 0.6))
        insert_sample(conn, "citizen.reports", report_code=f"PA-{code}-2", commune_code=code,
                      reported_at=datetime(2025, 7, 1, tzinfo=UTC),
                      due_at=datetime(2025, 7, 10, tzinfo=UTC),
                      answered_at=datetime(2025, 7, 5, tzinfo=UTC),
                      reporter_name=NAME, reporter_phone=PHONE, geom=_point(code, 0.6, 0.7))
    insert_sample(conn, "emergency.flood_zones", zone_code="FZ-1", scenario="bao_dong_2",
                  geom=_multi((106.80, 10.92, 106.83, 10.95)))
    insert_sample(conn, "iot.stations", station_code="TV-TEST", commune_code="26041",
                  geom=_point("26041", 0.1, 0.1))
    cur = conn.execute("INSERT INTO live.datastreams (station_code, parameter, unit) VALUES "
                       "('TV-TEST', 'water_level', 'm') RETURNING id")
    (stream,) = cur.fetchone()
    conn.execute("INSERT INTO live.alerts (kind, datastream_id, station_code, parameter, "
                 "commune_code, level, peak_level, state, observed_at, value, threshold, source, "
                 "raised_at) VALUES ('threshold', %s, 'TV-TEST', 'water_level', '26041', 2, 2, "
                 "'raised', %s, 2.6, 2.5, 'QĐ 05/2020/QĐ-TTg', %s)",
                 (stream, datetime(2025, 8, 10, 2, tzinfo=UTC), datetime(2025, 8, 10, 2, tzinfo=UTC)))


# A new version of housing.houses (two more houses, appended): what the regeneration tests and
# the reports benchmark import after a report was generated.
NEW_HOUSES = [("26041", "26041-90001", 106.815, 10.935), ("26068", "26068-90001", 106.875, 10.935)]


def new_houses_file(folder: Path) -> Path:
    path = folder / "nha_moi.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"house_id": house, "commune_code": code, "household_size": 7,
                        "is_poor": True}} for code, house, lon, lat in NEW_HOUSES]},
        ensure_ascii=False), encoding="utf-8")
    return path
