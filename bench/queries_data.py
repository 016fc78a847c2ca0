"""Province-scale data generated in SQL for the query benchmark, when the shared province demo
(``common.ensure_province_db()``) lacks layers the questions need (its communes, say).

Database ``iocgis_query_bench``: 100 communes on a 10 × 10 grid over the province's extent,
500,000 houses and 1,000,000 parcels clustered around commune centres, schools, shelters,
health facilities, flood zones and planning zones. Built once (a marker comment on the
database records the version), about two minutes on two cores.

``--scale large`` (issue 20's ``large`` demo): database ``iocgis_query_bench_large``, the same
communes and places with 2,500,000 houses and 5,000,000 parcels (about 3 GB, several minutes);
``--drop`` removes a scale's database again.
"""

from __future__ import annotations

import sys

import common  # noqa: F401
import psycopg
from common import _with_dbname  # noqa: PLC2701 - the same URL rule as the shared helper
from psycopg import sql

from iocgis import migrate, summaries
from iocgis.db import database_url
from iocgis.layers import get_registry
from iocgis.settings import get_settings

DB_NAME = "iocgis_query_bench"
VERSION = "queries-data-v2"  # v2: houses are points with a footprint
WEST, SOUTH, EAST, NORTH = 106.60, 10.70, 107.60, 11.90
GRID = 10
HOUSES = 500_000
PARCELS = 1_000_000
# scale: (database, houses, parcels)
SCALES = {"province": (DB_NAME, HOUSES, PARCELS),
          "large": (DB_NAME + "_large", 5 * HOUSES, 5 * PARCELS)}

STEPS = [
    ("province", """
INSERT INTO admin.provinces (code, name, admin_center, geom)
VALUES ('75', 'Tỉnh Đồng Nai', 'Phường Trấn Biên',
        ST_Multi(ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)))"""),
    ("communes", """
INSERT INTO admin.communes (code, name, type, province_code, geom)
SELECT (26000 + i * %(g)s + j)::text, 'Xã thử nghiệm ' || (i * %(g)s + j), 'Xã', '75',
       ST_Multi(ST_MakeEnvelope(%(w)s + i * %(dx)s, %(s)s + j * %(dy)s,
                                %(w)s + (i + 1) * %(dx)s, %(s)s + (j + 1) * %(dy)s, 4326))
FROM generate_series(0, %(g)s - 1) i, generate_series(0, %(g)s - 1) j"""),
    # Points clustered around commune centres (a triangular spread, about ±2.5 km)
    ("houses", """
INSERT INTO housing.houses (house_id, commune_code, address, household_head, household_size,
                            is_poor, is_near_poor, is_temporary, floors, height_m, geom,
                            footprint)
SELECT 'H' || n, c.code, 'Số ' || n, 'Chủ hộ ' || n, 1 + n %% 6, n %% 9 = 0, n %% 13 = 0,
       n %% 17 = 0, 1 + n %% 4, 3.5 * (1 + n %% 4),
       ST_SetSRID(ST_MakePoint(x + 0.00005, y + 0.00005), 4326),
       ST_Multi(ST_MakeEnvelope(x, y, x + 0.0001, y + 0.0001, 4326))
FROM (SELECT n, %(w)s + (ci + 0.5 + (random() - random()) * 0.45) * %(dx)s AS x,
             %(s)s + (cj + 0.5 + (random() - random()) * 0.45) * %(dy)s AS y, ci, cj
      FROM (SELECT n, n %% %(g)s AS ci, (n / %(g)s) %% %(g)s AS cj
            FROM generate_series(1, %(houses)s) n) a) p
JOIN admin.communes c ON c.code = (26000 + ci * %(g)s + cj)::text"""),
    ("parcels", """
INSERT INTO land.parcels (commune_code, sheet_no, parcel_no, land_use, area_m2, holder_name,
                          geom)
SELECT c.code, 1 + n / 100000, n, (ARRAY['ODT','ONT','CLN','LUC','HNK','TMD','DGT','SKC'])
       [1 + n %% 8], 900 + n %% 500, 'Người sử dụng ' || n,
       ST_Multi(ST_MakeEnvelope(x, y, x + 0.0003, y + 0.0003, 4326))
FROM (SELECT n, %(w)s + (ci + 0.5 + (random() - random()) * 0.48) * %(dx)s AS x,
             %(s)s + (cj + 0.5 + (random() - random()) * 0.48) * %(dy)s AS y, ci, cj
      FROM (SELECT n, (n * 7) %% %(g)s AS ci, (n / %(g)s) %% %(g)s AS cj
            FROM generate_series(1, %(parcels)s) n) a) p
JOIN admin.communes c ON c.code = (26000 + ci * %(g)s + cj)::text"""),
    ("points", """
INSERT INTO infra.schools (school_id, name, level, commune_code, pupils, teachers, geom)
SELECT 'S' || n, 'Trường ' || n, (ARRAY['tieu_hoc','thcs','thpt','mam_non'])[1 + n %% 4],
       '26000', 300 + n %% 1200, 20 + n %% 40,
       ST_SetSRID(ST_MakePoint(%(w)s + random() * (%(e)s - %(w)s),
                               %(s)s + random() * (%(n)s - %(s)s)), 4326)
FROM generate_series(1, 2000) n;
INSERT INTO emergency.shelters (shelter_id, name, capacity_people, geom)
SELECT 'SH' || n, 'Điểm sơ tán ' || n, 100 + n %% 400,
       ST_SetSRID(ST_MakePoint(%(w)s + random() * (%(e)s - %(w)s),
                               %(s)s + random() * (%(n)s - %(s)s)), 4326)
FROM generate_series(1, 1000) n;
INSERT INTO infra.health_facilities (facility_id, name, kind, commune_code, beds, geom)
SELECT 'YT' || n, 'Cơ sở y tế ' || n, 'tram_y_te', '26000', 5,
       ST_SetSRID(ST_MakePoint(%(w)s + random() * (%(e)s - %(w)s),
                               %(s)s + random() * (%(n)s - %(s)s)), 4326)
FROM generate_series(1, 500) n"""),
    ("polygons", """
INSERT INTO emergency.flood_zones (zone_code, scenario, max_depth_m, geom)
SELECT 'FZ' || n, 'bao_dong_2', 1.0, ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(
       %(w)s + random() * (%(e)s - %(w)s), %(s)s + random() * (%(n)s - %(s)s)), 4326), 0.01, 8))
FROM generate_series(1, 200) n;
INSERT INTO planning.projects (project_code, name, kind, status, geom)
SELECT 'QH' || n, 'Đồ án ' || n, 'phan_khu', 'da_phe_duyet',
       ST_Multi(ST_MakeEnvelope(x, y, x + 0.05, y + 0.05, 4326))
FROM (SELECT n, %(w)s + random() * (%(e)s - %(w)s - 0.05) AS x,
             %(s)s + random() * (%(n)s - %(s)s - 0.05) AS y FROM generate_series(1, 100) n) p;
INSERT INTO planning.zones (zone_code, project_code, land_use, far_max, geom)
SELECT 'Z' || n, 'QH' || (1 + n %% 100), 'ODT', 2.0,
       ST_Multi(ST_MakeEnvelope(x, y, x + 0.01, y + 0.01, 4326))
FROM (SELECT n, %(w)s + random() * (%(e)s - %(w)s - 0.01) AS x,
             %(s)s + random() * (%(n)s - %(s)s - 0.01) AS y FROM generate_series(1, 2000) n) p"""),
]


