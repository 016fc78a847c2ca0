"""A small Đồng Nai-like data set for the tile tests, inserted straight into the layer tables.

Around Biên Hòa (106.82 E, 10.95 N): a province, a 4 x 4 grid of communes with Vietnamese
names, roads of three classes, places, a lake, 400 internal parcels carrying personal data,
houses with heights (most with footprints, some points), public planning zones, incidents (with
a personal-data phone) and a restricted substation.
"""

from __future__ import annotations

import psycopg

LON0, LAT0 = 106.70, 10.85  # south-west corner of the commune grid
COMMUNE_SIDE = 0.06
TINY_PARCEL_LON, TINY_PARCEL_LAT = 106.8305, 10.9405
FOOTPRINTS = 16  # houses H0-H15 have a footprint, the other four only a position
COMMUNE_NAMES = [
    "Phường Trấn Biên", "Phường Biên Hòa", "Phường Long Bình", "Phường Tam Hiệp",
    "Phường Hố Nai", "Phường Trảng Dài", "Phường Tân Triều", "Xã Đại Phước",
    "Xã Nhơn Trạch", "Phường Long Hưng", "Xã Phước Thái", "Xã An Phước",
    "Xã Bình An", "Xã Thống Nhất", "Xã Hưng Thịnh", "Xã Trảng Bom",
]


