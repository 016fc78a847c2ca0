"""A small, deterministic data set for the query tests, around Biên Hòa (about 11 km across).

Four communes in a 2 × 2 grid, a 20 × 20 grid of houses (points, each with its footprint;
every 5th poor, every 7th near-poor, every 11th temporary), parcels, two planning projects
(one approved) with zones, a flood incident near the middle, a flood zone, shelters, health
facilities, schools, roads, indicators and their values. Coordinates are EPSG:4326 (lon, lat).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

PROVINCE = "75"
WEST, SOUTH, STEP = 106.80, 10.90, 0.05  # commune grid: 2 × 2 cells of 0.05°
COMMUNES = {  # code: (name, type, column, row)
    "26041": ("Phường Trấn Biên", "Phường", 0, 0),
    "26042": ("Phường Biên Hòa", "Phường", 1, 0),
    "26043": ("Xã Phước Tân", "Xã", 0, 1),
    "26044": ("Phường Long Bình", "Phường", 1, 1),
}
INCIDENT = ("SC-2025-001", 106.8455, 10.9470)  # a flood near the middle of the grid
FLOOD_ZONE = (106.83, 10.93, 106.865, 10.965)  # bao_dong_2
FLOOD_ZONE_3 = (106.80, 10.98, 106.82, 11.00)  # bao_dong_3, far from the incident
APPROVED_PROJECT = ("QH-001", 106.80, 10.90, 106.84, 11.00)
DRAFT_PROJECT = ("QH-002", 106.83, 10.92, 106.88, 10.97)
HOUSES_PER_SIDE = 20
HOUSE_SPACING = 0.005
HOUSE_SIZE = 0.0001  # about 11 m


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def commune_of(lon: float, lat: float) -> str:
    col = int((lon - WEST) // STEP)
    row = int((lat - SOUTH) // STEP)
    for code, (_, _, c, r) in COMMUNES.items():
        if (c, r) == (col, row):
            return code
    raise ValueError((lon, lat))


@dataclass(frozen=True)
class House:
    house_id: str
    lon: float  # south-west corner
    lat: float
    commune_code: str
    size: int
    poor: bool
    near_poor: bool
    temporary: bool

    @property
    def position(self) -> tuple[float, float]:
        """The house's point: the middle of its footprint (its point on surface)."""
        return self.lon + HOUSE_SIZE / 2, self.lat + HOUSE_SIZE / 2


def houses() -> list[House]:
    out = []
    for i in range(HOUSES_PER_SIDE):
        for j in range(HOUSES_PER_SIDE):
            n = i * HOUSES_PER_SIDE + j
            lon = WEST + 0.0025 + i * HOUSE_SPACING
            lat = SOUTH + 0.0025 + j * HOUSE_SPACING
            out.append(House(f"H{n:04d}", lon, lat, commune_of(lon, lat), n % 6 + 1, n % 5 == 0,
                             n % 7 == 0, n % 11 == 0))
    return out


SHELTERS = [("SH1", "Trường THCS Trấn Biên", 106.8400, 10.9440, 300),
            ("SH2", "Nhà văn hóa Biên Hòa", 106.8610, 10.9390, 150),
            ("SH3", "Trường tiểu học Phước Tân", 106.8150, 10.9800, 200),
            ("SH4", "Chùa Long Bình", 106.8800, 10.9900, 100),
            ("SH5", "Nhà thi đấu", 106.8480, 10.9520, 500),
            ("SH6", "UBND phường Trấn Biên", 106.8050, 10.9050, 80),
            ("SH7", "Trường THPT Long Bình", 106.8900, 10.9600, 400)]
HEALTH = [("YT1", "Bệnh viện Đa khoa Đồng Nai", "benh_vien", 106.8420, 10.9490, 700),
          ("YT2", "Trạm y tế Biên Hòa", "tram_y_te", 106.8700, 10.9200, 5),
          ("YT3", "Trạm y tế Phước Tân", "tram_y_te", 106.8100, 10.9900, 5),
          ("YT4", "Phòng khám Long Bình", "phong_kham", 106.8950, 10.9950, 0)]
