"""The SQL of a tile: one statement per tile for every layer of a tileset.

Statements are built once per (layers, zoom, thinning level) and kept; what changes per tile
(the tile box, tolerances, limits) is bound. Identifiers come from the registry only and reach
SQL through ``psycopg.sql.Identifier``; values are bound parameters.

Shape (per layer, joined side by side so one round trip returns every layer):

    SELECT ST_AsMVT(t, <layer id>, 4096, 'geom', 'fid'), count(*) FROM (
      SELECT ST_AsMVTGeom(ST_Simplify(ST_Transform(geom, 3857), <tol>, true), <tile box>, ...)
             AS geom, fid, <attributes chosen by the registry for this zoom>
      FROM <schema>.<table>
      WHERE geom && <tile box in EPSG:4326, with the buffer>      -- GiST index on geom
        AND <minzoom_by thinning> AND <bounding box of at least min_area_px>
    ) t WHERE geom IS NOT NULL

Polygon layers with a label field also get a ``<layer id>:label`` layer: one point on each
polygon's surface, in the one tile that holds it, so a map labels each polygon once instead of
once per tile it crosses.

A layer with footprints (a house's position and its outline) draws in one MVT layer: the
footprint where a row has one at least ``min_area_px`` large at the zoom (a polygon, extruded
by the style), else the position (a point, drawn as a circle or symbol).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from psycopg import sql

from iocgis.layers import LayerDef
from iocgis.layers.types import STORAGE_SRID, field_type
from iocgis.tiles.generalised import GeneralisedTable
from iocgis.tiles.grid import ORIGIN_SHIFT, TileAddress, mercator_to_lonlat

log = logging.getLogger("iocgis.tiles")

TILE_SRID = 3857
LABEL_SUFFIX = ":label"
# Thinning levels 1 and 2 multiply the simplification tolerance and the minimum polygon size;
# level 3 keeps the level-2 tolerance and, instead of a larger minimum size, keeps only the
# largest features of the layer (a LIMIT), so a layer of uniformly small shapes still draws.
THIN_TOLERANCE_FACTOR = 3.0
THIN_AREA_FACTOR = 4.0
MAX_THIN_LEVEL = 3


def tolerance_factor(level: int) -> float:
    return THIN_TOLERANCE_FACTOR ** min(level, MAX_THIN_LEVEL - 1)


def area_factor(level: int) -> float:
    return 1.0 if level >= MAX_THIN_LEVEL else THIN_AREA_FACTOR ** level


@dataclass(frozen=True)
class LayerPart:
    """One MVT layer of a tile: a registry layer's shapes, or its label points."""

    layer: LayerDef
    attributes: tuple[str, ...]
    kind: Literal["shape", "label"] = "shape"
    # minzoom_by: the values shown at this zoom, or the values hidden at this zoom.
    shown_values: tuple[str, ...] | None = None
    hidden_values: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        """The MVT layer name: the registry id, plus ``:label`` for label points."""
        return self.layer.id + (LABEL_SUFFIX if self.kind == "label" else "")

    @property
    def is_polygon(self) -> bool:
        return self.layer.geometry == "MultiPolygon"

    @property
    def is_point(self) -> bool:
        return self.kind == "label" or (self.layer.geometry in ("Point", "MultiPoint")
                                        and not self.has_footprint)

    @property
    def has_footprint(self) -> bool:
        """Shapes of a layer with footprints: the footprint where a row has one big enough
        to see at this zoom (drawn extruded), else the position (drawn as a symbol)."""
        return self.kind == "shape" and self.layer.footprint is not None


def tile_attributes(layer: LayerDef, zoom: int,
                    allowed: Collection[str] | None = None) -> tuple[str, ...]:
    """The registry's attributes for this zoom, never a personal-data field; of those, only
    the ``allowed`` ones when given (the fields a sharing agreement names).

    The registry already refuses personal-data fields in ``tiles.attributes``; this second
    check keeps a hand-edited or future registry from leaking them into public tiles. (So
    tiles carry the same attributes for every caller: a subset of ``visible_fields`` of all.)
    """
    assert layer.tiles is not None
    chosen = []
    for name in layer.tiles.attributes_at(zoom):
        if allowed is not None and name not in allowed:
            continue
        if layer.field(name).pii:
            log.error("layer %s: personal-data field %r dropped from tiles", layer.id, name)
            continue
        chosen.append(name)
    return tuple(chosen)