def bump(conn: psycopg.Connection, layer_id: str) -> None:
    """What an import does after changing a layer: a new data version."""
    conn.execute("UPDATE meta.layers SET data_version = data_version + 1, updated_at = now(),"
                 " extent = (SELECT ST_SetSRID(ST_Expand(ST_Extent(geom), 1e-6)::geometry, 4326) FROM "
                 + ".".join(f'"{p}"' for p in layer_id.split(".")) + ") WHERE id = %s",
                 (layer_id,))


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def load(conn: psycopg.Connection) -> None:
    ins = conn.execute
    x1, y1 = LON0 + 4 * COMMUNE_SIDE, LAT0 + 4 * COMMUNE_SIDE
    ins("INSERT INTO admin.provinces (code, name, admin_center, geom) VALUES "
        "('75', 'Tỉnh Đồng Nai', 'Phường Trấn Biên', ST_GeomFromText(%s, 4326))",
        (box(LON0 - 0.05, LAT0 - 0.05, x1 + 0.05, y1 + 0.05),))
    for i, name in enumerate(COMMUNE_NAMES):
        cx, cy = LON0 + (i % 4) * COMMUNE_SIDE, LAT0 + (i // 4) * COMMUNE_SIDE
        ins("INSERT INTO admin.communes (code, name, type, province_code, population, geom)"
            " VALUES (%s, %s, %s, '75', %s, ST_GeomFromText(%s, 4326))",
            (f"{26000 + i:05d}", name, "Phường" if name.startswith("Phường") else "Xã",
             10000 + i, box(cx, cy, cx + COMMUNE_SIDE, cy + COMMUNE_SIDE)))
    roads = [("QL1", "Quốc lộ 1A", "quoc_lo", "1A", [(LON0, LAT0 + 0.1), (x1, LAT0 + 0.12)]),
             ("CT01", "Cao tốc TP.HCM - Long Thành", "cao_toc", "CT01",
              [(LON0, LAT0 + 0.02), (x1, LAT0 + 0.2)]),
             ("X01", "Đường Nguyễn Ái Quốc", "xa", None,
              [(LON0 + 0.1, LAT0 + 0.05), (LON0 + 0.14, LAT0 + 0.09)])]
    for road_id, name, cls, ref, pts in roads:
        line = "MULTILINESTRING((" + ",".join(f"{x} {y}" for x, y in pts) + "))"
        ins("INSERT INTO base.roads (road_id, name, road_class, ref, geom) VALUES"
            " (%s, %s, %s, %s, ST_GeomFromText(%s, 4326))", (road_id, name, cls, ref, line))
    for pid, name, kind, (x, y) in [("P1", "Biên Hòa", "tinh_ly", (106.82, 10.95)),
                                     ("P2", "Chợ Đồn", "dia_danh", (106.85, 10.93)),
                                     ("P3", "Hố Nai", "trung_tam_xa", (106.88, 10.98))]:
        ins("INSERT INTO base.places (place_id, name, kind, geom) VALUES"
            " (%s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))", (pid, name, kind, x, y))
    ins("INSERT INTO base.water_areas (water_id, name, kind, geom) VALUES"
        " ('W1', 'Hồ Trị An', 'ho_chua', ST_GeomFromText(%s, 4326))",
        (box(LON0 + 0.15, LAT0 + 0.17, LON0 + 0.2, LAT0 + 0.2),))
    # 20 x 20 parcels of about 50 m around (106.82, 10.95), with a holder name (personal data).
    rows = []
    for i in range(400):
        x, y = 106.82 + (i % 20) * 0.0005, 10.95 + (i // 20) * 0.0005
        rows.append((f"{26000:05d}", 1 + i // 100, 1 + i, "ODT" if i % 3 else "CLN", 240.5,
                     f"Nguyễn Văn {i}", f"CN{i:06d}", box(x, y, x + 0.00045, y + 0.00045)))
    # Three parcels of about 5 m: below min_area_px at zoom 13, drawn at zoom 18.
    for i in range(3):
        x = TINY_PARCEL_LON + i * 0.0001
        rows.append(("26000", 9, 900 + i, "ODT", 25.0, "Lê Văn Tí", f"CNT{i}",
                     box(x, TINY_PARCEL_LAT, x + 0.00005, TINY_PARCEL_LAT + 0.00005)))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO land.parcels (commune_code, sheet_no, parcel_no, land_use, area_m2,"
            " holder_name, certificate_no, geom) VALUES (%s, %s, %s, %s, %s, %s, %s,"
            " ST_GeomFromText(%s, 4326))", rows)
        # H0-H15 drawn with their footprints, H16-H19 known by their position only (a survey)
        cur.executemany(
            "INSERT INTO housing.houses (house_id, commune_code, household_head, floors, height_m,"
            " is_temporary, footprint, geom) SELECT %s, '26000', %s, %s, %s, false, f,"
            " coalesce(ST_PointOnSurface(f), ST_SetSRID(ST_MakePoint(%s, 10.9501), 4326))"
            " FROM ST_GeomFromText(%s, 4326) f",
            [(f"H{i}", f"Trần Thị {i}", 1 + i % 5, 3.5 * (1 + i % 5), 106.82 + i * 0.0005 + 0.0002,
              box(106.82 + i * 0.0005 + 0.0001, 10.95001, 106.82 + i * 0.0005 + 0.0003, 10.9502)
              if i < FOOTPRINTS else None) for i in range(20)])
    ins("INSERT INTO planning.zones (zone_code, project_code, land_use, far_max, height_max_m,"
        " geom) VALUES ('ODT-01', 'QH-BH-2025', 'ODT', 3.5, 45, ST_GeomFromText(%s, 4326)),"
        " ('TMD-02', 'QH-BH-2025', 'TMD', 6, 90, ST_GeomFromText(%s, 4326))",
        (box(106.80, 10.93, 106.84, 10.97), box(106.84, 10.93, 106.88, 10.97)))
    ins("INSERT INTO emergency.incidents (incident_code, kind, title, status, severity,"
        " reported_at, reporter_phone, geom) VALUES ('SC-1', 'chay', 'Cháy kho hàng ở Long Bình',"
        " 'dang_xu_ly', 4, now(), '0909123456', ST_SetSRID(ST_MakePoint(106.86, 10.94), 4326))")
    ins("INSERT INTO infra.substations (substation_id, name, voltage_kv, geom) VALUES"
        " ('TBA-1', 'Trạm biến áp Long Bình', 220, ST_SetSRID(ST_MakePoint(106.87, 10.95), 4326))")
    for layer_id in ("admin.provinces", "admin.communes", "base.roads", "base.places",
                     "base.water_areas", "land.parcels", "housing.houses", "planning.zones",
                     "emergency.incidents", "infra.substations"):
        bump(conn, layer_id)
