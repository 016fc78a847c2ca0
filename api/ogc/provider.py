"""The project's pygeoapi feature provider: one registry layer, psycopg 3, pooled connections.

pygeoapi's stock PostgreSQL provider needs psycopg2, counts every match on every page, answers
``DWITHIN`` with every row and transforms coordinates per feature in Python. This one reads the
request the adapter checked (``pygeoapi_seams.checked_request``; called without one, it checks
pygeoapi's arguments with the same parser), builds SQL from the registry's identifiers with
bound values, lets PostGIS transform (VN-2000 through the pinned SRIDs), pages by keyset, writes
the page links with every parameter of the request, and drops personal-data fields the caller
may not see.

pygeoapi builds a provider per request, so ``__init__`` only looks things up (pygeoapi's own
``BaseProvider.__init__`` costs about 0.04 ms: its storage CRS is a cached pyproj object).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import psycopg
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)

from iocgis.access import AccessPlan, current_caller, note_shared, plan_for
from iocgis.api.ogc import features_sql, links
from iocgis.api.ogc.crs import CRS84, OgcCrs, parse_ogc_crs
from iocgis.api.ogc.params import ItemsQuery, parse_items_query
from iocgis.api.ogc.pool import get_reader
from iocgis.api.ogc.pygeoapi_seams import OgcRequest, checked_request, features_json
from iocgis.errors import DatabaseError, InvalidInput, IocgisError
from iocgis.layers import LayerDef, get_registry
from iocgis.layers.types import FIELD_TYPES

log = logging.getLogger("iocgis.api.ogc")

# JSON Schema of each field type (``iocgis.layers.types``, where every type is declared once).
JSON_TYPES: dict[str, dict[str, str]] = {name: t.schema for name, t in FIELD_TYPES.items()}


def field_schemas(layer: LayerDef, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """JSON Schema of each field (titles in Vietnamese, English in the description)."""
    registry = get_registry()
    schemas: dict[str, dict[str, Any]] = {}
    for name in names:
        field = layer.field(name)
        schema: dict[str, Any] = {**JSON_TYPES[field.type], "title": field.title.vi,
                                  "description": field.title.en}
        codes = registry.domain_codes(field)
        if codes:
            schema["values"] = list(codes)
        if field.unit:
            schema["x-ogc-unit"] = field.unit
        schemas[name] = schema
    return schemas


# A statement over its time limit is a 503 with Retry-After (the reader's answer on every path).
SLOW_HINT = "narrow it with bbox, a filter on an indexed property or a smaller limit"


def run_query(conn: psycopg.Connection, statement: Any, params: dict[str, Any]) -> list[tuple]:
    try:
        return conn.execute(statement, params).fetchall()
    except (psycopg.errors.DataError, psycopg.errors.InternalError_) as exc:
        # e.g. a geometry PostGIS cannot read or transform; never a 500 for the client's input
        raise InvalidInput(f"the database could not evaluate the request: "
                           f"{str(exc).splitlines()[0][:200]}", where="filter",
                           hint="check the geometry and values in the filter") from None
    except psycopg.OperationalError as exc:
        raise DatabaseError("the database is not reachable", where="OGC API",
                            hint=str(exc).strip()[:200]) from None


def arguments_as_params(offset: int, limit: int, resulttype: str, bbox: list | None,
                        datetime_: str | None, properties: list | None, sortby: list | None,
                        select_properties: list | None, skip_geometry: bool, q: str | None,
                        filterq: Any, crs_transform_spec: Any) -> list[tuple[str, str]]:
    """pygeoapi's arguments to ``query()`` as the request parameters they came from, so that a
    provider called without a checked request checks them with the one parser."""
    params = [("limit", str(limit)), ("offset", str(offset)), ("resulttype", resulttype)]
    params += [(str(name), str(value)) for name, value in properties or []]
    if bbox:
        params.append(("bbox", ",".join(map(str, bbox))))  # pygeoapi gives it in storage CRS
    if datetime_:
        params.append(("datetime", datetime_))
    if sortby:
        params.append(("sortby", ",".join(("-" if s["order"] == "-" else "") + s["property"]
                                          for s in sortby)))
    if select_properties:
        params.append(("properties", ",".join(select_properties)))
    if skip_geometry:
        params.append(("skipGeometry", "true"))
    if q:
        params.append(("q", q))
    if filterq is not None:  # pygeoapi's parse tree, written back as CQL2 JSON
        from pygeofilter.backends.cql2_json import to_cql2

        params += [("filter", to_cql2(filterq)), ("filter-lang", "cql2-json")]
    if crs_transform_spec is not None:
        params.append(("crs", crs_transform_spec.target_crs_uri))
    return params


def checked_or_invalid(check: Any, *args: Any) -> Any:
    """``check(*args)``, its refusal as pygeoapi's invalid-query error (a 400)."""
    try:
        return check(*args)
    except IocgisError as exc:
        raise ProviderInvalidQueryError(user_msg=str(exc)) from None


