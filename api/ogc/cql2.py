"""CQL2 text and JSON parsed into pygeofilter's AST, with errors a client can act on.

pygeofilter 0.4's own CQL2 text grammar has no distance predicate (QGIS and CQL1 clients send
``DWITHIN(geom, POINT(107 11), 500, meters)``), reads temporal predicates infix, and cannot
read ``INTERVAL('2024-01-01', '..')``; its JSON reader has no ``s_dwithin``. So the grammar
(``cql2_text.lark``) and the JSON walker are ours, while the AST nodes, WKT grammar and WKT
transformer are pygeofilter's: the SQL builder (``filter_sql``) walks pygeofilter nodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pygeofilter.parsers
from lark import Lark, Token, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, VisitError
from pygeofilter import ast, values
from pygeofilter.cql2 import SPATIAL_PREDICATES_MAP
from pygeofilter.parsers.wkt import WKTTransformer

from iocgis.api.kit.values import nfc
from iocgis.errors import InvalidInput

MAX_FILTER_CHARS = 64 * 1024  # a filter longer than this is refused before parsing (413)
FILTER_HINT = ("write CQL2, e.g. kind = 'chay' AND S_INTERSECTS(geometry, POINT(106.8 10.95)) "
               "or DWITHIN(geometry, POINT(106.8 10.95), 500, meters); strings take single "
               "quotes, geometry keywords are upper case (POINT, POLYGON)")


@dataclass
class TimeIntersects(ast.TemporalPredicate):
    """T_INTERSECTS: pygeofilter folds it into T_OVERLAPS, which means something else."""

    op = None  # type: ignore[assignment]


TEMPORAL_OPS: dict[str, type[ast.TemporalPredicate]] = {
    "t_after": ast.TimeAfter, "t_before": ast.TimeBefore, "t_contains": ast.TimeContains,
    "t_disjoint": ast.TimeDisjoint, "t_during": ast.TimeDuring, "t_equals": ast.TimeEquals,
    "t_finishedby": ast.TimeEndedBy, "t_finishes": ast.TimeEnds, "t_intersects": TimeIntersects,
    "t_meets": ast.TimeMeets, "t_metby": ast.TimeMetBy, "t_overlappedby": ast.TimeOverlappedBy,
    "t_overlaps": ast.TimeOverlaps, "t_startedby": ast.TimeBegunBy, "t_starts": ast.TimeBegins,
}
COMPARISONS: dict[str, type[ast.Comparison]] = {
    "=": ast.Equal, "<>": ast.NotEqual, "!=": ast.NotEqual, "<": ast.LessThan,
    "<=": ast.LessEqual, ">": ast.GreaterThan, ">=": ast.GreaterEqual,
}
ARITHMETIC: dict[str, type[ast.Arithmetic]] = {"+": ast.Add, "-": ast.Sub, "*": ast.Mul,
                                               "/": ast.Div, "div": ast.Div}


_nfc = nfc  # literals as the data is stored (the request kit's normalisation)


def parse_instant(text: str, *, kind: str) -> date | datetime:
    """An RFC 3339 date or timestamp (timestamps without a zone are read as UTC)."""
    try:
        if kind == "date":
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InvalidInput(f"{text[:40]!r} is not a valid {kind}", where="filter",
                           hint="dates look like 2025-07-01, timestamps like 2025-07-01T08:00:00Z"
                           ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _interval_end(value: Any) -> date | datetime | ast.Attribute | None:
    if isinstance(value, str):
        if value in ("..", ""):
            return None
        return parse_instant(value, kind="date" if len(value) <= 10 else "timestamp")
    return value


@v_args(inline=True)
class _TextToAst(WKTTransformer):
    """Lark tree of ``cql2_text.lark`` -> pygeofilter AST."""

    def or_(self, lhs: ast.Node, rhs: ast.Node) -> ast.Node:
        return ast.Or(lhs, rhs)

    def and_(self, lhs: ast.Node, rhs: ast.Node) -> ast.Node:
        return ast.And(lhs, rhs)

    def not_(self, node: ast.Node) -> ast.Node:
        return ast.Not(node)

    def bool_literal(self, token: Token) -> bool:
        return str(token).lower() == "true"

    def eq(self, lhs: Any, rhs: Any) -> ast.Node:
        return ast.Equal(lhs, rhs)

    def ne(self, lhs: Any, rhs: Any) -> ast.Node:
        return ast.NotEqual(lhs, rhs)

    def lt(self, lhs: Any, rhs: Any) -> ast.Node:
        return ast.LessThan(lhs, rhs)

    def lte(self, lhs: Any, rhs: Any) -> ast.Node:
        return ast.LessEqual(lhs, rhs)

    def gt(self, lhs: Any, rhs: Any) -> ast.Node:
        return ast.GreaterThan(lhs, rhs)

    def gte(self, lhs: Any, rhs: Any) -> ast.Node:
        return ast.GreaterEqual(lhs, rhs)

    def like(self, lhs: Any, pattern: Any) -> ast.Node:
        return ast.Like(lhs, pattern, False, "%", "_", "\\", False)

    def not_like(self, lhs: Any, pattern: Any) -> ast.Node:
        return ast.Like(lhs, pattern, False, "%", "_", "\\", True)

    def between(self, lhs: Any, low: Any, high: Any) -> ast.Node:
        return ast.Between(lhs, low, high, False)

    def not_between(self, lhs: Any, low: Any, high: Any) -> ast.Node:
        return ast.Between(lhs, low, high, True)

    def in_(self, lhs: Any, *options: Any) -> ast.Node:
        return ast.In(lhs, list(options), False)

    def not_in(self, lhs: Any, *options: Any) -> ast.Node:
        return ast.In(lhs, list(options), True)

    def null(self, lhs: Any) -> ast.Node:
        return ast.IsNull(lhs, False)

    def not_null(self, lhs: Any) -> ast.Node:
        return ast.IsNull(lhs, True)

    def spatial_predicate(self, op: Token, lhs: Any, rhs: Any) -> ast.Node:
        return SPATIAL_PREDICATES_MAP[str(op).lower()](lhs, rhs)

    def distance_predicate(self, op: Token, lhs: Any, rhs: Any, distance: float,
                           units: Token | None = None) -> ast.Node:
        cls = ast.DistanceBeyond if str(op).lower() == "beyond" else ast.DistanceWithin
        return cls(lhs, rhs, float(distance), " ".join(str(units or "meters").lower().split()))

    def temporal_predicate(self, op: Token, lhs: Any, rhs: Any) -> ast.Node:
        return TEMPORAL_OPS[str(op).lower()](lhs, rhs)

    def function_predicate(self, function: ast.Function) -> ast.Node:
        return function

    def function(self, name: Token, *arguments: Any) -> ast.Function:
        args = [a for a in arguments if a is not None]
        return ast.Function(str(name).lower(), args)

    def add(self, lhs: Any, rhs: Any) -> ast.Node:
        return ast.Add(lhs, rhs)

    def sub(self, lhs: Any, rhs: Any) -> ast.Node:
        return ast.Sub(lhs, rhs)

    def mul(self, lhs: Any, rhs: Any) -> ast.Node:
        return ast.Mul(lhs, rhs)

    def div(self, lhs: Any, rhs: Any) -> ast.Node:
        return ast.Div(lhs, rhs)

    def neg(self, value: Any) -> Any:
        return -value if isinstance(value, (int, float)) else ast.Sub(0, value)

    def property(self, token: Token) -> ast.Attribute:
        return ast.Attribute(str(token))

    def quoted_property(self, token: Token) -> ast.Attribute:
        return ast.Attribute(str(token)[1:-1].replace('""', '"'))

    def string(self, token: Token) -> str:
        return _nfc(str(token)[1:-1].replace("''", "'"))

    def int_literal(self, token: Token) -> int:
        return int(token)

    def float_literal(self, token: Token) -> float:
        return float(token)

    def geometry(self, geometry: dict) -> values.Geometry:
        return values.Geometry(geometry)

    def bbox_literal(self, x1: float, y1: float, x2: float, y2: float) -> values.Envelope:
        return values.Envelope(float(x1), float(x2), float(y1), float(y2))

    def bbox_literal_3d(self, x1: float, y1: float, _z1: float, x2: float, y2: float,
                        _z2: float) -> values.Envelope:
        return values.Envelope(float(x1), float(x2), float(y1), float(y2))

    def date_literal(self, token: Token) -> date:
        return parse_instant(str(token)[1:-1], kind="date")  # type: ignore[return-value]

    def timestamp_literal(self, token: Token) -> datetime:
        return parse_instant(str(token)[1:-1], kind="timestamp")  # type: ignore[return-value]

    def interval_string(self, token: Token) -> str:
        return str(token)[1:-1]

    def interval(self, start: Any, end: Any) -> values.Interval:
        return values.Interval(_interval_end(start), _interval_end(end))

    def wkt__geometry_with_srid(self, srid: Token, geometry: dict) -> dict:
        # pygeofilter's version prints to stdout; EWKT ``SRID=5899;POINT(...)`` names the CRS.
        geometry["crs"] = {"type": "name",
                           "properties": {"name": f"urn:ogc:def:crs:EPSG::{int(srid)}"}}
        return geometry


_PARSER = Lark.open(
    str(Path(__file__).with_name("cql2_text.lark")),
    parser="lalr",
    maybe_placeholders=True,
    transformer=_TextToAst(),
    import_paths=[str(Path(pygeofilter.parsers.__file__).parent)],
)


def parse_text(text: str) -> ast.Node:
    """CQL2 text -> AST; a syntax error names the position and what was expected."""
    try:
        return _PARSER.parse(text)
    except VisitError as exc:  # our transformer's own InvalidInput, wrapped by lark
        if isinstance(exc.orig_exc, InvalidInput):
            raise exc.orig_exc from None
        raise InvalidInput("the filter could not be read", where="filter", hint=FILTER_HINT) from None
    except UnexpectedInput as exc:
        snippet = text[max(0, exc.pos_in_stream - 20):exc.pos_in_stream + 20] \
            if exc.pos_in_stream is not None else ""
        what = "unexpected character" if isinstance(exc, UnexpectedCharacters) else "unexpected token"
        raise InvalidInput(f"the filter is not valid CQL2 text: {what} at column {exc.column}"
                           f" near {snippet!r}", where="filter", hint=FILTER_HINT) from None
    except (LarkError, RecursionError):
        raise InvalidInput("the filter is not valid CQL2 text", where="filter",
                           hint=FILTER_HINT) from None


# --- CQL2 JSON ----------------------------------------------------------------------------

_GEOJSON_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                  "MultiPolygon", "GeometryCollection"}


def _bad_json(message: str) -> InvalidInput:
    return InvalidInput(f"the filter is not valid CQL2 JSON: {message}", where="filter",
                        hint='write e.g. {"op": "=", "args": [{"property": "kind"}, "chay"]}')


def _walk(node: Any, depth: int = 0) -> Any:
    if depth > 100:
        raise _bad_json("nested too deeply")
    if isinstance(node, str):
        return _nfc(node)
    if isinstance(node, (bool, int, float)) or node is None:
        return node
    if isinstance(node, list):
        return [_walk(item, depth + 1) for item in node]
    if not isinstance(node, dict):
        raise _bad_json(f"unexpected value {str(node)[:40]!r}")
    if "property" in node:
        if not isinstance(node["property"], str):
            raise _bad_json("a property name must be a string")
        return ast.Attribute(node["property"])
    if "date" in node:
        return parse_instant(str(node["date"]), kind="date")
    if "timestamp" in node:
        return parse_instant(str(node["timestamp"]), kind="timestamp")
    if "interval" in node:
        ends = node["interval"]
        if not isinstance(ends, list) or len(ends) != 2:
            raise _bad_json("an interval has two ends")
        return values.Interval(*(_interval_end(_walk(e, depth + 1)) for e in ends))
    if "bbox" in node:
        box = node["bbox"]
        if not isinstance(box, list) or len(box) not in (4, 6) or \
                not all(isinstance(v, (int, float)) for v in box):
            raise _bad_json("a bbox has 4 or 6 numbers")
        x1, y1, x2, y2 = (box[0], box[1], box[2], box[3]) if len(box) == 4 else \
            (box[0], box[1], box[3], box[4])
        return values.Envelope(float(x1), float(x2), float(y1), float(y2))
    if node.get("type") in _GEOJSON_TYPES:
        return values.Geometry(node)
    if "op" in node:
        return _walk_op(str(node["op"]), node.get("args", []), depth)
    raise _bad_json(f"unknown member(s) {', '.join(map(str, node))[:60]!r}")


def _walk_op(op: str, raw_args: Any, depth: int) -> Any:
    if not isinstance(raw_args, list):
        raise _bad_json(f"the args of {op!r} must be a list")
    args = [_walk(a, depth + 1) for a in raw_args]
    key = op.lower()

    def need(count: int) -> None:
        if len(args) != count:
            raise _bad_json(f"{op!r} takes {count} argument(s), got {len(args)}")

    if key in ("and", "or"):
        if len(args) < 2:
            raise _bad_json(f"{op!r} needs at least two arguments")
        combined = args[0]
        for arg in args[1:]:
            combined = (ast.And if key == "and" else ast.Or)(combined, arg)
        return combined
    if key == "not":
        need(1)
        return ast.Not(args[0])
    if key in COMPARISONS:
        need(2)
        return COMPARISONS[key](args[0], args[1])
    if key == "like":
        need(2)
        return ast.Like(args[0], args[1], False, "%", "_", "\\", False)
    if key == "between":
        need(3)
        return ast.Between(args[0], args[1], args[2], False)
    if key == "in":
        need(2)
        if not isinstance(args[1], list):
            raise _bad_json("the second argument of 'in' is a list")
        return ast.In(args[0], args[1], False)
    if key == "isnull":
        need(1)
        return ast.IsNull(args[0], False)
    if key in SPATIAL_PREDICATES_MAP:
        need(2)
        return SPATIAL_PREDICATES_MAP[key](args[0], args[1])
    if key in ("s_dwithin", "dwithin", "beyond"):
        if len(args) not in (3, 4) or not isinstance(args[2], (int, float)):
            raise _bad_json(f"{op!r} takes a geometry, a geometry, a distance and optional units")
        units = str(args[3]).lower() if len(args) == 4 else "meters"
        cls = ast.DistanceBeyond if key == "beyond" else ast.DistanceWithin
        return cls(args[0], args[1], float(args[2]), units)
    if key in TEMPORAL_OPS:
        need(2)
        return TEMPORAL_OPS[key](args[0], args[1])
    if key in ARITHMETIC or key == "%":
        need(2)
        if key == "%":
            return ast.Function("mod", args)
        return ARITHMETIC[key](args[0], args[1])
    return ast.Function(key, args)  # casei, accenti and unknown functions: the SQL builder decides


def parse_json(text: str | bytes | dict) -> ast.Node:
    """CQL2 JSON (a string, bytes or an already decoded object) -> AST."""
    if isinstance(text, dict):
        return _walk(text)
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        raise _bad_json("it is not JSON") from None
    if not isinstance(decoded, dict):
        raise _bad_json("the filter must be a JSON object")
    return _walk(decoded)