def has_label_points(layer: LayerDef, zoom: int,
                     allowed: Collection[str] | None = None) -> bool:
    """Polygon layers whose label field is in their tiles at this zoom get label points."""
    return (layer.geometry == "MultiPolygon" and layer.label is not None
            and layer.label in tile_attributes(layer, zoom, allowed))


def layer_parts(layer: LayerDef, zoom: int,
                allowed: Collection[str] | None = None) -> tuple[LayerPart, ...]:
    assert layer.tiles is not None
    attributes = tile_attributes(layer, zoom, allowed)
    shown = hidden = None
    rank = layer.tiles.minzoom_by
    if rank is not None:
        if rank.default <= zoom:  # values not listed are shown: hide the listed late ones
            hidden = tuple(v for v, z in rank.values.items() if z > zoom)
        else:
            shown = tuple(v for v, z in rank.values.items() if z <= zoom)
    parts = [LayerPart(layer, attributes, "shape", shown, hidden)]
    if has_label_points(layer, zoom, allowed):
        parts.append(LayerPart(layer, attributes, "label", shown, hidden))
    return tuple(parts)


def _size_expr(part: LayerPart, copy: GeneralisedTable | None = None) -> sql.Composable:
    """A cheap size of a feature from its bounding box (degrees), for ranking (stored in the
    layer's tile-ready copy, ``iocgis.tiles.generalised``)."""
    if copy is not None:
        return sql.SQL("l.size")
    if part.has_footprint:
        return sql.SQL("coalesce((ST_XMax(l.footprint) - ST_XMin(l.footprint)) * "
                       "(ST_YMax(l.footprint) - ST_YMin(l.footprint)), 0)")
    if part.layer.geometry == "MultiPolygon":
        return sql.SQL("(ST_XMax(l.geom) - ST_XMin(l.geom)) * (ST_YMax(l.geom) - ST_YMin(l.geom))")
    return sql.SQL("(ST_XMax(l.geom) - ST_XMin(l.geom)) + (ST_YMax(l.geom) - ST_YMin(l.geom))")


def _shown_shape(part: LayerPart, p: str) -> sql.Composable:
    """The geometry a shape is drawn from: for a layer with footprints, the footprint when it
    covers at least min_area_px at this zoom, else the position."""
    if not part.has_footprint:
        return sql.SQL("l.geom")
    return sql.SQL("CASE WHEN {size} >= %({p}_minarea)s THEN l.footprint ELSE l.geom END"
                   ).format(size=_size_expr(part), p=sql.SQL(p))


def _geometry(part: LayerPart, p: str, copy: GeneralisedTable | None = None) -> sql.Composable:
    if part.kind == "label":
        if copy is not None:
            return sql.SQL("l.label")
        return sql.SQL("ST_Transform(ST_PointOnSurface(l.geom), {})").format(sql.Literal(TILE_SRID))
    projected = sql.SQL("l.shape") if copy is not None else sql.SQL("ST_Transform({}, {})").format(
        _shown_shape(part, p), sql.Literal(TILE_SRID))
    if part.is_point:
        return projected
    # Simplify in map units (EPSG:3857 metres); preserve collapsed shapes: small ones are
    # dropped by the area rule, not by the simplifier.
    return sql.SQL("ST_Simplify({}, %({p}_tol)s, true)").format(projected, p=sql.SQL(p))


def is_commune_scoped(layer: LayerDef) -> bool:
    """Layers whose rows a caller limited to some communes sees only for those communes (the
    registry's ``commune_field``, the rule of the access plan)."""
    return layer.commune_field is not None