class LayerProvider(BaseProvider):
    """Features of one layer (``data: {layer: <id>, pool: <key>}``)."""

    def __init__(self, provider_def: dict) -> None:
        super().__init__(provider_def)
        self.id_field = provider_def.get("id_field", "id")
        self.layer = get_registry().get(self.data["layer"])
        self.pool_key = self.data["pool"]
        self.items_url = f"{self.data['base_url']}/collections/{self.layer.id}/items"
        # The caller's plan for this layer: fields, rows, and the role PostgreSQL takes.
        self.plan: AccessPlan = plan_for(current_caller(), self.layer)
        self.visible = self.plan.fields
        self.field_schemas = field_schemas(self.layer, self.visible)

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        return self.field_schemas

    def get_fields(self) -> dict[str, dict[str, Any]]:
        return self.field_schemas

    # --- items ----------------------------------------------------------------------------
    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results",
              bbox: list | None = None, datetime_: str | None = None,
              properties: list | None = None, sortby: list | None = None,
              select_properties: list | None = None, skip_geometry: bool = False,
              q: str | None = None, filterq: Any = None, crs_transform_spec: Any = None,
              **kwargs: Any) -> dict[str, Any]:
        current = checked_request(self.layer.id)
        through_adapter = current is not None and current.items is not None
        if current is not None and current.items is not None:
            query = current.items
        else:  # not through the adapter: pygeoapi's arguments, checked by the same parser
            params = arguments_as_params(offset, limit, resulttype, bbox, datetime_, properties,
                                         sortby, select_properties, skip_geometry, q, filterq,
                                         crs_transform_spec)
            query = checked_or_invalid(parse_items_query, self.layer, self.visible, params)
            current = OgcRequest(self.layer.id, items=query)
        reading = self.plan.with_fields(() if query.hits else query.output_fields)
        with get_reader(self.pool_key).reading(reading, what="filter", hint=SLOW_HINT) as conn:
            return self._page(conn, query, current, through_adapter)

    def _page(self, conn: psycopg.Connection, query: ItemsQuery, current: OgcRequest,
              through_adapter: bool = False) -> dict[str, Any]:
        """One page; on a first page also numberMatched (exact) or numberMatchedEstimate.

        Counting never reads a large result: the planner's estimate (EXPLAIN, nothing read)
        decides. An expected small result is paged and counted in one scan (exact when at most
        ``EXACT_COUNT_CAP`` rows match); a large one states the estimate. Later pages (cursor or
        offset) carry no count.
        """
        result: dict[str, Any] = {"type": "FeatureCollection", "features": []}
        # JSON through the adapter: PostgreSQL writes each feature, the adapter puts them in
        # pygeoapi's answer (``pygeoapi_seams.features_json``)
        as_json = through_adapter and current.format == "json"
        if query.hits:
            statement, params = features_sql.count_sql(self.plan, query, cap=None)
            result["numberMatched"] = run_query(conn, statement, params)[0][0]
            result["numberReturned"] = 0
            return result
        counts: dict[str, int] = {}
        rows: list[tuple] | None = None
        if query.offset == 0 and query.cursor is None:
            estimate = self._estimate(conn, query)
            cap = features_sql.EXACT_COUNT_CAP
            if estimate <= cap:
                statement, params = features_sql.counted_first_page_sql(self.plan, query, cap,
                                                                        as_json)
                counted = run_query(conn, statement, params)
                matched = counted[0][0] if counted else 0
                if matched <= cap:
                    rows, counts = [row[1:] for row in counted], {"numberMatched": matched}
            if rows is None:
                counts = {"numberMatchedEstimate": estimate}
        if rows is None:
            statement, params = features_sql.page_sql(self.plan, query, as_json)
            rows = run_query(conn, statement, params)
        has_next = len(rows) > query.limit
        rows = rows[:query.limit]
        if "numberMatchedEstimate" in counts:
            if has_next:
                counts["numberMatchedEstimate"] = max(counts["numberMatchedEstimate"], len(rows) + 1)
            else:  # the whole result is on this page: its size is the exact count
                counts = {"numberMatched": len(rows)}
        if as_json:
            features_json(current, [row[1] for row in rows])
        else:
            fields = query.output_fields
            geometry = self.layer.is_spatial and not query.skip_geometry
            result["features"] = [self._feature(row, fields, geometry) for row in rows]
        result["numberReturned"] = len(rows)
        note_shared(self.plan.caller, self.layer.id, rows=len(rows))
        result.update(counts)
        result["links"] = self._links(query, rows, has_next, current.format)
        return result

    def _estimate(self, conn: psycopg.Connection, query: ItemsQuery) -> int:
        statement, params = features_sql.estimate_sql(self.plan, query)
        plan = run_query(conn, statement, params)[0][0]
        return int(plan[0]["Plan"]["Plan Rows"]) if plan else 0

    def _links(self, query: ItemsQuery, rows: list[tuple], has_next: bool,
               format_: str) -> list[dict[str, str]]:
        """Self and alternates with every parameter, next (keyset cursor) and prev."""
        page_links = links.format_links(self.items_url, query.params, format_)
        kept = [(k, v) for k, v in query.params if k not in ("offset", "cursor")]
        if has_next:
            page = [*kept, ("offset", str(query.offset + query.limit))]
            if query.keyset and rows:
                page.append(("cursor", str(rows[-1][0])))
            page_links.append({"rel": "next", "type": "application/geo+json",
                               "title": "Trang sau / next",
                               "href": f"{self.items_url}?{urlencode(page)}"})
        if query.offset > 0:  # the last page of an offset walk links back too
            prev = [*kept, ("offset", str(max(0, query.offset - query.limit)))]
            page_links.append({"rel": "prev", "type": "application/geo+json",
                               "title": "Trang trước / previous",
                               "href": f"{self.items_url}?{urlencode(prev)}"})
        return page_links

    @staticmethod
    def _feature(row: tuple, fields: tuple[str, ...], geometry: bool) -> dict[str, Any]:
        properties = dict(zip(fields, row[1:1 + len(fields)]))
        shape = None
        if geometry and row[-1] is not None:
            shape = json.loads(row[-1])
        return {"type": "Feature", "id": row[0], "geometry": shape, "properties": properties}

    # --- one item -------------------------------------------------------------------------
    def get(self, identifier: Any, crs_transform_spec: Any = None, **kwargs: Any) -> dict[str, Any]:
        text = str(identifier)
        if not text.isdigit() or len(text) > 18:
            raise ProviderItemNotFoundError(user_msg=f"no feature {text[:40]!r} in {self.layer.id}")
        current = checked_request(self.layer.id)
        crs: OgcCrs = current.item_crs if current is not None else (
            checked_or_invalid(lambda uri: parse_ogc_crs(uri, where="crs"),
                               crs_transform_spec.target_crs_uri)
            if crs_transform_spec is not None else CRS84)
        footprint = current is not None and current.item_footprint
        statement, params = features_sql.item_sql(self.plan, crs, int(text), footprint)
        with get_reader(self.pool_key).reading(self.plan, what="feature", hint=SLOW_HINT) as conn:
            rows = run_query(conn, statement, params)
        if not rows:
            raise ProviderItemNotFoundError(user_msg=f"no feature {text} in {self.layer.id}")
        note_shared(self.plan.caller, self.layer.id, rows=1)
        return self._feature(rows[0], self.visible, self.layer.is_spatial)

    def __repr__(self) -> str:
        return f"<LayerProvider {self.layer.id}>"