def ensure_generated_db(scale: str = "province") -> str:
    db_name, houses, parcels = SCALES[scale]
    settings = get_settings()
    server = database_url(settings)
    url = _with_dbname(server, db_name)
    with psycopg.connect(server, autocommit=True) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                           " WHERE datname = %s", (db_name,)).fetchone()
        if row is not None and row[0] == VERSION:
            _ensure_summaries(url)
            return url
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(db_name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
            sql.Identifier(db_name)))
    migrate.upgrade(url)
    values = {"w": WEST, "s": SOUTH, "e": EAST, "n": NORTH, "g": GRID,
              "dx": (EAST - WEST) / GRID, "dy": (NORTH - SOUTH) / GRID,
              "houses": houses, "parcels": parcels}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT setseed(0.42)")
        for name, statement in STEPS:
            print(f"generating {name}", file=sys.stderr, flush=True)
            for part in statement.split(";\n"):
                conn.execute(part, values)
        conn.execute("VACUUM ANALYZE")
    _ensure_summaries(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(db_name), sql.Literal(VERSION)))
    return url


def drop_generated_db(scale: str) -> None:
    with psycopg.connect(database_url(get_settings()), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(SCALES[scale][0])))


def _ensure_summaries(url: str) -> None:
    """The group totals the import swap keeps (rows generated here bypass the importer)."""
    migrate.upgrade(url)
    registry = get_registry()
    with psycopg.connect(url) as conn:
        for layer_id in summaries.SUMMARISED:
            if conn.execute("SELECT 1 FROM summaries.built b JOIN meta.layers l ON l.id ="
                            " b.layer_id AND l.data_version = b.data_version"
                            " WHERE b.layer_id = %s", (layer_id,)).fetchone():
                continue
            print(f"summarising {layer_id}", file=sys.stderr, flush=True)
            version = conn.execute("SELECT data_version FROM meta.layers WHERE id = %s",
                                   (layer_id,)).fetchone()[0]
            with conn.transaction():
                summaries.rebuild(conn, registry.get(layer_id), version)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="province")
    parser.add_argument("--drop", action="store_true", help="remove the scale's database")
    args = parser.parse_args()
    if args.drop:
        drop_generated_db(args.scale)
    else:
        print(ensure_generated_db(args.scale))