def _layer_select(part: LayerPart, p: str, extent: int, buffer: int,
                  limited: bool, scoped: bool, table: sql.Composable | None = None,
                  copy: GeneralisedTable | None = None, zoom: int = 0) -> sql.Composed:
    """One MVT layer's sub-select; from the layer's tile-ready ``copy`` when given (the same
    rows, shapes and attributes, read without per-tile transforms)."""
    layer = part.layer
    columns: list[sql.Composable] = [sql.SQL("l.fid")]
    for name in part.attributes:
        column = sql.SQL("l.{}").format(sql.Identifier(name))
        if field_type(layer.field(name).type).mvt_text:  # MVT values: strings, numbers, booleans
            column = sql.SQL("{}::text AS {}").format(column, sql.Identifier(name))
        columns.append(column)
    box = sql.SQL("ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, {})").format(
        sql.Literal(STORAGE_SRID))
    # a footprint reaching into the tile from a position outside it is drawn too (each
    # column's GiST index answers its half)
    where: list[sql.Composable] = [sql.SQL(
        "(l.geom && {b} OR l.footprint && {b})" if part.has_footprint
        else "l.bbox && {b}" if copy is not None else "l.geom && {b}"
    ).format(b=box)]
    floor = copy.floor_at(zoom) if copy is not None else None
    if floor is not None:  # every row this zoom draws reaches it: its partial index serves
        where.append(sql.SQL("l.size >= {}").format(sql.Literal(floor)))
    rank = layer.tiles.minzoom_by if layer.tiles else None
    if rank is not None:
        field = sql.SQL("l.{}").format(sql.Identifier(rank.field))
        if part.shown_values is not None:
            where.append(sql.SQL("{} = ANY(%({p}_values)s)").format(field, p=sql.SQL(p)))
        elif part.hidden_values:
            where.append(sql.SQL("({f} IS NULL OR NOT {f} = ANY(%({p}_values)s))").format(
                f=field, p=sql.SQL(p)))
    if scoped and is_commune_scoped(layer):
        where.append(sql.SQL("l.{} = ANY(%(communes)s)").format(
            sql.Identifier(layer.commune_field)))
    if layer.geometry == "MultiPolygon":
        where.append(sql.SQL("{} >= %({p}_minarea)s").format(_size_expr(part, copy), p=sql.SQL(p)))
    # OFFSET 0 fences the subquery: without it the planner pushes "geom IS NOT NULL" into the
    # scan and evaluates ST_AsMVTGeom twice per row (five times for label points).
    order = sql.SQL(" OFFSET 0")
    if limited:
        order = sql.SQL(" ORDER BY {} DESC, l.fid LIMIT %({p}_limit)s").format(
            _size_expr(part, copy), p=sql.SQL(p))
    # Label points: no buffer, no clipping, so each point lands in exactly one tile.
    buffer_px, clip = (0, "false") if part.kind == "label" else (buffer, "true")
    return sql.SQL(
        "SELECT ST_AsMVT(t, %({p}_name)s, {extent}, 'geom', 'fid') AS mvt, count(*) AS n FROM ("
        "SELECT ST_AsMVTGeom({geom}, ST_MakeEnvelope(%(xmin)s, %(ymin)s, %(xmax)s, %(ymax)s, {srid}),"
        " {extent}, {buffer}, {clip}) AS geom, {columns}"
        " FROM {table} l WHERE {where}{order}) t WHERE t.geom IS NOT NULL{inside}"
    ).format(p=sql.SQL(p), extent=sql.Literal(extent), buffer=sql.Literal(buffer_px),
             clip=sql.SQL(clip), geom=_geometry(part, p, copy), srid=sql.Literal(TILE_SRID),
             columns=sql.SQL(", ").join(columns),
             table=table or (copy.ident if copy is not None
                             else sql.Identifier(layer.schema_name, layer.table_name)),
             where=sql.SQL(" AND ").join(where), order=order,
             inside=sql.SQL(
                 " AND ST_X(t.geom) >= 0 AND ST_X(t.geom) < {e} AND ST_Y(t.geom) > 0"
                 " AND ST_Y(t.geom) <= {e}").format(e=sql.Literal(extent))
             if part.kind == "label" else sql.SQL(""))


