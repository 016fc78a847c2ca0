"""A CQL2 AST (pygeofilter nodes) compiled to a PostgreSQL condition with bound values.

Property names are checked against the fields the caller may see (a personal-data field is as
unknown as a misspelt one); identifiers reach SQL only through ``sql.Identifier``; every value is
a named placeholder. Operands are type-checked so a wrong comparison is a 400 naming the property,
never a PostgreSQL type error. Geometries written in another CRS (``filter-crs`` or EWKT
``SRID=5899;``) are transformed in PostGIS through the pinned SRIDs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import shapely.geometry
from psycopg import sql
from pygeofilter import ast, values

from iocgis.api.ogc.cql2 import TimeIntersects, parse_instant
from iocgis.api.ogc.crs import STORAGE_SRID, OgcCrs, parse_ogc_crs
from iocgis.errors import InvalidInput
from iocgis.geodesy import expansion_sql
from iocgis.layers.model import FieldDef
from iocgis.layers.types import field_type

MAX_NODES = 1000
MAX_COORDINATES = 100_000
MAX_IN_VALUES = 1000
GEOMETRY_NAMES = ("geometry", "geom")
METRES_PER_UNIT = {
    "meters": 1.0, "metres": 1.0, "meter": 1.0, "metre": 1.0, "m": 1.0,
    "kilometers": 1000.0, "kilometres": 1000.0, "km": 1000.0,
    "feet": 0.3048, "foot": 0.3048, "ft": 0.3048,
    "statute miles": 1609.344, "miles": 1609.344, "mi": 1609.344,
    "nautical miles": 1852.0, "nmi": 1852.0,
}
SPATIAL_FUNCTIONS = {
    ast.GeometryIntersects: "ST_Intersects", ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryContains: "ST_Contains", ast.GeometryWithin: "ST_Within",
    ast.GeometryTouches: "ST_Touches", ast.GeometryCrosses: "ST_Crosses",
    ast.GeometryOverlaps: "ST_Overlaps", ast.GeometryEquals: "ST_Equals",
}
COMPARISON_SQL = {ast.Equal: "=", ast.NotEqual: "<>", ast.LessThan: "<", ast.LessEqual: "<=",
                  ast.GreaterThan: ">", ast.GreaterEqual: ">="}


def bad(message: str, hint: str | None = None) -> InvalidInput:
    return InvalidInput(message, where="filter",
                        hint=hint or "see the queryables at /collections/<id>/queryables")


@dataclass(frozen=True)
class Expr:
    """A compiled operand: its SQL and what kind of value it is."""

    sql: sql.Composable
    kind: str  # text, number, boolean, time, geometry, null
    label: str  # how messages name it
    literal: bool = False


def _clean_coordinates(value: Any) -> Any:
    """pygeofilter's WKT gives (x, y, None, None): drop the empty z/m."""
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (int, float)) or v is None for v in value):
            return [float(v) for v in value if v is not None]
        return [_clean_coordinates(v) for v in value]
    return value


def _clean_geometry(geometry: dict) -> dict:
    cleaned: dict[str, Any] = {"type": geometry.get("type")}
    if geometry.get("type") == "GeometryCollection":
        cleaned["geometries"] = [_clean_geometry(g) for g in geometry.get("geometries") or []]
    else:
        cleaned["coordinates"] = _clean_coordinates(geometry.get("coordinates"))
    return cleaned


def _check_rings(geometry: dict) -> None:
    """Polygon rings need 4 positions and must close (PostGIS would read some of these)."""
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else []
    for rings in polygons or []:
        for ring in rings or []:
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise bad("a polygon in the filter is malformed: each ring needs at least 4 "
                          "positions and must end where it starts",
                          hint="e.g. POLYGON((106.8 10.9, 106.9 10.9, 106.9 11.0, 106.8 10.9))")
    for member in geometry.get("geometries") or []:
        _check_rings(member)


