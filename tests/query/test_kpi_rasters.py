"""Indicator status and alerts against the SQL of their definition; raster values and zonal
statistics against the pixels the fixture wrote."""

from __future__ import annotations

import csv
import io

import httpx
import numpy as np
import psycopg
import pytest

from .conftest import RASTER_NODATA, RASTER_ORIGIN, RASTER_PIXEL, RASTER_SIZE, raster_value


def expected_status(value: float | None, target: float, direction: str) -> str:
    if value is None:
        return "no_data"
    met = value >= target if direction == "higher_better" else value <= target
    return "met" if met else "not_met"


def test_kpi_of_a_commune_latest_period(anon: httpx.Client, qconn: psycopg.Connection) -> None:
    response = anon.get("/query/kpi", params={"admin": "26043"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"]["admin_name"] == "Xã Phước Tân"
    rows = {r["code"]: r for r in body["indicators"]}
    for code, target, direction in qconn.execute(
            "SELECT code, target, direction FROM kpi.indicators").fetchall():
        latest = qconn.execute(
            "SELECT value, period FROM kpi.values WHERE indicator_code = %s AND admin_code ="
            " '26043' ORDER BY period DESC LIMIT 1", (code,)).fetchone()
        value = latest[0] if latest else None
        assert rows[code]["value"] == value
        assert rows[code]["status"] == expected_status(value, target, direction)
    assert rows["MT_RAC"]["period"] == "2025" and rows["MT_RAC"]["status"] == "met"
    assert rows["YT_GIUONG"]["status"] == "no_data"
    assert body["summary"] == {"met": 1, "not_met": 0, "no_data": 2}


def test_kpi_of_the_province_for_a_period(anon: httpx.Client) -> None:
    response = anon.get("/query/kpi", params={"period": "2024"})  # default: the province
    rows = {r["code"]: r for r in response.json()["indicators"]}
    assert rows["YT_GIUONG"]["value"] == 28.0 and rows["YT_GIUONG"]["status"] == "not_met"
    assert rows["MT_RAC"]["status"] == "no_data"
    csv_rows = list(csv.DictReader(io.StringIO(
        anon.get("/query/kpi", params={"period": "2024", "f": "csv"}).content.decode("utf-8-sig"))))
    assert {r["code"]: r["status"] for r in csv_rows} == {c: r["status"] for c, r in rows.items()}


def test_kpi_alerts_list_every_unit_missing_a_target(anon: httpx.Client,
                                                     qconn: psycopg.Connection) -> None:
    response = anon.get("/query/kpi/alerts")
    assert response.status_code == 200, response.text
    alerts = {(a["code"], a["admin_code"]): a for a in response.json()["alerts"]}
    expected = set()
    for code, admin, value, target, direction in qconn.execute(
            "SELECT DISTINCT ON (v.indicator_code, v.admin_code) v.indicator_code, v.admin_code,"
            " v.value, i.target, i.direction FROM kpi.values v JOIN kpi.indicators i"
            " ON i.code = v.indicator_code ORDER BY v.indicator_code, v.admin_code,"
            " v.period DESC").fetchall():
        if expected_status(value, target, direction) == "not_met":
            expected.add((code, admin))
    assert set(alerts) == expected
    assert ("MT_RAC", "26043") not in alerts  # missed in 2024, met in 2025
    assert alerts[("YT_GIUONG", "26042")]["admin_name"] == "Phường Biên Hòa"
    assert alerts[("MT_RAC", "75")]["admin_name"] == "Tỉnh Đồng Nai"
    health = anon.get("/query/kpi/alerts", params={"sector": "y_te"}).json()["alerts"]
    assert {a["code"] for a in health} == {"YT_GIUONG"}


def test_kpi_bad_input(anon: httpx.Client) -> None:
    for params, status, words in (({"admin": "2604"}, 400, "5-digit"),
                                  ({"admin": "26099"}, 404, "26099"),
                                  ({"period": "25"}, 400, "2025-Q2"),
                                  ({"sector": "space"}, 400, "giao_duc")):
        response = anon.get("/query/kpi", params=params)
        assert response.status_code == status and words in response.text, response.text


def pixel_center(row: int, col: int) -> tuple[float, float]:
    west, north = RASTER_ORIGIN
    return west + (col + 0.5) * RASTER_PIXEL, north - (row + 0.5) * RASTER_PIXEL


def test_raster_value_at_a_point(anon: httpx.Client) -> None:
    lon, lat = pixel_center(42, 17)
    response = anon.get("/query/rasters/dem_test/value", params={"lon": lon, "lat": lat})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["value"] == raster_value(42, 17) and body["pixel"] == {"row": 42, "col": 17}
    lon, lat = pixel_center(3, 3)  # nodata
    assert anon.get("/query/rasters/dem_test/value",
                    params={"lon": lon, "lat": lat}).json()["value"] is None
    outside = anon.get("/query/rasters/dem_test/value", params={"lon": 107.2, "lat": 11.2}).json()
    assert outside["inside"] is False and outside["value"] is None


def expected_zone(rows: range, cols: range) -> np.ndarray:
    values = np.array([raster_value(r, c) for r in rows for c in cols])
    return values[values != RASTER_NODATA]


def test_raster_zonal_statistics_over_a_drawn_polygon(anon: httpx.Client) -> None:
    # Pixels 5..24 (rows) x 5..14 (cols), covering part of the nodata block.
    west, north = RASTER_ORIGIN
    x0, x1 = west + 5 * RASTER_PIXEL, west + 15 * RASTER_PIXEL
    y0, y1 = north - 25 * RASTER_PIXEL, north - 5 * RASTER_PIXEL
    polygon = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1],
                                                   [x0, y0]]]}
    response = anon.post("/query/rasters/dem_test/zonal", params={"threshold": 20000},
                         json=polygon)
    assert response.status_code == 200, response.text
    stats = response.json()
    values = expected_zone(range(5, 25), range(5, 15))
    assert stats["count"] == values.size
    assert stats["nodata_count"] == 20 * 10 - values.size == 25
    assert stats["min"] == values.min() and stats["max"] == values.max()
    assert stats["mean"] == pytest.approx(values.mean())
    assert stats["sum"] == pytest.approx(values.sum())
    assert stats["above_count"] == int((values >= 20000).sum())
    pixel_m2 = (RASTER_PIXEL * 110_600) * (RASTER_PIXEL * 109_300)  # about 1 ha at 11° N
    assert stats["area_m2"] == pytest.approx(values.size * pixel_m2, rel=0.01)


