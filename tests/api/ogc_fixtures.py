"""Small, known data for the OGC API tests, written straight into the registry's tables.

Incidents lie east of ``ORIGIN`` at known geodesic distances (so DWITHIN has one right answer),
two communes with Vietnamese names, a school whose name holds ``>``, a non-spatial KPI layer,
and one row in each internal/restricted layer the anonymous caller must never see.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
from pyproj import Geod

ORIGIN = (106.82, 10.95)  # lon, lat in Biên Hòa
GEOD = Geod(ellps="WGS84")
# (code, metres east of ORIGIN, kind, severity, hours before NOW, phone)
INCIDENTS = [
    ("SC-001", 0, "chay", 5, 1, "0909000001"),
    ("SC-002", 100, "chay", 4, 2, "0909000002"),
    ("SC-003", 300, "lu_lut", 3, 30, None),
    ("SC-004", 490, "tai_nan", 2, 50, "0909000004"),
    ("SC-005", 510, "chay", 1, 70, None),
    ("SC-006", 900, "cuu_nan", 3, 200, None),
    ("SC-007", 2000, "lu_lut", 2, 400, "0909000007"),
    ("SC-008", 5000, "moi_truong", 1, 800, None),
]
NOW = datetime(2025, 7, 15, 8, 0, tzinfo=UTC)
EXTRA_INCIDENTS = 37  # more rows far away, so paging has several pages
COMMUNES = [
    ("72301", "Phường Trấn Biên", "phuong", (106.78, 10.92, 106.86, 10.98)),
    ("72302", "Xã Đồng Phú", "xa", (106.86, 10.92, 106.95, 10.98)),
]
SCHOOL_NAME = "Trường THCS Nguyễn Du (> 500 học sinh)"


def incident_position(metres_east: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(ORIGIN[0], ORIGIN[1], 90, metres_east) if metres_east else (*ORIGIN, 0)
    return lon, lat


def load(conn: psycopg.Connection) -> None:
    for code, metres, kind, severity, hours, phone in INCIDENTS:
        lon, lat = incident_position(metres)
        conn.execute(
            "INSERT INTO emergency.incidents (incident_code, kind, title, status, severity, "
            "reported_at, commune_code, casualties, reporter_phone, geom) VALUES "
            "(%s, %s, %s, 'moi', %s, %s, '72301', %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            (code, kind, f"Sự cố {kind} tại phường Trấn Biên ({code})", severity,
             NOW - timedelta(hours=hours), severity * 2 if severity > 3 else None, phone, lon, lat))
    for i in range(EXTRA_INCIDENTS):
        conn.execute(
            "INSERT INTO emergency.incidents (incident_code, kind, title, status, severity, "
            "reported_at, commune_code, reporter_phone, geom) VALUES (%s, 'dich_benh', %s, "
            "'da_xu_ly', 1, %s, '72302', '0912345678', ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            (f"XA-{i:03d}", f"Ổ dịch số {i}", NOW - timedelta(days=40 + i),
             106.90 + i * 0.001, 10.96))
    for code, name, kind, (x1, y1, x2, y2) in COMMUNES:
        conn.execute(
            "INSERT INTO admin.communes (code, name, type, province_code, area_km2, population, "
            "geom) VALUES (%s, %s, %s, '75', 50, 100000, "
            "ST_Multi(ST_MakeEnvelope(%s, %s, %s, %s, 4326)))", (code, name, kind, x1, y1, x2, y2))
    conn.execute(
        "INSERT INTO infra.schools (school_id, name, level, commune_code, pupils, geom) VALUES "
        "('TH-1', %s, 'thcs', '72301', 800, ST_SetSRID(ST_MakePoint(106.83, 10.955), 4326))",
        (SCHOOL_NAME,))
    conn.execute(
        "INSERT INTO kpi.indicators (code, name, name_en, sector, unit, target, direction) VALUES "
        "('GRDP', 'Tăng trưởng GRDP', 'GRDP growth', 'kinh_te', '%', 8.5, 'up')")
    # one row per layer the anonymous caller must not see
    conn.execute(
        "INSERT INTO land.parcels (commune_code, sheet_no, parcel_no, land_use, area_m2, "
        "holder_name, certificate_no, geom) VALUES ('72301', 1, 1, 'ODT', 120, 'Nguyễn Văn A', "
        "'CS-0001', ST_Multi(ST_MakeEnvelope(106.82, 10.95, 106.8202, 10.9502, 4326)))")
    conn.execute(
        "INSERT INTO infra.substations (substation_id, name, voltage_kv, geom) VALUES "
        "('TBA-1', 'Trạm 110kV Biên Hòa', 110, ST_SetSRID(ST_MakePoint(106.83, 10.96), 4326))")
    conn.execute(
        "INSERT INTO citizen.reports (report_code, category, content, status, reported_at, "
        "reporter_name, reporter_phone, geom) VALUES ('PA-1', 'moi_truong', 'Rác thải', 'moi', "
        "%s, 'Trần Thị B', '0900000000', ST_SetSRID(ST_MakePoint(106.83, 10.96), 4326))", (NOW,))
    # the catalog facts an import would write: incidents imported recently, schools long ago
    conn.execute(
        "UPDATE meta.layers SET data_version = 1, row_count = %s, last_import_at = %s, "
        "last_import_id = 1, extent = (SELECT ST_SetSRID(ST_Extent(geom)::geometry, 4326) "
        "FROM emergency.incidents) WHERE id = 'emergency.incidents'",
        (len(INCIDENTS) + EXTRA_INCIDENTS, datetime.now(UTC) - timedelta(hours=2)))
    conn.execute(
        "UPDATE meta.layers SET data_version = 1, row_count = 1, last_import_at = %s "
        "WHERE id = 'infra.schools'", (datetime.now(UTC) - timedelta(days=3 * 365),))
    conn.execute(
        "INSERT INTO meta.imports (layer_id, mode, status, source_path, user_name, started_at, "
        "finished_at, rows_in, rows_loaded, rows_fixed, rows_rejected, report) VALUES "
        "('emergency.incidents', 'replace', 'done', 'incidents.gpkg', 'gis_officer', now(), "
        "now(), 47, 45, 3, 2, %s)",
        (psycopg.types.json.Jsonb({"findings": [
            {"rule": "geometry_invalid", "severity": "fix", "dimension": "đúng", "count": 3,
             "example": "0909000001"},
            {"rule": "required_missing", "severity": "reject", "dimension": "đủ", "count": 2}]}),))


def fixture_date() -> date:
    return NOW.date()