@dataclass(frozen=True)
class TileStatement:
    """One SQL statement rendering some layers of a tile; run with ``params_for``."""

    text: str
    parts: tuple[LayerPart, ...]
    level: int
    extent: int
    buffer: int
    scoped: bool = False  # binds %(communes)s: rows of commune-recording layers filtered

    @property
    def needs_communes(self) -> bool:
        return self.scoped and any(is_commune_scoped(part.layer) for part in self.parts)

    @property
    def layer_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(part.layer.id for part in self.parts))

    def params_for(self, tile: TileAddress, simplify_px: float,
                   limits: dict[str, int] | None = None,
                   communes: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The bound values for one tile: its boxes, tolerances, areas, limits, and the
        caller's communes for a scoped statement."""
        xmin, ymin, xmax, ymax = tile.bounds_3857()
        margin = (xmax - xmin) * self.buffer / self.extent
        west, south, east, north = _lonlat_box(xmin - margin, ymin - margin,
                                               xmax + margin, ymax + margin)
        pixel_deg = 360.0 / (256 * 2 ** tile.z)
        area_px_deg2 = pixel_deg * pixel_deg * math.cos(math.radians(tile.center_lat()))
        tol = simplify_px * tile.pixel_m * tolerance_factor(self.level)
        params: dict[str, Any] = {"xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax,
                                  "w": west, "s": south, "e": east, "n": north}
        if self.needs_communes:
            if not communes:  # a scoped statement without communes would show every row
                raise ValueError("a commune-scoped tile statement needs the caller's communes")
            params["communes"] = list(communes)
        for i, part in enumerate(self.parts):
            p = f"l{i}"
            params[f"{p}_name"] = part.name
            if not part.is_point:
                params[f"{p}_tol"] = tol
            if part.shown_values is not None:
                params[f"{p}_values"] = list(part.shown_values)
            elif part.hidden_values:
                params[f"{p}_values"] = list(part.hidden_values)
            if part.is_polygon or part.has_footprint:
                assert part.layer.tiles is not None
                params[f"{p}_minarea"] = (part.layer.tiles.min_area_px * area_px_deg2
                                          * area_factor(self.level))
            if self.level >= MAX_THIN_LEVEL:
                params[f"{p}_limit"] = (limits or {}).get(part.name, 10_000)
        return params


def _lonlat_box(xmin: float, ymin: float, xmax: float, ymax: float) -> tuple[float, ...]:
    def clamp(v: float) -> float:
        return max(min(v, ORIGIN_SHIFT), -ORIGIN_SHIFT)

    west, south = mercator_to_lonlat(clamp(xmin), clamp(ymin))
    east, north = mercator_to_lonlat(clamp(xmax), clamp(ymax))
    return west, south, east, north


def build_statement(layers: tuple[LayerDef, ...], zoom: int, *, level: int = 0,
                    extent: int = 4096, buffer: int = 64,
                    only: tuple[str, ...] | None = None, scoped: bool = False,
                    tables: dict[str, sql.Composable] | None = None,
                    fields: Mapping[str, Collection[str]] | None = None,
                    copies: Mapping[str, GeneralisedTable] | None = None) -> TileStatement:
    """The statement rendering ``layers`` (all visible and in zoom range) side by side;
    ``only`` keeps just the MVT layers of those names (to re-render some when thinning);
    ``scoped`` keeps only the rows of the bound communes in layers recording a commune;
    ``tables`` reads a layer from another table of its columns (by layer id: the staging
    table of an import under review, for its map preview); ``fields`` limits each layer's
    attributes to these (by layer id: a sharing agreement's fields); ``copies`` reads a layer
    from its current tile-ready copy (by layer id, ``iocgis.tiles.generalised``)."""
    parts = tuple(part for layer in layers
                  for part in layer_parts(layer, zoom, (fields or {}).get(layer.id))
                  if only is None or part.name in only)
    limited = level >= MAX_THIN_LEVEL
    selects = [sql.SQL("CROSS JOIN LATERAL ({}) {}").format(
        _layer_select(part, f"l{i}", extent, buffer, limited, scoped,
                      (tables or {}).get(part.layer.id),
                      None if part.layer.id in (tables or {}) else (copies or {}).get(part.layer.id),
                      zoom), sql.Identifier(f"q{i}"))
        for i, part in enumerate(parts)]
    outputs = [sql.SQL("{q}.mvt, {q}.n").format(q=sql.Identifier(f"q{i}"))
               for i in range(len(parts))]
    statement = sql.SQL("SELECT {} FROM (SELECT 1) one {}").format(
        sql.SQL(", ").join(outputs), sql.SQL(" ").join(selects))
    return TileStatement(statement.as_string(None), parts, level, extent, buffer, scoped)
