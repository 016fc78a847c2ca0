"""The diff of a pending import against the live layer (importers/diff.py) on 1,000,000
parcels, against a plain SQL full outer join that only counts the differing rows, in one run.

A changed copy of ``land.parcels`` plays the staged import: 5 % of the parcels get another
land use, 1 % another shape, 1 % are removed and 1 % are new. Ours writes every difference
with its changed fields and values (the table the review reads); the peer answers "how many
rows differ" with ``IS DISTINCT FROM`` on every column, the geometry by ``ST_Equals``.

    .venv/bin/python bench/diff_bench.py                # the province demo (ensure_province_db)
    .venv/bin/python bench/diff_bench.py --rows 1000000 # synthetic parcels in a scratch database

Writes the section ``diff`` of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time

import psycopg
from common import ROOT, ratio, write_results_section  # noqa: F401 - ROOT puts us on sys.path
from psycopg import sql

from iocgis.db import database_url
from iocgis.importers import diff
from iocgis.layers import get_registry

SCRATCH_DB = "iocgis_bench_diff"
CHANGED = sql.Identifier("bench_diff", "changed")
TARGET = sql.Identifier("bench_diff", "changes")


def synthetic_db(rows: int) -> str:
    """A migrated scratch database whose land.parcels holds ``rows`` synthetic squares."""
    from iocgis import migrate

    server = database_url()
    head, _, _ = server.rpartition("/")
    url = f"{head}/{SCRATCH_DB}"
    try:  # made by an earlier run: reuse it
        with psycopg.connect(url) as conn:
            if conn.execute("SELECT count(*) FROM land.parcels").fetchone()[0] == rows:
                return url
    except psycopg.Error:
        pass
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(SCRATCH_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
            sql.Identifier(SCRATCH_DB)))
    migrate.upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO land.parcels (commune_code, sheet_no, parcel_no, land_use, area_m2, "
            "holder_name, address, geom) SELECT '260' || lpad((i %% 95)::text, 2, '0'), i / 1000, "
            "i %% 1000, (ARRAY['ODT','ONT','LUC','CLN','TMD'])[1 + i %% 5], 200 + i %% 800, "
            "'Nguyễn Văn ' || i, 'Số ' || i || ' đường Đồng Khởi', ST_Multi(ST_MakeEnvelope("
            "106.3 + (i %% 1000) * 0.0012, 10.5 + (i / 1000) * 0.0012, "
            "106.3 + (i %% 1000) * 0.0012 + 0.001, 10.5 + (i / 1000) * 0.0012 + 0.001, 4326)) "
            "FROM generate_series(0, %s - 1) i", (rows,))
        conn.execute("ANALYZE land.parcels")
    return url


def changed_copy(conn: psycopg.Connection) -> dict[str, int]:
    """The staged import: a copy of the live parcels with known changes."""
    conn.execute("DROP SCHEMA IF EXISTS bench_diff CASCADE")
    conn.execute("CREATE SCHEMA bench_diff")
    conn.execute(sql.SQL("CREATE TABLE {} AS TABLE land.parcels").format(CHANGED))
    land_use = conn.execute(sql.SQL(
        "UPDATE {} SET land_use = CASE WHEN land_use = 'TMD' THEN 'ODT' ELSE 'TMD' END "
        "WHERE fid % 20 = 1").format(CHANGED)).rowcount
    shape = conn.execute(sql.SQL("UPDATE {} SET geom = ST_Multi(ST_Buffer(geom, 0.00001, "
                                 "'join=mitre')) WHERE fid % 100 = 3").format(CHANGED)).rowcount
    removed = conn.execute(sql.SQL("DELETE FROM {} WHERE fid % 100 = 7").format(CHANGED)).rowcount
    added = conn.execute(sql.SQL(
        "INSERT INTO {t} (fid, commune_code, sheet_no, parcel_no, land_use, area_m2, geom, "
        "updated_at) SELECT fid + 10000000, commune_code, sheet_no + 100000, parcel_no, "
        "land_use, area_m2, ST_Translate(geom, 0, 0.5), now() FROM {t} WHERE fid % 100 = 9"
    ).format(t=CHANGED)).rowcount
    conn.execute(sql.SQL("ANALYZE {}").format(CHANGED))
    return {"land_use": land_use, "shape": shape, "removed": removed, "added": added}


def plain_join(conn: psycopg.Connection, columns: list[str]) -> int:
    """The peer: a full outer join on the key counting the rows that differ."""
    key = ("commune_code", "sheet_no", "parcel_no")
    differs = sql.SQL(" OR ").join(
        [sql.SQL("l.{c} IS DISTINCT FROM s.{c}").format(c=sql.Identifier(c)) for c in columns]
        + [sql.SQL("NOT ST_Equals(l.geom, s.geom)")])
    row = conn.execute(sql.SQL(
        "SELECT count(*) FROM land.parcels l FULL JOIN {s} s ON {on} WHERE l.fid IS NULL OR "
        "s.fid IS NULL OR {differs}").format(
            s=CHANGED, on=sql.SQL(" AND ").join(sql.SQL("l.{c} = s.{c}").format(
                c=sql.Identifier(c)) for c in key), differs=differs)).fetchone()
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=0,
                        help="synthetic parcels in a scratch database (default: the province demo)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.rows:
        url, source = synthetic_db(args.rows), f"{args.rows:,} synthetic parcels"
    else:
        from common import ensure_province_db

        url, source = ensure_province_db(), "the province demo"
    layer = get_registry().get("land.parcels")
    with psycopg.connect(url, autocommit=True) as conn:
        live_rows = conn.execute("SELECT count(*) FROM land.parcels").fetchone()[0]
        made = changed_copy(conn)
        ours: list[float] = []
        peer: list[float] = []
        summary = None
        found = 0
        for _ in range(args.repeat):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(TARGET))
            started = time.perf_counter()
            with conn.transaction():
                summary = diff.compute(conn, layer, sql.Identifier("land", "parcels"), CHANGED,
                                       TARGET, "replace")
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            with conn.transaction():  # the same memory for its hash join as ours
                conn.execute(f"SET LOCAL work_mem = '{diff.WORK_MEM}'")
                found = plain_join(conn, diff.compared_columns(layer))
            peer.append(time.perf_counter() - started)
        conn.execute("DROP SCHEMA bench_diff CASCADE")
    assert summary is not None
    differing = summary.added + summary.removed + summary.changed
    best_ours, best_peer = min(ours), min(peer)
    lines = [
        f"Diff of a pending import against the live layer, {source} ({live_rows:,} live rows; "
        f"the staged copy: {made['land_use']:,} land uses and {made['shape']:,} shapes changed, "
        f"{made['removed']:,} removed, {made['added']:,} added). Best of {args.repeat}.",
        "",
        "| | seconds | rows found |",
        "| --- | --- | --- |",
        f"| ours: `importers/diff.py` (writes every difference with fields, before/after) | "
        f"{best_ours:.2f} | {differing:,} (+{summary.added:,} −{summary.removed:,} "
        f"±{summary.changed:,}; fields {summary.fields}) |",
        f"| plain SQL full outer join, counting (`IS DISTINCT FROM`, `ST_Equals`; the same "
        f"work_mem {diff.WORK_MEM}) | "
        f"{best_peer:.2f} | {found:,} |",
        "",
        f"Ours: {ratio(best_ours, best_peer)} than the plain join.",
    ]
    text = "\n".join(lines)
    print(text)
    assert differing == found, (differing, found)
    write_results_section("diff", text)


if __name__ == "__main__":
    main()