class FilterCompiler:
    """Compiles one filter for one layer; collects the bound values in ``params``."""

    def __init__(self, fields: Mapping[str, FieldDef], *, spatial: bool, filter_crs: OgcCrs,
                 params: dict[str, Any], prefix: str = "f") -> None:
        self.fields = fields
        self.spatial = spatial
        self.filter_crs = filter_crs
        self.params = params
        self.prefix = prefix
        self.nodes = 0

    # --- values ---------------------------------------------------------------------------
    def _bind(self, value: Any, cast: str | None = None) -> sql.Composable:
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        placeholder = sql.Placeholder(name)
        return sql.SQL("{}::{}").format(placeholder, sql.SQL(cast)) if cast else placeholder

    def _literal(self, value: Any, want: str | None) -> Expr:
        if value is None:
            return Expr(sql.SQL("NULL"), "null", "NULL", literal=True)
        if isinstance(value, bool):
            return Expr(self._bind(value, "boolean"), "boolean", repr(value).upper(), literal=True)
        if isinstance(value, (int, float)):
            if not math.isfinite(value) or abs(value) > 1e300:
                raise bad(f"the number {value!r} is out of range")
            if isinstance(value, int) and abs(value) < 2**63:
                return Expr(self._bind(value, "bigint"), "number", str(value), literal=True)
            return Expr(self._bind(float(value), "double precision"), "number", str(value),
                        literal=True)
        if isinstance(value, datetime):
            return Expr(self._bind(value, "timestamptz"), "time", value.isoformat(), literal=True)
        if isinstance(value, date):
            return Expr(self._bind(value, "date"), "time", value.isoformat(), literal=True)
        if isinstance(value, str):
            if want == "time":  # '2025-07-01' compared with a date property: read it as one
                instant = parse_instant(value, kind="date" if len(value) <= 10 else "timestamp")
                return self._literal(instant, None)
            return Expr(self._bind(value, "text"), "text", repr(value[:30]), literal=True)
        if isinstance(value, (values.Geometry, values.Envelope)):
            return self._geometry_literal(value)
        raise bad(f"unsupported value {str(value)[:40]!r} in the filter")

    def _crs_of(self, geometry: dict) -> OgcCrs:
        name = (geometry.get("crs") or {}).get("properties", {}).get("name")
        return parse_ogc_crs(name, where="filter (SRID of a geometry)") if name else self.filter_crs

    def _to_storage(self, expression: sql.Composable, crs: OgcCrs, *, densify: float = 0) -> sql.Composable:
        geom = sql.SQL("ST_SetSRID({}, {})").format(expression, sql.Literal(crs.srid))
        if crs.north_first:
            geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
        if crs.srid == STORAGE_SRID:
            return geom
        if densify > 0:  # straight edges in a projected CRS are curves in degrees
            geom = sql.SQL("ST_Segmentize({}, {})").format(geom, sql.Literal(densify))
        return sql.SQL("ST_Transform({}, {})").format(geom, sql.Literal(STORAGE_SRID))

    def _geometry_literal(self, value: values.Geometry | values.Envelope) -> Expr:
        if isinstance(value, values.Envelope):
            x1, x2, y1, y2 = value.x1, value.x2, value.y1, value.y2
            if not all(math.isfinite(v) for v in (x1, x2, y1, y2)) or x1 > x2 or y1 > y2:
                raise bad("a BBOX in the filter needs finite numbers with min <= max",
                          hint="BBOX(minx, miny, maxx, maxy)")
            crs = self.filter_crs
            self._check_range(crs, [(x1, y1), (x2, y2)])
            envelope = sql.SQL("ST_MakeEnvelope({}, {}, {}, {})").format(
                self._bind(x1, "double precision"), self._bind(y1, "double precision"),
                self._bind(x2, "double precision"), self._bind(y2, "double precision"))
            densify = 0 if crs.geographic else max(x2 - x1, y2 - y1) / 32 or 0
            return Expr(self._to_storage(envelope, crs, densify=densify), "geometry",
                        "a BBOX", literal=True)
        crs = self._crs_of(value.geometry)
        geometry = _clean_geometry(value.geometry)
        _check_rings(geometry)
        try:
            shape = shapely.geometry.shape(geometry)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            raise bad(f"a geometry in the filter is malformed: {str(exc)[:120]}",
                      hint="polygons need closed rings of at least 4 positions") from None
        points = shapely.get_coordinates(shape)
        if len(points) > MAX_COORDINATES:
            raise bad(f"a geometry in the filter has {len(points)} positions (at most "
                      f"{MAX_COORDINATES})", hint="simplify the geometry")
        if not points.size or shape.is_empty or \
                not all(math.isfinite(float(v)) for v in points.flat):
            raise bad("a geometry in the filter is empty or has non-finite coordinates")
        self._check_range(crs, [tuple(p) for p in points[:: max(1, len(points) // 1000)]])
        expression = sql.SQL("ST_GeomFromGeoJSON({})").format(self._bind(json.dumps(geometry)))
        return Expr(self._to_storage(expression, crs), "geometry", f"a {geometry['type']}",
                    literal=True)

    @staticmethod
    def _check_range(crs: OgcCrs, points: list[tuple[float, ...]]) -> None:
        if not crs.geographic:
            return
        for point in points:
            lon, lat = (point[1], point[0]) if crs.north_first else (point[0], point[1])
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise bad(f"the position {tuple(point)} is outside longitude -180..180 / "
                          f"latitude -90..90", hint=f"coordinates are in {crs.uri}; give "
                          "filter-crs when they are in another CRS")

    # --- expressions ----------------------------------------------------------------------
    def _attribute(self, name: str) -> Expr:
        if name in GEOMETRY_NAMES and self.spatial and name not in self.fields:
            return Expr(sql.Identifier("geom"), "geometry", f"property {name!r}")
        field = self.fields.get(name)
        if field is None:
            if name == "id":
                return Expr(sql.Identifier("fid"), "number", "property 'id'")
            known = ", ".join(sorted(self.fields)) or "(none)"
            raise bad(f"unknown property {name!r} in the filter",
                      hint=f"queryable properties: {known}" +
                           (", geometry" if self.spatial else ""))
        return Expr(sql.Identifier(name), field_type(field.type).comparable,
                    f"property {name!r} ({field.type})")

    def expr(self, node: Any, want: str | None = None) -> Expr:
        self._count()
        if isinstance(node, ast.Attribute):
            return self._attribute(node.name)
        if isinstance(node, ast.Arithmetic):
            lhs, rhs = self.expr(node.lhs, "number"), self.expr(node.rhs, "number")
            for side in (lhs, rhs):
                if side.kind not in ("number", "null"):
                    raise bad(f"arithmetic needs numbers; {side.label} is not a number")
            left = sql.SQL("({})::double precision").format(lhs.sql)
            right = sql.SQL("({})::double precision").format(rhs.sql)
            if isinstance(node, ast.Div):  # CQL2 leaves x/0 undefined: NULL, never an error
                right = sql.SQL("NULLIF({}, 0)").format(right)
            op = {ast.Add: "+", ast.Sub: "-", ast.Mul: "*", ast.Div: "/"}[type(node)]
            return Expr(sql.SQL("({} {} {})").format(left, sql.SQL(op), right), "number",
                        "an arithmetic expression")
        if isinstance(node, ast.Function):
            return self._function(node)
        if isinstance(node, ast.Node):
            raise bad(f"a condition ({type(node).__name__}) is used where a value is expected")
        return self._literal(node, want)

    def _function(self, node: ast.Function) -> Expr:
        name = node.name.lower()
        if name in ("casei", "lower") and len(node.arguments) == 1:
            inner = self.expr(node.arguments[0], "text")
            if inner.kind != "text":
                raise bad(f"CASEI needs text; {inner.label} is not text")
            return Expr(sql.SQL("lower({})").format(inner.sql), "text", f"CASEI({inner.label})",
                        literal=inner.literal)
        if name == "mod" and len(node.arguments) == 2:
            lhs, rhs = (self.expr(a, "number") for a in node.arguments)
            if lhs.kind != "number" or rhs.kind != "number":
                raise bad("% needs numbers on both sides")
            return Expr(sql.SQL("mod(({})::numeric, NULLIF(({})::numeric, 0))").format(
                lhs.sql, rhs.sql), "number", "a remainder")
        raise bad(f"unsupported function {node.name!r} in the filter",
                  hint="supported functions: CASEI(text)")

    def _pair(self, lhs_node: Any, rhs_node: Any) -> tuple[Expr, Expr]:
        """Both operands; a literal is read in the kind of the other side (dates from strings)."""
        if _is_value(lhs_node) and not _is_value(rhs_node):
            rhs = self.expr(rhs_node)
            return self.expr(lhs_node, rhs.kind), rhs
        lhs = self.expr(lhs_node)
        return lhs, self.expr(rhs_node, lhs.kind)

    @staticmethod
    def _same_kind(lhs: Expr, rhs: Expr, what: str) -> None:
        if "null" in (lhs.kind, rhs.kind) or lhs.kind == rhs.kind:
            if lhs.kind == "geometry" or rhs.kind == "geometry":
                raise bad(f"{what} does not apply to geometries; use S_INTERSECTS, S_EQUALS, ...")
            return
        hint = None
        if "text" in (lhs.kind, rhs.kind) and "number" in (lhs.kind, rhs.kind):
            hint = "text values take single quotes, e.g. commune_code = '72301'"
        raise bad(f"cannot compare {lhs.label} with {rhs.label}", hint=hint)

    # --- conditions -----------------------------------------------------------------------
    def condition(self, node: Any) -> sql.Composable:
        self._count()
        if isinstance(node, bool):
            return sql.SQL("TRUE" if node else "FALSE")
        if isinstance(node, (ast.And, ast.Or)):
            # long AND/OR chains (a tool's 500-value list) are flattened without recursion
            keyword = " AND " if isinstance(node, ast.And) else " OR "
            parts = [self.condition(operand) for operand in _flatten(node)]
            return sql.SQL("({})").format(sql.SQL(keyword).join(parts))
        if isinstance(node, ast.Not):
            return sql.SQL("(NOT {})").format(self.condition(node.sub_node))
        if isinstance(node, ast.Comparison) and type(node) in COMPARISON_SQL:
            lhs, rhs = self._pair(node.lhs, node.rhs)
            self._same_kind(lhs, rhs, "a comparison")
            if lhs.kind == "boolean" and type(node) not in (ast.Equal, ast.NotEqual):
                raise bad("booleans can only be compared with = or <>")
            return sql.SQL("({} {} {})").format(lhs.sql, sql.SQL(COMPARISON_SQL[type(node)]), rhs.sql)
        if isinstance(node, ast.Like):
            lhs, pattern = self.expr(node.lhs, "text"), self.expr(node.pattern, "text")
            if lhs.kind != "text" or pattern.kind != "text":
                raise bad(f"LIKE needs text on both sides; {lhs.label} LIKE {pattern.label}")
            op = ("NOT " if node.not_ else "") + ("ILIKE" if node.nocase else "LIKE")
            return sql.SQL("({} {} {} ESCAPE '\\')").format(lhs.sql, sql.SQL(op), pattern.sql)
        if isinstance(node, ast.Between):
            lhs = self.expr(node.lhs)
            low, high = self.expr(node.low, lhs.kind), self.expr(node.high, lhs.kind)
            self._same_kind(lhs, low, "BETWEEN")
            self._same_kind(lhs, high, "BETWEEN")
            op = "NOT BETWEEN" if node.not_ else "BETWEEN"
            return sql.SQL("({} {} {} AND {})").format(lhs.sql, sql.SQL(op), low.sql, high.sql)
        if isinstance(node, ast.In):
            lhs = self.expr(node.lhs)
            if not node.sub_nodes or len(node.sub_nodes) > MAX_IN_VALUES:
                raise bad(f"IN takes 1 to {MAX_IN_VALUES} values")
            options = [self.expr(option, lhs.kind) for option in node.sub_nodes]
            for option in options:
                self._same_kind(lhs, option, "IN")
            op = "NOT IN" if node.not_ else "IN"
            return sql.SQL("({} {} ({}))").format(lhs.sql, sql.SQL(op),
                                                  sql.SQL(", ").join(o.sql for o in options))
        if isinstance(node, ast.IsNull):
            lhs = self.expr(node.lhs)
            return sql.SQL("({} IS {}NULL)").format(lhs.sql, sql.SQL("NOT " if node.not_ else ""))
        if isinstance(node, ast.SpatialComparisonPredicate):
            lhs, rhs = self._geometries(node.lhs, node.rhs, type(node).__name__)
            function = sql.SQL(SPATIAL_FUNCTIONS[type(node)])
            predicate = sql.SQL("{}({}, {})").format(function, lhs.sql, rhs.sql)
            if type(node) is ast.GeometryDisjoint:
                return predicate
            # every other relation implies overlapping boxes: "&&" lets the index work, also
            # under row-level security (the box operator is leakproof, ST_* are not)
            return sql.SQL("({} && {} AND {})").format(lhs.sql, rhs.sql, predicate)
        if isinstance(node, ast.Relate):
            lhs, rhs = self._geometries(node.lhs, node.rhs, "RELATE")
            pattern = str(node.pattern)
            if len(pattern) != 9 or any(c not in "012TF*" for c in pattern.upper()):
                raise bad(f"RELATE pattern {pattern[:20]!r} is not a DE-9IM pattern",
                          hint="nine characters of 0, 1, 2, T, F or *")
            return sql.SQL("ST_Relate({}, {}, {})").format(lhs.sql, rhs.sql,
                                                          self._bind(pattern.upper(), "text"))
        if isinstance(node, ast.BBox):
            lhs = self.expr(node.lhs)
            saved = self.filter_crs
            if node.crs:
                self.filter_crs = parse_ogc_crs(str(node.crs), where="filter (BBOX crs)")
            try:
                box = self._geometry_literal(values.Envelope(node.minx, node.maxx, node.miny, node.maxy))
            finally:
                self.filter_crs = saved
            if lhs.kind != "geometry":
                raise bad(f"BBOX needs the geometry; {lhs.label} is not a geometry")
            return sql.SQL("({g} && {b} AND ST_Intersects({g}, {b}))").format(g=lhs.sql, b=box.sql)
        if isinstance(node, ast.SpatialDistancePredicate):
            return self._distance(node)
        if isinstance(node, ast.TemporalPredicate):
            return self._temporal(node)
        if isinstance(node, ast.Function):
            raise bad(f"the function {node.name!r} is not a condition",
                      hint="compare its result, e.g. CASEI(name) = 'biên hòa'")
        raise bad(f"{type(node).__name__} is not supported in filters here")

    def _geometries(self, lhs_node: Any, rhs_node: Any, what: str) -> tuple[Expr, Expr]:
        if not self.spatial:
            raise bad(f"{what}: this collection has no geometry")
        lhs, rhs = self.expr(lhs_node), self.expr(rhs_node)
        for side in (lhs, rhs):
            if side.kind != "geometry":
                raise bad(f"{what} compares geometries; {side.label} is not a geometry",
                          hint="use the property geometry and a WKT literal, e.g. POINT(106.8 10.95)")
        return lhs, rhs

    def _distance(self, node: ast.SpatialDistancePredicate) -> sql.Composable:
        lhs, rhs = self._geometries(node.lhs, node.rhs, "DWITHIN")
        units = " ".join(str(node.units or "meters").lower().split())
        if units not in METRES_PER_UNIT:
            raise bad(f"unknown distance unit {units!r}",
                      hint="use meters, kilometers, feet, statute miles or nautical miles")
        metres = float(node.distance) * METRES_PER_UNIT[units]
        if not math.isfinite(metres) or metres < 0 or metres > 2.0e7:
            raise bad(f"the distance {node.distance} {units} is out of range (0 to 20,000 km)")
        if lhs.literal and not rhs.literal:
            lhs, rhs = rhs, lhs
        distance = self._bind(metres, "double precision")
        # Geography gives true metres; a bounding-box test first lets the GiST index on geom
        # do the work (one degree of longitude is shortest at the highest latitude involved).
        within = sql.SQL("ST_DWithin(({})::geography, ({})::geography, {})").format(
            lhs.sql, rhs.sql, distance)
        if isinstance(node, ast.DistanceBeyond):
            return sql.SQL("(NOT {})").format(within)
        degrees = expansion_sql(distance, rhs.sql)
        return sql.SQL("({} && ST_Expand({}, {}) AND {})").format(lhs.sql, rhs.sql, degrees, within)

    def _temporal(self, node: ast.TemporalPredicate) -> sql.Composable:
        lhs = self.expr(node.lhs, "time")
        if lhs.kind != "time":
            raise bad(f"{type(node).__name__} needs a date or time; {lhs.label} is not one")
        rhs_node = node.rhs
        if isinstance(rhs_node, values.Interval):
            start = self._instant(rhs_node.start)
            end = self._instant(rhs_node.end)
            return self._instant_vs_interval(node, lhs.sql, start, end)
        rhs = self.expr(rhs_node, "time")
        if rhs.kind != "time":
            raise bad(f"{type(node).__name__} needs a date or time; {rhs.label} is not one")
        ops = {ast.TimeAfter: ">", ast.TimeBefore: "<", ast.TimeEquals: "=", TimeIntersects: "=",
               ast.TimeDisjoint: "<>"}
        if type(node) not in ops:
            raise bad(f"{type(node).__name__} relates two intervals; here both sides are instants",
                      hint="use T_AFTER, T_BEFORE, T_EQUALS, T_INTERSECTS or T_DISJOINT")
        return sql.SQL("({} {} {})").format(lhs.sql, sql.SQL(ops[type(node)]), rhs.sql)

    def _instant(self, value: Any) -> sql.Composable | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = parse_instant(value, kind="date" if len(value) <= 10 else "timestamp")
        expr = self.expr(value, "time")
        if expr.kind != "time":
            raise bad(f"an interval end must be a date or time, not {expr.label}")
        return expr.sql

    @staticmethod
    def _instant_vs_interval(node: ast.TemporalPredicate, value: sql.Composable,
                             start: sql.Composable | None, end: sql.Composable | None) -> sql.Composable:
        def cmp(op: str, bound: sql.Composable | None) -> sql.Composable:
            if bound is None:
                return sql.SQL("TRUE")
            return sql.SQL("({} {} {})").format(value, sql.SQL(op), bound)

        if isinstance(node, TimeIntersects):
            return sql.SQL("({} AND {})").format(cmp(">=", start), cmp("<=", end))
        if isinstance(node, ast.TimeDisjoint):
            return sql.SQL("(NOT ({} AND {}))").format(cmp(">=", start), cmp("<=", end))
        if isinstance(node, ast.TimeDuring):
            return sql.SQL("({} AND {})").format(cmp(">", start), cmp("<", end))
        if isinstance(node, ast.TimeAfter):
            return sql.SQL("FALSE") if end is None else cmp(">", end)
        if isinstance(node, ast.TimeBefore):
            return sql.SQL("FALSE") if start is None else cmp("<", start)
        raise bad(f"{type(node).__name__} relates two intervals; this property is an instant",
                  hint="use T_INTERSECTS, T_DURING, T_AFTER, T_BEFORE or T_DISJOINT")

    def _count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise bad(f"the filter has more than {MAX_NODES} terms", hint="simplify the filter")


def _flatten(node: ast.Combination) -> list[Any]:
    """The operands of a chain of the same AND/OR, left to right, iteratively."""
    operands: list[Any] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if type(current) is type(node):
            stack += [current.rhs, current.lhs]
        else:
            operands.append(current)
    return operands


def _is_value(node: Any) -> bool:
    return not isinstance(node, (ast.Node, ast.Attribute)) or isinstance(node, ast.Function) and \
        all(_is_value(a) for a in node.arguments)


def compile_filter(node: Any, fields: Mapping[str, FieldDef], *, spatial: bool,
                   filter_crs: OgcCrs, params: dict[str, Any]) -> sql.Composable:
    """The WHERE condition for ``node``; bound values are added to ``params``."""
    try:
        return FilterCompiler(fields, spatial=spatial, filter_crs=filter_crs,
                              params=params).condition(node)
    except RecursionError:
        raise bad("the filter is nested too deeply", hint="simplify the filter") from None
