"""Exact group totals kept beside a layer, so totals over a commune or a drawn region do not
grow with the rows in it (issue 20): per group field value, commune and fixed grid cell, the
count, sums, non-null counts and true counts of the features and their geodesic area or length.

A feature belongs to the cell of its box's centre when its box (position and footprint) lies
within ``MARGIN_DEG`` of that centre ("small"); then it lies wholly inside any region that
covers its cell grown by the margin, so the cell's totals count it exactly (areas unclipped).
Larger features are listed in ``summaries.big_features`` and always measured exactly. Cell -1
holds each commune's totals over every feature (the choropleth by recorded commune).

Built by the import swap in its transaction (``rebuild``), from the registry's fields
(``summary_fields``); ``summaries.built`` records the data version, grid and fields, and the
query API uses the summaries only when they match (``api/query/summaries.py``). No
personal-data field is summarised.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from iocgis.layers import FieldDef, LayerDef

GRID_DEG = 0.005  # about 550 m
MARGIN_DEG = 0.0005  # about 55 m: houses and parcels are far smaller
COMMUNE_TOTAL = -1  # the cell of a commune's totals over all its features
BIG = -2  # the cell of a feature larger than the margin (counted in the commune totals only)
CELL_BASE = 1_000_000  # cell id = (i + OFFSET) * CELL_BASE + (j + OFFSET)
CELL_OFFSET = 100_000
# Layers kept summarised: bulk layers that only imports write (live layers change row by row).
SUMMARISED = ("land.parcels", "housing.houses")


@dataclass(frozen=True)
class SummaryFields:
    group_fields: tuple[str, ...]  # the commune field first, then code-list text fields
    sums: tuple[FieldDef, ...]  # totalled numeric fields (sum and non-null count)
    flags: tuple[FieldDef, ...]  # boolean fields (true count)
    measure: str | None  # 'area' or 'length' (geodesic, of ``column``)
    column: str  # the geometry areas and lengths are measured on

    @property
    def metrics(self) -> tuple[str, ...]:
        out = ["n"]
        for f in self.sums:
            out += [f"sum:{f.name}", f"cnt:{f.name}"]
        out += [f"true:{f.name}" for f in self.flags]
        if self.measure:
            out.append(self.measure)
        return tuple(out)


def summary_fields(layer: LayerDef) -> SummaryFields | None:
    """What the summaries of ``layer`` hold; None when the layer is not summarised."""
    if layer.id not in SUMMARISED or not layer.is_spatial:
        return None
    plain = [f for f in layer.fields if not f.pii]
    groups = [layer.commune_field] if layer.commune_field else []
    groups += [f.name for f in plain if f.type == "text" and f.domain is not None
               and f.name not in groups]
    geometry = layer.geometry or ""
    area = layer.area_column
    measure = "area" if area else "length" if "LineString" in geometry else None
    return SummaryFields(tuple(groups), tuple(f for f in plain if f.totalled),
                         tuple(f for f in plain if f.type == "boolean"), measure,
                         area or "geom")


def cell_id_sql(i: sql.Composable, j: sql.Composable) -> sql.Composed:
    """The id of the grid cell of column ``i`` and row ``j`` (whole numbers), in SQL."""
    return sql.SQL("(({i}::bigint + {o}) * {b} + ({j}::bigint + {o}))").format(
        i=i, j=j, o=sql.Literal(CELL_OFFSET), b=sql.Literal(CELL_BASE))


def cell_sql(x: sql.Composable, y: sql.Composable) -> sql.Composed:
    """The id of the grid cell holding (x, y), in SQL."""
    g = sql.Literal(GRID_DEG)
    return cell_id_sql(sql.SQL("floor({} / {})").format(x, g), sql.SQL("floor({} / {})").format(y, g))


def _box(layer: LayerDef, what: str, alias: str) -> sql.Composable:
    """ST_XMin/... of the feature's position and footprint together."""
    parts = [sql.SQL("ST_{}({})").format(sql.SQL(what), sql.Identifier(alias, "geom"))]
    if layer.footprint:
        parts.append(sql.SQL("ST_{}({})").format(sql.SQL(what),
                                                 sql.Identifier(alias, "footprint")))
    pick = "LEAST" if what.endswith("Min") else "GREATEST"
    return parts[0] if len(parts) == 1 else sql.SQL("{}({})").format(
        sql.SQL(pick), sql.SQL(", ").join(parts))


def feature_cell(layer: LayerDef, alias: str = "t") -> sql.Composed:
    """The cell of a feature: the one holding its box's centre."""
    xmin, xmax, ymin, ymax = (_box(layer, w, alias) for w in ("XMin", "XMax", "YMin", "YMax"))
    return cell_sql(sql.SQL("({} + {}) / 2").format(xmin, xmax),
                    sql.SQL("({} + {}) / 2").format(ymin, ymax))


