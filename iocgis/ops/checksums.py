"""Row counts and checksums of every table of a database, to compare a restore with its source.

A table's checksum sums the MD5 of each row's text (two 64-bit halves, exact numerics): it does
not depend on the rows' physical order, needs no key, and holds no big string in memory. The
session's output settings are fixed so that the same rows give the same text on any server.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

# Permanent tables with rows of their own (partitions, not their parents), not an extension's.
TABLES_SQL = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence = 'p'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""
TEXT_SETTINGS = ("SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'",
                 "SET extra_float_digits = 1", "SET bytea_output = 'hex'")
TABLE_SUM = """
SELECT count(*), coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0),
       coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)
FROM (SELECT md5(t::text) AS h FROM {table} AS t) AS hashed
"""


def table_checksums(conn: psycopg.Connection) -> dict[str, dict[str, int | str]]:
    """``{"schema.table": {"rows": n, "sum": "..."}}`` for every table, in this session's
    snapshot (call it inside the transaction whose moment it should describe)."""
    for statement in TEXT_SETTINGS:
        conn.execute(statement)
    found: dict[str, dict[str, int | str]] = {}
    for schema, table in conn.execute(TABLES_SQL).fetchall():
        summed = conn.execute(sql.SQL(TABLE_SUM).format(table=sql.Identifier(schema, table))).fetchone()
        assert summed is not None
        rows, low, high = summed
        found[f"{schema}.{table}"] = {"rows": int(rows), "sum": f"{low}:{high}"}
    return found


@dataclass(frozen=True)
class Comparison:
    """What a restored database holds against what its source held."""

    matched: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def compare(expected: dict[str, dict], found: dict[str, dict]) -> Comparison:
    problems = [f"{name}: missing from the restore" for name in sorted(expected.keys() - found.keys())]
    problems += [f"{name}: in the restore, not in the source"
                 for name in sorted(found.keys() - expected.keys())]
    matched = 0
    for name in sorted(expected.keys() & found.keys()):
        want, got = expected[name], found[name]
        if want["rows"] != got["rows"]:
            problems.append(f"{name}: {got['rows']} rows restored, {want['rows']} in the source")
        elif want["sum"] != got["sum"]:
            problems.append(f"{name}: {got['rows']} rows but their checksum differs from the source's")
        else:
            matched += 1
    return Comparison(matched, tuple(problems))
