"""Tile-ready copies of the large polygon and line layers, stored beside the source.

A tile of ``land.parcels`` spent its time on rows it did not draw and on work that is the same
for every tile: at zoom 13 the index hands over ~20,000 parcels of which the ``min_area_px``
rule keeps ~2,500, and each drawn row is transformed to EPSG:3857 (and, at label zooms, gets
a point on its surface) on every tile it touches. ``generalised.<schema>__<table>`` holds per
row what does not depend on the tile:

- ``shape``: the geometry in EPSG:3857 (``ST_Transform(geom, 3857)``, the same value the tile
  statement computed), simplified per tile as before, so every tolerance and thinning level
  reads it;
- ``label``: ``ST_Transform(ST_PointOnSurface(geom), 3857)`` for polygon layers with a label;
- ``size``: the bounding-box size the ``min_area_px`` rule and the thinning rank compare;
- ``bbox``: the source geometry's envelope, so rows are found by the same box as before;
- the attributes the layer's tiles carry, its commune field and its ``minzoom_by`` field
  (never a personal-data field).

Partial GiST indexes ``WHERE size >= <floor>`` serve the low zooms: the floor is the smallest
minimum size any tile of that zoom over the layer can ask for, so those scans skip the rows
too small to be drawn there (zoom 13 of the province demo reads 284,000 of 1M parcels).
Storing the geometry simplified per zoom was measured too: for parcels (5 vertices) it was
no faster than simplifying at tile time and took three times the space, so the shape is
stored once.

Tiles read the copy only when ``generalised.built`` says it was built for the live
``data_version`` (``TileRenderer``); otherwise from the layer itself. Tiles are the same
either way (``tests/tiles/test_generalised.py`` decodes and compares).

Life cycle: an import in ``replace`` mode builds ``generalised.s<import id>`` from its
staging table next to the other indexes (``build_staged``); the import swap publishes it in
its own transaction (``publish``); an import that writes in place (append, upsert) or a
rollback leaves the layer without a current copy until ``rebuild``. Row-level security copies
the layer's own policy (its roles and rule: a commune-limited caller reads only their
communes' rows) and adds that the role may read a column of the layer.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql

from iocgis.layers import LayerDef

SCHEMA = "generalised"
# Zooms from the layer's minzoom up to this one may get a partial index by size.
MAX_INDEXED_ZOOM = 16
# A partial index for a zoom when at most this share of the rows reaches its floor, for layers
# of at least this many rows (a small layer's scans are cheap anyway).
INDEX_SHARE = 0.5
INDEX_MIN_ROWS = 10_000
TILE_PIXELS = 256


@dataclass(frozen=True)
class GeneralisedTable:
    """A current tile-ready copy of one layer: its table and the size floor of each zoom that
    has a partial index."""

    layer_id: str
    table_name: str
    floors: tuple[tuple[int, float], ...] = ()

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(SCHEMA, self.table_name)

    def floor_at(self, zoom: int) -> float | None:
        return dict(self.floors).get(zoom)


def eligible(layer: LayerDef) -> bool:
    """Tiled polygon and line layers located by their own geometry (not a position with a
    footprint beside it)."""
    return (layer.tiles is not None and layer.footprint is None
            and layer.geometry in ("MultiPolygon", "MultiLineString"))


def has_label(layer: LayerDef) -> bool:
    return layer.geometry == "MultiPolygon" and layer.label is not None


def live_name(layer: LayerDef) -> str:
    return f"{layer.schema_name}__{layer.table_name}"


def staged_name(import_id: int) -> str:
    return f"s{import_id}"


def carried_fields(layer: LayerDef) -> tuple[str, ...]:
    """The layer's fields the copy holds: every tile attribute of any zoom, the commune field
    and the thinning field, in registry order; never a personal-data field."""
    assert layer.tiles is not None
    wanted = {name for names in layer.tiles.attributes.values() for name in names}
    if layer.commune_field:
        wanted.add(layer.commune_field)
    if layer.tiles.minzoom_by is not None:
        wanted.add(layer.tiles.minzoom_by.field)
    return tuple(f.name for f in layer.fields if f.name in wanted and not f.pii)


def size_sql(layer: LayerDef, alias: str = "l") -> sql.Composable:
    """A feature's size from its bounding box, in degrees: area for polygons, width plus
    height for lines (the rule of ``iocgis.tiles.sql``, computed once here)."""
    g = sql.SQL("{}.geom").format(sql.Identifier(alias))
    width = sql.SQL("(ST_XMax({g}) - ST_XMin({g}))").format(g=g)
    height = sql.SQL("(ST_YMax({g}) - ST_YMin({g}))").format(g=g)
    op = sql.SQL(" * ") if layer.geometry == "MultiPolygon" else sql.SQL(" + ")
    return sql.SQL("{}{}{}").format(width, op, height)


def zoom_floor(layer: LayerDef, zoom: int, max_abs_lat: float) -> float:
    """The smallest ``min_area_px`` threshold (degrees squared) of any tile of ``zoom`` that can
    hold a row of the layer: the tile statement's threshold with the cosine of the highest
    latitude a tile centre can have (the layer's extent plus one tile)."""
    assert layer.tiles is not None
    pixel_deg = 360.0 / (TILE_PIXELS * 2 ** zoom)
    lat = min(89.9, max_abs_lat + 360.0 / 2 ** zoom)
    return layer.tiles.min_area_px * pixel_deg * pixel_deg * math.cos(math.radians(lat))


def _build(conn: psycopg.Connection, layer: LayerDef, source: sql.Composable,
           name: str) -> dict[int, float]:
    """Create ``generalised.<name>`` from ``source`` (a table of the layer's columns) with its
    indexes and access rules; returns the floors of the zooms given a partial index."""
    assert layer.tiles is not None
    target = sql.Identifier(SCHEMA, name)
    columns = [sql.SQL("l.{}").format(sql.Identifier(f)) for f in carried_fields(layer)]
    label = (sql.SQL(", ST_Transform(ST_PointOnSurface(l.geom), 3857) AS label")
             if has_label(layer) else sql.SQL(""))
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    conn.execute(sql.SQL(
        "CREATE TABLE {target} WITH (parallel_workers = 0) AS SELECT l.fid{sep}{columns}, "
        "{size} AS size, ST_Envelope(l.geom) AS bbox, ST_Transform(l.geom, 3857) AS shape{label} "
        "FROM {source} l WHERE l.geom IS NOT NULL"
    ).format(target=target, sep=sql.SQL(", ") if columns else sql.SQL(""),
             columns=sql.SQL(", ").join(columns), size=size_sql(layer), label=label,
             source=source))
    conn.execute(sql.SQL("CREATE INDEX {} ON {} USING gist (bbox)").format(
        sql.Identifier(f"{name}_bbox"), target))
    floors: dict[int, float] = {}
    stats = conn.execute(sql.SQL(
        "SELECT count(*), coalesce(max(greatest(abs(ST_YMin(bbox)), abs(ST_YMax(bbox)))), 0) "
        "FROM {}").format(target)).fetchone()
    rows, max_lat = (int(stats[0]), float(stats[1])) if stats else (0, 0.0)
    if layer.geometry == "MultiPolygon" and rows >= INDEX_MIN_ROWS:
        zooms = range(layer.tiles.minzoom, min(layer.tiles.maxzoom, MAX_INDEXED_ZOOM) + 1)
        candidates = {z: zoom_floor(layer, z, max_lat) for z in zooms}
        counted = conn.execute(sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.SQL("count(*) FILTER (WHERE size >= {})").format(
                sql.Literal(f)) for f in candidates.values()), target)).fetchone()
        for (zoom, floor), reaching in zip(candidates.items(), counted or ()):
            if reaching <= rows * INDEX_SHARE:
                floors[zoom] = floor
                conn.execute(sql.SQL(
                    "CREATE INDEX {} ON {} USING gist (bbox) WHERE size >= {}").format(
                        sql.Identifier(f"{name}_z{zoom}"), target, sql.Literal(floor)))
    conn.execute(sql.SQL("ANALYZE {}").format(target))
    _copy_access(conn, layer, target)
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
        target, sql.Literal(json.dumps({"layer": layer.id, "floors": floors}))))
    return floors