SCHOOLS = [  # id, name, level, lon, lat, pupils, teachers, classrooms
    ("TH1", "Tiểu học Trấn Biên", "tieu_hoc", 106.8200, 10.9200, 1200, 40, 30),
    ("TH2", "THCS Trấn Biên", "thcs", 106.8300, 10.9300, 900, 35, 25),
    ("TH3", "Tiểu học Biên Hòa", "tieu_hoc", 106.8600, 10.9100, 800, 30, 20),
    ("TH4", "THPT Biên Hòa", "thpt", 106.8700, 10.9400, 1500, 60, 40),
    ("TH5", "Tiểu học Phước Tân", "tieu_hoc", 106.8100, 10.9700, 600, 25, 18),
    ("TH6", "Mầm non Long Bình", "mam_non", 106.8800, 10.9800, 300, 20, 12),
    ("TH7", "THCS Long Bình", "thcs", 106.8650, 10.9750, 1100, 38, 28),
]
PLACES = [("KDC1", "Khu dân cư Tân Phong", "khu_dan_cu", 106.8350, 10.9350)]
ROADS = [("R1", "Quốc lộ 1", "quoc_lo", [(106.80, 10.945), (106.90, 10.945)]),
         ("R2", "Đường Đồng Khởi", "do_thi", [(106.845, 10.90), (106.845, 11.00)])]
INDICATORS = [  # code, name, name_en, sector, unit, target, direction
    ("GD_HS_TRUONG", "Số học sinh bình quân mỗi trường", "Pupils per school", "giao_duc",
     "học sinh", 1000.0, "lower_better"),
    ("YT_GIUONG", "Số giường bệnh trên 10.000 dân", "Hospital beds per 10,000 people", "y_te",
     "giường", 30.0, "higher_better"),
    ("MT_RAC", "Tỷ lệ thu gom rác thải (%)", "Waste collected (%)", "moi_truong", "%", 95.0,
     "higher_better"),
]
KPI_VALUES = [  # indicator, admin, period, value
    ("YT_GIUONG", "75", "2024", 28.0), ("YT_GIUONG", "75", "2025", 31.5),
    ("MT_RAC", "75", "2025", 90.0),
    ("YT_GIUONG", "26041", "2025", 45.0), ("YT_GIUONG", "26042", "2025", 12.0),
    ("MT_RAC", "26041", "2025", 97.0), ("MT_RAC", "26042", "2025", 80.0),
    ("MT_RAC", "26043", "2024", 70.0), ("MT_RAC", "26043", "2025", 96.0),
    ("GD_HS_TRUONG", "26044", "2025", 1200.0),
]


