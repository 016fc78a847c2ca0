"""The parameters of an items request, checked against the registry before anything else runs.

One parameter object (``ItemsQuery``) carries what the provider needs; every kind of bad input
becomes a 400 (or 413) naming the parameter and what to write instead. Property names are
checked against the fields the caller may see, so a personal-data field is as unknown as a
misspelt one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from psycopg import sql

from iocgis.api.kit.values import DEFAULT_LIMIT, MAX_LIMIT, boolean, field_value, nfc, whole_number
from iocgis.api.ogc import cql2
from iocgis.api.ogc.crs import CRS84, OgcCrs, parse_ogc_crs
from iocgis.api.ogc.filter_sql import compile_filter
from iocgis.errors import InvalidInput, PayloadTooLarge
from iocgis.layers.model import FieldDef

MAX_OFFSET = 2**62
MAX_BODY_BYTES = 1024 * 1024
MAX_Q_CHARS = 200
# Parameters every items request may carry besides the collection's property names.
ITEM_PARAMETERS = ("f", "lang", "limit", "offset", "cursor", "bbox", "bbox-crs", "crs",
                   "datetime", "properties", "sortby", "skipGeometry", "filter",
                   "filter-lang", "filter-crs", "q", "resulttype")
SINGLE_ITEM_PARAMETERS = ("f", "lang", "crs")
# A layer with footprints answers with the position by default; ``geometry=footprint`` gives
# each feature its footprint instead (null where it has none).
GEOMETRY_FORMS = ("position", "footprint")
FILTER_LANGS = ("cql2-text", "cql2-json", "cql-text", "cql-json")


class QueryTarget(Protocol):
    """What the parser needs to know of a collection: a registry layer, or the catalogue."""

    @property
    def id(self) -> str: ...

    @property
    def is_spatial(self) -> bool: ...

    @property
    def temporal(self) -> str | None: ...

    def field(self, name: str) -> FieldDef: ...




def free_text_fields(target: QueryTarget, visible: Iterable[str]) -> tuple[str, ...]:
    """The fields ``q`` searches: text without a code list. Coded fields hold machine codes
    (``lu_lut``, ``mam_non``) that are not words: ``q=_`` or ``q=lu`` must not match them."""
    fields = [target.field(name) for name in visible]
    return tuple(f.name for f in fields if f.type == "text" and f.domain is None)


@dataclass(frozen=True)
class Bbox:
    minx: float
    miny: float
    maxx: float
    maxy: float
    crs: OgcCrs


@dataclass(frozen=True)
class ItemsQuery:
    """A checked items request for one layer, ready to become SQL."""

    layer_id: str
    visible_fields: tuple[str, ...]
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    cursor: int | None = None
    bbox: Bbox | None = None
    interval: tuple[datetime | None, datetime | None] | None = None
    equals: tuple[tuple[str, Any], ...] = ()
    filter_sql: sql.Composable | None = None
    filter_params: dict[str, Any] = field(default_factory=dict)
    q: tuple[str, ...] = ()
    sortby: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    properties: tuple[str, ...] | None = None
    crs: OgcCrs = CRS84
    skip_geometry: bool = False
    footprint: bool = False  # geometry=footprint: the footprint column instead of the position
    hits: bool = False
    params: tuple[tuple[str, str], ...] = ()  # as received, for next/prev links

    @property
    def output_fields(self) -> tuple[str, ...]:
        if self.properties is None:
            return self.visible_fields
        return tuple(f for f in self.visible_fields if f in self.properties)

    @property
    def keyset(self) -> bool:
        """Pages are chained by fid (fast at any depth) unless the client sorts."""
        return not self.sortby


def _bad(message: str, where: str, hint: str) -> InvalidInput:
    return InvalidInput(message, where=where, hint=hint)


_whole_number = whole_number  # the request kit's, as on every surface
_boolean = boolean


def parse_bbox(value: str, crs: OgcCrs) -> Bbox:
    parts = value.split(",")
    hint = (f"give minx,miny,maxx,maxy in {crs.uri}" +
            (" (latitude first)" if crs.north_first else "") +
            ", e.g. bbox=106.7,10.9,107.0,11.1")
    if len(parts) not in (4, 6):
        raise _bad(f"bbox has {len(parts)} numbers; it needs 4 (or 6 with heights)", "bbox", hint)
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise _bad(f"bbox={value[:80]!r} contains something that is not a number", "bbox",
                   hint) from None
    if not all(math.isfinite(n) for n in numbers):
        raise _bad("bbox numbers must be finite", "bbox", hint)
    x1, y1, x2, y2 = numbers if len(numbers) == 4 else (
        numbers[0], numbers[1], numbers[3], numbers[4])
    if x1 > x2 or y1 > y2:
        raise _bad(f"bbox minimum is above its maximum ({x1},{y1} > {x2},{y2})", "bbox", hint)
    if crs.geographic:
        lon1, lat1, lon2, lat2 = (y1, x1, y2, x2) if crs.north_first else (x1, y1, x2, y2)
        if not (-180 <= lon1 <= 180 and -180 <= lon2 <= 180):
            raise _bad(f"bbox longitude {max(abs(lon1), abs(lon2))} is outside -180..180",
                       "bbox", hint)
        if not (-90 <= lat1 <= 90 and -90 <= lat2 <= 90):
            raise _bad(f"bbox latitude {max(abs(lat1), abs(lat2))} is outside -90..90",
                       "bbox", hint)
    return Bbox(x1, y1, x2, y2, crs)


def _instant(text: str, *, end: bool) -> datetime | None:
    text = text.strip()
    if text in ("", ".."):
        return None
    try:
        if len(text) <= 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1) - timedelta(microseconds=1) if end else moment
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise _bad(f"datetime {text[:40]!r} is not an RFC 3339 date or timestamp", "datetime",
                   "e.g. datetime=2025-07-01, 2025-07-01T08:00:00Z or 2025-01-01/.. ") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_datetime(value: str) -> tuple[datetime | None, datetime | None]:
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = _instant(start_text, end=False), _instant(end_text, end=True)
        if start and end and start > end:
            raise _bad("datetime interval starts after it ends", "datetime", "give start/end")
        return start, end
    if value.strip() in ("", ".."):
        raise _bad("datetime is empty", "datetime", "give a date, a timestamp or an interval")
    start = _instant(value, end=False)
    # a day means the whole day; a timestamp means that instant
    return (start, _instant(value, end=True)) if len(value.strip()) <= 10 else (start, start)


def typed_value(field_def: FieldDef, value: str) -> Any:
    """A property value from the query string, in the field's type (the request kit's)."""
    return field_value(field_def.type, value, field_def.name, field_def.name)


def _names(value: str, visible: tuple[str, ...], where: str, *,
           allow_id: bool) -> list[tuple[str, bool]]:
    names: list[tuple[str, bool]] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        descending = item.startswith("-")
        name = item[1:].strip() if item[0] in "+-" else item
        if name not in visible and not (allow_id and name == "id"):
            raise _bad(f"unknown property {name[:60]!r} in {where}", where,
                       "known properties: " + ", ".join(visible))
        if any(seen == name for seen, _ in names):
            raise _bad(f"the property {name!r} is named twice in {where}", where,
                       f"name each property once, e.g. {where}={name}")
        names.append((name, descending))
    return names


def _single(params: list[tuple[str, str]]) -> dict[str, str]:
    seen: dict[str, str] = {}
    for name, value in params:
        if name in seen:
            raise _bad(f"the parameter {name!r} is given more than once", name, "give it once")
        seen[name] = value
    return seen


def check_names(params: Iterable[tuple[str, str]], allowed: Iterable[str]) -> None:
    allowed_set = set(allowed)
    for name, _ in params:
        if name not in allowed_set:
            raise _bad(f"unknown parameter {name[:60]!r}", name,
                       "parameters of this request: " + ", ".join(sorted(allowed_set)))


def geometry_parameters(target: object) -> tuple[str, ...]:
    """``geometry`` for a layer that keeps footprints beside its positions, else nothing."""
    return ("geometry",) if getattr(target, "footprint", None) else ()


def _footprint_asked(params: dict[str, str]) -> bool:
    form = params.get("geometry", "position")
    if form not in GEOMETRY_FORMS:
        raise _bad(f"geometry={form[:40]!r} is unknown", "geometry",
                   "give geometry=position (the default) or geometry=footprint")
    return form == "footprint"


def parse_items_query(layer: QueryTarget, visible: tuple[str, ...],
                      raw_params: list[tuple[str, str]], body: bytes = b"",
                      content_type: str = "", *,
                      allowed: Iterable[str] = ITEM_PARAMETERS) -> ItemsQuery:
    """Check every parameter of ``/collections/{id}/items`` and compile the filter.

    ``layer`` is a registry layer or the catalogue (anything with the ``QueryTarget`` shape);
    ``allowed`` are the parameters this collection takes besides its property names.
    """
    check_names(raw_params, (*allowed, *geometry_parameters(layer), *visible))
    params = _single(raw_params)
    fields = {name: layer.field(name) for name in visible}
    values: dict[str, Any] = {"layer_id": layer.id, "visible_fields": visible,
                              "params": tuple(raw_params), "footprint": _footprint_asked(params)}

    if "limit" in params:
        values["limit"] = _whole_number(params["limit"], "limit", 1, MAX_LIMIT)
    if "offset" in params:
        values["offset"] = _whole_number(params["offset"], "offset", 0, MAX_OFFSET)
    if "cursor" in params:
        values["cursor"] = _whole_number(params["cursor"], "cursor", 0, MAX_OFFSET)
    if "crs" in params:
        values["crs"] = parse_ogc_crs(params["crs"], where="crs")
    if "bbox-crs" in params and "bbox" not in params:
        raise _bad("bbox-crs is given without bbox", "bbox-crs", "give bbox too, or drop bbox-crs")
    if "bbox" in params:
        bbox_crs = parse_ogc_crs(params["bbox-crs"], where="bbox-crs") \
            if "bbox-crs" in params else CRS84
        bbox = parse_bbox(params["bbox"], bbox_crs)
        # Features Part 1, /req/core/fc-bbox-response C: "The bbox parameter SHALL match all
        # features in the collection that are not associated with a spatial geometry, too."
        if layer.is_spatial:
            values["bbox"] = bbox
    if "datetime" in params:
        interval = parse_datetime(params["datetime"])
        if layer.temporal:  # a collection without time ignores datetime (OGC API Features 7.15.4)
            values["interval"] = interval
    if "skipGeometry" in params:
        values["skip_geometry"] = _boolean(params["skipGeometry"], "skipGeometry")
    if "resulttype" in params:
        if params["resulttype"] not in ("results", "hits"):
            raise _bad(f"resulttype={params['resulttype'][:40]!r} is unknown", "resulttype",
                       "give results or hits")
        values["hits"] = params["resulttype"] == "hits"
    if "sortby" in params:
        values["sortby"] = tuple(_names(params["sortby"], visible, "sortby", allow_id=False))
    if "properties" in params:
        values["properties"] = tuple(n for n, _ in _names(params["properties"], visible,
                                                          "properties", allow_id=False))
    if "q" in params:
        if len(params["q"]) > MAX_Q_CHARS:
            raise _bad(f"q is longer than {MAX_Q_CHARS} characters", "q", "search for fewer words")
        values["q"] = tuple(nfc(t.strip()) for t in params["q"].split(",") if t.strip())
    values["equals"] = tuple((name, typed_value(fields[name], nfc(params[name])))
                             for name in visible if name in params)
    _parse_filter(layer, fields, params, body, content_type, values)
    return ItemsQuery(**values)


def _parse_filter(layer: QueryTarget, fields: dict[str, FieldDef], params: dict[str, str],
                  body: bytes, content_type: str, values: dict[str, Any]) -> None:
    lang = params.get("filter-lang", "").strip().lower()
    if lang and lang not in FILTER_LANGS:
        raise _bad(f"filter-lang={lang[:40]!r} is unknown", "filter-lang",
                   "give cql2-text or cql2-json")
    if "filter-crs" in params and "filter" not in params and not body:
        raise _bad("filter-crs is given without a filter", "filter-crs", "give filter too")
    filter_crs = parse_ogc_crs(params["filter-crs"], where="filter-crs") \
        if "filter-crs" in params else CRS84
    text: str | bytes | None = params.get("filter")
    if text is None and body:
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the request body has {len(body)} bytes", where="body",
                                  hint=f"send at most {MAX_BODY_BYTES} bytes")
        if content_type and "json" not in content_type:
            raise _bad(f"a POST to items takes a CQL2 JSON filter, not {content_type[:60]}",
                       "body", "send Content-Type: application/json")
        text, lang = body, "cql2-json"
    if text is None:
        return
    if len(text) > cql2.MAX_FILTER_CHARS:
        raise PayloadTooLarge(f"the filter has {len(text)} characters", where="filter",
                              hint=f"keep filters under {cql2.MAX_FILTER_CHARS} characters; "
                                   "send large geometries simplified")
    if lang in ("cql2-json", "cql-json"):
        tree = cql2.parse_json(text)
    else:
        tree = cql2.parse_text(text if isinstance(text, str) else text.decode("utf-8", "replace"))
    filter_params: dict[str, Any] = {}
    values["filter_sql"] = compile_filter(tree, fields, spatial=layer.is_spatial,
                                          filter_crs=filter_crs, params=filter_params)
    values["filter_params"] = filter_params


def parse_item_query(raw_params: list[tuple[str, str]],
                     target: object = None) -> tuple[OgcCrs, bool]:
    """``/collections/{id}/items/{fid}`` takes only f, lang and crs (and ``geometry`` for a
    layer with footprints): the CRS, and whether the footprint is asked for."""
    check_names(raw_params, (*SINGLE_ITEM_PARAMETERS, *geometry_parameters(target)))
    params = _single(raw_params)
    crs = parse_ogc_crs(params["crs"], where="crs") if "crs" in params else CRS84
    return crs, _footprint_asked(params)