def _copy_access(conn: psycopg.Connection, layer: LayerDef, target: sql.Composable) -> None:
    """Row-level security as on the layer: each of its SELECT policies (roles and rule), with
    the added condition that the role may read a column of the layer (so a grant revoked on
    the layer also hides its copy). Readable by PUBLIC under those policies; a role without a
    policy reads no row. A layer without row-level security: only the grant condition."""
    source = f"{layer.schema_name}.{layer.table_name}"
    granted = sql.SQL("(SELECT has_any_column_privilege({}, 'SELECT'))").format(
        sql.Literal(sql.Identifier(layer.schema_name, layer.table_name).as_string(conn)))
    conn.execute("SET search_path = pg_catalog")  # rules printed fully schema-qualified
    try:
        flags = conn.execute("SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass(%s)",
                             (source,)).fetchone()
        policies = conn.execute(
            "SELECT polname, coalesce((SELECT array_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE "
            "quote_ident(pg_get_userbyid(r)) END) FROM unnest(polroles) r), '{}'), "
            "pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polrelid = to_regclass(%s) "
            "AND polcmd IN ('r', '*') AND polpermissive ORDER BY polname", (source,)).fetchall()
    finally:
        conn.execute("RESET search_path")
    conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(target))
    conn.execute(sql.SQL("GRANT SELECT ON {} TO PUBLIC").format(target))
    if not (flags and flags[0]):
        conn.execute(sql.SQL("CREATE POLICY layer_read ON {} FOR SELECT USING ({})").format(
            target, granted))
        return
    for name, roles, qual in policies:
        rule = sql.SQL("{} AND ({})").format(granted, sql.SQL(qual)) if qual else granted
        conn.execute(sql.SQL("CREATE POLICY {} ON {} FOR SELECT TO {} USING ({})").format(
            sql.Identifier(name), target, sql.SQL(", ").join(map(sql.SQL, roles)), rule))