def test_raster_zonal_statistics_over_a_commune(anon: httpx.Client) -> None:
    # Commune 26041 is 106.80-106.85 E, 10.90-10.95 N: rows 50..99, cols 0..49
    response = anon.get("/query/rasters/dem_test/zonal", params={"admin": "26041"})
    assert response.status_code == 200, response.text
    stats = response.json()
    values = expected_zone(range(50, 100), range(0, 50))
    assert stats["count"] == values.size == 2500
    assert stats["mean"] == pytest.approx(values.mean())
    assert stats["query"]["admin"]["name"] == "Phường Trấn Biên"


def test_rasters_follow_their_sensitivity(anon: httpx.Client, analyst: httpx.Client) -> None:
    names = {r["name"] for r in anon.get("/query/rasters").json()["rasters"]}
    assert names == {"dem_test"}
    assert anon.get("/query/rasters/dem_restricted/value",
                    params={"lon": 106.85, "lat": 10.95}).status_code == 404
    assert analyst.get("/query/rasters/dem_restricted/value",  # analysts read internal only
                       params={"lon": 106.85, "lat": 10.95}).status_code == 404
    assert anon.get("/query/rasters/nothing/zonal", params={"admin": "26041"}).status_code == 404
    bad_band = anon.get("/query/rasters/dem_test/zonal", params={"admin": "26041", "band": 2})
    assert bad_band.status_code == 400 and "band" in bad_band.text
    assert RASTER_SIZE == 100 and RASTER_NODATA < 0