def load(conn: psycopg.Connection) -> None:
    """Insert the data set (the database is fresh and migrated)."""
    with conn.cursor() as cur:
        cur.execute("INSERT INTO admin.provinces (code, name, admin_center, area_km2, geom) "
                    "VALUES (%s, %s, %s, %s, ST_GeomFromText(%s, 4326))",
                    (PROVINCE, "Tỉnh Đồng Nai", "Phường Trấn Biên", 12737.2,
                     box(106.60, 10.70, 107.60, 11.90)))
        for code, (name, kind, col, row) in COMMUNES.items():
            x0, y0 = WEST + col * STEP, SOUTH + row * STEP
            cur.execute("INSERT INTO admin.communes (code, name, type, province_code, population,"
                        " geom) VALUES (%s, %s, %s, %s, %s, ST_GeomFromText(%s, 4326))",
                        (code, name, kind, PROVINCE, 20000 + col * 1000 + row,
                         box(x0, y0, x0 + STEP, y0 + STEP)))
        cur.executemany(
            "INSERT INTO housing.houses (house_id, commune_code, address, household_head,"
            " household_size, is_poor, is_near_poor, is_temporary, floors, height_m, footprint,"
            " geom) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, ST_GeomFromText(%s, 4326),"
            " ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            [(h.house_id, h.commune_code, f"Số {h.house_id[1:]} đường Võ Thị Sáu",
              f"Nguyễn Văn {h.house_id}", h.size, h.poor, h.near_poor, h.temporary, 1 + h.size % 3,
              3.5 * (1 + h.size % 3), box(h.lon, h.lat, h.lon + HOUSE_SIZE, h.lat + HOUSE_SIZE),
              *h.position) for h in houses()])
        parcels = []
        uses = ["ODT", "ONT", "CLN", "LUC"]
        for i in range(10):
            for j in range(10):
                x0, y0 = WEST + 0.001 + i * 0.01, SOUTH + 0.001 + j * 0.01
                code = commune_of(x0, y0)
                parcels.append((code, 1 + i, 1 + j, uses[(i + j) % 4], 2500.0 + i * 10 + j,
                                f"GCN-{i}{j}", f"Trần Thị {i}{j}", box(x0, y0, x0 + 0.0045,
                                                                     y0 + 0.0045)))
        cur.executemany(
            "INSERT INTO land.parcels (commune_code, sheet_no, parcel_no, land_use, area_m2,"
            " certificate_no, holder_name, geom) VALUES (%s, %s, %s, %s, %s, %s, %s,"
            " ST_GeomFromText(%s, 4326))", parcels)
        for code, status, (x0, y0, x1, y1) in ((APPROVED_PROJECT[0], "da_phe_duyet",
                                                APPROVED_PROJECT[1:]),
                                               (DRAFT_PROJECT[0], "dang_lap", DRAFT_PROJECT[1:])):
            cur.execute("INSERT INTO planning.projects (project_code, name, kind, level, status,"
                        " decision_no, geom) VALUES (%s, %s, 'phan_khu', 'do_thi', %s, %s,"
                        " ST_GeomFromText(%s, 4326))",
                        (code, f"Quy hoạch phân khu {code}", status,
                         "123/QĐ-UBND" if status == "da_phe_duyet" else None,
                         box(x0, y0, x1, y1)))
        zones = [("Z1-A", "QH-001", "ODT", 3.0, 60.0, 25.0, box(106.80, 10.90, 106.82, 11.00)),
                 ("Z1-B", "QH-001", "DGD", 1.5, 40.0, 15.0, box(106.82, 10.90, 106.84, 11.00)),
                 ("Z2-A", "QH-002", "TMD", 5.0, 70.0, 45.0, box(106.83, 10.92, 106.88, 10.97))]
        cur.executemany("INSERT INTO planning.zones (zone_code, project_code, land_use, far_max,"
                        " density_max_pct, height_max_m, geom) VALUES (%s, %s, %s, %s, %s, %s,"
                        " ST_GeomFromText(%s, 4326))", zones)
        code, lon, lat = INCIDENT
        cur.execute("INSERT INTO emergency.incidents (incident_code, kind, title, status,"
                    " severity, reported_at, commune_code, reporter_phone, geom) VALUES"
                    " (%s, 'lu_lut', 'Ngập sâu khu phố 3', 'dang_xu_ly', 4, now(), '26041',"
                    " '0901234567', ST_SetSRID(ST_MakePoint(%s, %s), 4326))", (code, lon, lat))
        cur.executemany("INSERT INTO emergency.flood_zones (zone_code, scenario, max_depth_m, geom)"
                        " VALUES (%s, %s, %s, ST_GeomFromText(%s, 4326))",
                        [("FZ-1", "bao_dong_2", 1.2, box(*FLOOD_ZONE)),
                         ("FZ-2", "bao_dong_3", 2.0, box(*FLOOD_ZONE_3))])
        cur.executemany("INSERT INTO emergency.shelters (shelter_id, name, capacity_people,"
                        " geom) VALUES (%s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
                        [(s[0], s[1], s[4], s[2], s[3]) for s in SHELTERS])
        cur.executemany("INSERT INTO infra.health_facilities (facility_id, name, kind,"
                        " commune_code, beds, geom) VALUES (%s, %s, %s, %s, %s,"
                        " ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
                        [(h[0], h[1], h[2], commune_of(h[3], h[4]), h[5], h[3], h[4])
                         for h in HEALTH])
        cur.executemany("INSERT INTO infra.schools (school_id, name, level, commune_code, pupils,"
                        " teachers, classrooms, geom) VALUES (%s, %s, %s, %s, %s, %s, %s,"
                        " ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
                        [(s[0], s[1], s[2], commune_of(s[3], s[4]), s[5], s[6], s[7], s[3], s[4])
                         for s in SCHOOLS])
        cur.executemany("INSERT INTO base.places (place_id, name, kind, geom) VALUES"
                        " (%s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))", PLACES)
        cur.executemany("INSERT INTO base.roads (road_id, name, road_class, geom) VALUES"
                        " (%s, %s, %s, ST_Multi(ST_GeomFromText(%s, 4326)))",
                        [(r[0], r[1], r[2], "LINESTRING(" + ",".join(f"{x} {y}" for x, y in r[3])
                          + ")") for r in ROADS])
        cur.executemany("INSERT INTO kpi.indicators (code, name, name_en, sector, unit, target,"
                        " direction) VALUES (%s, %s, %s, %s, %s, %s, %s)", INDICATORS)
        cur.executemany("INSERT INTO kpi.values (indicator_code, admin_code, period, value)"
                        " VALUES (%s, %s, %s, %s)", KPI_VALUES)