def _record(conn: psycopg.Connection, layer: LayerDef, name: str, version: int,
            floors: Mapping[int, float]) -> None:
    conn.execute(
        "INSERT INTO generalised.built (layer_id, table_name, data_version, floors) "
        "VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (layer_id) DO UPDATE SET "
        "table_name = EXCLUDED.table_name, data_version = EXCLUDED.data_version, "
        "floors = EXCLUDED.floors, built_at = now()",
        (layer.id, name, version, json.dumps({str(z): f for z, f in floors.items()})))


def build_staged(conn: psycopg.Connection, layer: LayerDef, import_id: int,
                 staging: sql.Composable) -> None:
    """The copy of an import's staging table, kept until its swap publishes it."""
    if eligible(layer):
        _build(conn, layer, staging, staged_name(import_id))


def start_staged(conn: psycopg.Connection, url: str | None, layer: LayerDef, import_id: int,
                 staging: sql.Composable) -> Callable[[], None]:
    """``build_staged`` on a connection of its own while the caller builds the staging
    table's indexes (each statement uses one core); returns the wait, which re-raises its
    error. Without ``url``: built now on ``conn``."""
    if not eligible(layer):
        return lambda: None
    if url is None:
        build_staged(conn, layer, import_id, staging)
        return lambda: None
    failure: list[BaseException] = []

    def build() -> None:
        try:
            with psycopg.connect(url, autocommit=True) as other:
                build_staged(other, layer, import_id, staging)
        except BaseException as exc:  # re-raised by the wait
            failure.append(exc)

    worker = threading.Thread(target=build, name="iocgis-tile-copy")
    worker.start()

    def wait() -> None:
        worker.join()
        if failure:
            raise failure[0]
    return wait


def drop_staged(conn: psycopg.Connection, import_id: int) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(
        sql.Identifier(SCHEMA, staged_name(import_id))))


def publish(conn: psycopg.Connection, layer: LayerDef, import_id: int, version: int) -> None:
    """In the import swap's transaction, once the new ``data_version`` is known: the staged
    copy becomes the layer's (built from the rows that just went live); without one (an
    import written in place) the layer has no current copy and tiles read the layer."""
    if not eligible(layer):
        return
    staged = sql.Identifier(SCHEMA, staged_name(import_id))
    live = sql.Identifier(SCHEMA, live_name(layer))
    comment = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')",
                           (staged.as_string(conn),)).fetchone()
    if comment is None or comment[0] is None:
        conn.execute("DELETE FROM generalised.built WHERE layer_id = %s", (layer.id,))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(live))
        return
    floors = {int(z): float(f) for z, f in json.loads(comment[0])["floors"].items()}
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(live))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
        staged, sql.Identifier(live_name(layer))))
    _record(conn, layer, live_name(layer), version, floors)


def rebuild(conn: psycopg.Connection, layer: LayerDef) -> int:
    """Build the layer's copy from its live rows (after an in-place import or a rollback, or
    for a database loaded before copies existed); returns the data version it matches. Holds
    the layer's catalogue row meanwhile, so no import swap runs in between."""
    if not eligible(layer):
        raise ValueError(f"{layer.id} is not a tiled polygon or line layer")
    with conn.transaction():
        row = conn.execute("SELECT data_version FROM meta.layers WHERE id = %s FOR UPDATE",
                           (layer.id,)).fetchone()
        if row is None:
            raise ValueError(f"{layer.id} is not in meta.layers: migrate first")
        name = live_name(layer)
        floors = _build(conn, layer, sql.Identifier(layer.schema_name, layer.table_name), name)
        _record(conn, layer, name, int(row[0]), floors)
    return int(row[0])


def drop(conn: psycopg.Connection, layer: LayerDef) -> None:
    """Remove the layer's copy: its tiles read the layer itself."""
    with conn.transaction():
        conn.execute("DELETE FROM generalised.built WHERE layer_id = %s", (layer.id,))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(
            sql.Identifier(SCHEMA, live_name(layer))))


CURRENT_SQL = ("SELECT b.layer_id, b.table_name, b.floors FROM generalised.built b "
               "JOIN meta.layers l ON l.id = b.layer_id AND l.data_version = b.data_version")


def current_tables(rows: list[tuple]) -> dict[str, GeneralisedTable]:
    """The rows of ``CURRENT_SQL`` as copies by layer id."""
    return {layer_id: GeneralisedTable(layer_id, table_name, tuple(sorted(
        (int(z), float(f)) for z, f in (floors or {}).items())))
        for layer_id, table_name, floors in rows}