def feature_small(layer: LayerDef, alias: str = "t") -> sql.Composed:
    """The feature's box lies within the margin of its centre (so inside its grown cell)."""
    xmin, xmax, ymin, ymax = (_box(layer, w, alias) for w in ("XMin", "XMax", "YMin", "YMax"))
    return sql.SQL("(({xmax} - {xmin}) / 2 <= {m} AND ({ymax} - {ymin}) / 2 <= {m})").format(
        xmin=xmin, xmax=xmax, ymin=ymin, ymax=ymax, m=sql.Literal(MARGIN_DEG))


def stamp(conn: psycopg.Connection, layer: LayerDef, data_version: int) -> None:
    """Record the data version the layer's summaries (built from its incoming rows) are of."""
    conn.execute("UPDATE summaries.built SET data_version = %s WHERE layer_id = %s",
                 (data_version, layer.id))


def rebuild(conn: psycopg.Connection, layer: LayerDef, data_version: int,
            source: sql.Composable | None = None) -> bool:
    """Rebuild the summaries of ``layer`` from its live table, or from ``source`` (the staged
    table about to replace it: built before the swap takes its locks, then ``stamp``), inside
    the caller's transaction. False, and nothing kept, when the layer is not summarised."""
    fields = summary_fields(layer)
    conn.execute("DELETE FROM summaries.cells WHERE layer_id = %s", (layer.id,))
    conn.execute("DELETE FROM summaries.big_features WHERE layer_id = %s", (layer.id,))
    conn.execute("DELETE FROM summaries.built WHERE layer_id = %s", (layer.id,))
    if fields is None:
        return False
    table = source if source is not None else sql.Identifier(layer.schema_name, layer.table_name)
    commune = (sql.SQL("t.{}").format(sql.Identifier(layer.commune_field))
               if layer.commune_field else sql.SQL("''"))
    measure: sql.Composable = sql.SQL("NULL::numeric")
    if fields.measure:
        fn = "ST_Area" if fields.measure == "area" else "ST_Length"
        measure = sql.SQL("coalesce({}({}::geography), 0)::numeric").format(
            sql.SQL(fn), sql.Identifier("t", fields.column))
    wanted = sorted({*fields.group_fields, *(f.name for f in fields.sums),
                     *(f.name for f in fields.flags)} - {layer.commune_field or ""})
    conn.execute(sql.SQL(
        "CREATE TEMP TABLE summary_rows ON COMMIT DROP AS SELECT t.fid, {commune} AS commune,"
        " {cols} CASE WHEN {small} THEN {cell} ELSE {big} END AS cell, {measure} AS measure"
        " FROM {table} t WHERE t.geom IS NOT NULL").format(
        commune=commune, cols=sql.SQL("").join(sql.SQL("t.{}, ").format(sql.Identifier(n))
                                               for n in wanted),
        small=feature_small(layer), cell=feature_cell(layer), big=sql.Literal(BIG),
        measure=measure, table=table))
    conn.execute(sql.SQL("INSERT INTO summaries.big_features (layer_id, fid)"
                         " SELECT {}, fid FROM summary_rows WHERE cell = {}").format(
        sql.Literal(layer.id), sql.Literal(BIG)))
    aggregates: list[sql.Composable] = [sql.SQL("count(*)::numeric")]
    for f in fields.sums:
        col = sql.Identifier(f.name)
        aggregates += [sql.SQL("coalesce(sum({}), 0)::numeric").format(col),
                       sql.SQL("count({})::numeric").format(col)]
    aggregates += [sql.SQL("count(*) FILTER (WHERE {})::numeric").format(sql.Identifier(f.name))
                   for f in fields.flags]
    if fields.measure:
        aggregates.append(sql.SQL("sum(measure)"))
    metrics = fields.metrics
    for group in fields.group_fields:
        key = (sql.SQL("commune") if group == layer.commune_field
               else sql.SQL("{}::text").format(sql.Identifier(group)))
        # per cell, and per commune over every feature (the rollup: cell NULL -> -1)
        conn.execute(sql.SQL(
            "INSERT INTO summaries.cells (layer_id, group_field, group_key, commune_code, cell,"
            ' "values") SELECT {layer}, {group}, key, commune, coalesce(cell, {total}), v'
            " FROM (SELECT {key} AS key, commune, cell, ARRAY[{aggs}] AS v FROM summary_rows"
            " GROUP BY GROUPING SETS (({key}, commune, cell), ({key}, commune))) a"
            " WHERE cell IS DISTINCT FROM {big}").format(
            layer=sql.Literal(layer.id), group=sql.Literal(group), key=key,
            total=sql.Literal(COMMUNE_TOTAL), aggs=sql.SQL(", ").join(aggregates),
            big=sql.Literal(BIG)))
    conn.execute(
        "INSERT INTO summaries.built (layer_id, table_name, data_version, grid_deg, margin_deg,"
        " group_fields, metrics) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (layer.id, f"{layer.schema_name}.{layer.table_name}", data_version, GRID_DEG,
         MARGIN_DEG, list(fields.group_fields), list(metrics)))
    conn.execute("DROP TABLE summary_rows")
    return True
