"""The project's pygeoapi feature provider: one registry layer, psycopg 3, pooled connections.

pygeoapi's stock PostgreSQL provider needs psycopg2, counts every match on every page, answers
``DWITHIN`` with every row and transforms coordinates per feature in Python. This one reads the
request the adapter checked (``context.OgcRequest``), builds SQL from the registry's identifiers
with bound values, lets PostGIS transform (VN-2000 through the pinned SRIDs), pages by keyset,
and drops personal-data fields the caller may not see.

pygeoapi builds a provider per request, so ``__init__`` only looks things up.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import psycopg
from pygeoapi.crs import get_crs
from pygeoapi.provider.base import BaseProvider, ProviderItemNotFoundError

from iocgis.access import AccessPlan, current_caller, plan_for
from iocgis.api.ogc import features_sql
from iocgis.api.ogc.context import BASE_URL_TOKEN, request_for
from iocgis.api.ogc.crs import CRS84, CRS84_URI, OgcCrs, parse_ogc_crs
from iocgis.api.ogc.filter_sql import compile_filter
from iocgis.api.ogc.params import ItemsQuery, parse_bbox
from iocgis.api.ogc.pool import get_reader
from iocgis.errors import DatabaseError, InvalidInput
from iocgis.layers import LayerDef, get_registry
from iocgis.layers.types import FIELD_TYPES

log = logging.getLogger("iocgis.api.ogc")

# JSON Schema of each field type (``iocgis.layers.types``, where every type is declared once).
JSON_TYPES: dict[str, dict[str, str]] = {name: t.schema for name, t in FIELD_TYPES.items()}


@lru_cache(maxsize=1)
def storage_crs_84() -> Any:
    """pygeoapi's CRS object for the storage CRS, built once (not on every request)."""
    return get_crs(CRS84_URI)


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


def set_base_attributes(provider: BaseProvider, provider_def: dict) -> None:
    """What pygeoapi's ``BaseProvider.__init__`` sets, without its pyproj CRS built on every
    request (providers are built per request); both our providers start from this."""
    provider.name = provider_def["name"]
    provider.type = provider_def["type"]
    provider.data = provider_def["data"]
    provider.editable = False
    provider.count = False
    provider.options = None
    provider.id_field = "id"
    provider.uri_field = None
    provider.x_field = provider.y_field = provider.z_field = None
    provider.time_field = provider_def.get("time_field")
    provider.title_field = provider_def.get("title_field")
    provider.properties = []
    provider.file_types = []
    provider.include_extra_query_parameters = False
    provider.filename = None
    provider.storage_crs = storage_crs_84()
    provider.axes = []
    provider.crs = None
    provider.num_bands = None


class LayerProvider(BaseProvider):
    """Features of one layer (``data: {layer: <id>, pool: <key>}``)."""

    def __init__(self, provider_def: dict) -> None:
        set_base_attributes(self, provider_def)
        self.options = provider_def.get("options")
        self.id_field = provider_def.get("id_field", "id")
        self.layer = get_registry().get(self.data["layer"])
        self.pool_key = self.data["pool"]
        # The caller's plan for this layer: fields, rows, and the role PostgreSQL takes.
        self.plan: AccessPlan = plan_for(current_caller(), self.layer)
        self.visible = self.plan.fields
        self._fields = field_schemas(self.layer, self.visible)

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        return self._fields

    def get_fields(self) -> dict[str, dict[str, Any]]:
        return self._fields

    # --- items ----------------------------------------------------------------------------
    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results",
              bbox: list | None = None, datetime_: str | None = None,
              properties: list | None = None, sortby: list | None = None,
              select_properties: list | None = None, skip_geometry: bool = False,
              q: str | None = None, filterq: Any = None, crs_transform_spec: Any = None,
              **kwargs: Any) -> dict[str, Any]:
        current = request_for(self.layer.id)
        if current is not None and current.items is not None:
            query = current.items
        else:  # called by pygeoapi code paths that did not go through the adapter
            query = self._query_from_pygeoapi(offset, limit, resulttype, bbox or [],
                                              properties or [], sortby or [],
                                              select_properties or [], skip_geometry, q,
                                              filterq, crs_transform_spec)
        reading = self.plan.with_fields(() if query.hits else query.output_fields)
        with get_reader(self.pool_key).reading(reading, what="filter", hint=SLOW_HINT) as conn:
            return self._page(conn, query)

    def _page(self, conn: psycopg.Connection, query: ItemsQuery) -> dict[str, Any]:
        """One page; on a first page also numberMatched (exact) or numberMatchedEstimate.

        Counting never reads a large result: the planner's estimate (EXPLAIN, nothing read)
        decides. An expected small result is paged and counted in one scan (exact when at most
        ``EXACT_COUNT_CAP`` rows match); a large one states the estimate. Later pages (cursor or
        offset) carry no count.
        """
        result: dict[str, Any] = {"type": "FeatureCollection", "features": []}
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
                statement, params = features_sql.counted_first_page_sql(self.plan, query, cap)
                counted = run_query(conn, statement, params)
                matched = counted[0][0] if counted else 0
                if matched <= cap:
                    rows, counts = [row[1:] for row in counted], {"numberMatched": matched}
            if rows is None:
                counts = {"numberMatchedEstimate": estimate}
        if rows is None:
            statement, params = features_sql.page_sql(self.plan, query)
            rows = run_query(conn, statement, params)
        has_next = len(rows) > query.limit
        rows = rows[:query.limit]
        if "numberMatchedEstimate" in counts:
            if has_next:
                counts["numberMatchedEstimate"] = max(counts["numberMatchedEstimate"], len(rows) + 1)
            else:  # the whole result is on this page: its size is the exact count
                counts = {"numberMatched": len(rows)}
        fields = query.output_fields
        geometry = self.layer.is_spatial and not query.skip_geometry
        result["features"] = [self._feature(row, fields, geometry) for row in rows]
        result["numberReturned"] = len(rows)
        result.update(counts)
        result["links"] = self._links(query, rows, has_next)
        return result

    def _estimate(self, conn: psycopg.Connection, query: ItemsQuery) -> int:
        statement, params = features_sql.estimate_sql(self.plan, query)
        plan = run_query(conn, statement, params)[0][0]
        return int(plan[0]["Plan"]["Plan Rows"]) if plan else 0

    def _links(self, query: ItemsQuery, rows: list[tuple], has_next: bool) -> list[dict[str, str]]:
        links = []
        base = f"{BASE_URL_TOKEN}/collections/{self.layer.id}/items"
        kept = [(k, v) for k, v in query.params if k not in ("offset", "cursor")]
        if has_next:
            page = [*kept, ("offset", str(query.offset + query.limit))]
            if query.keyset and rows:
                page.append(("cursor", str(rows[-1][0])))
            links.append({"rel": "next", "type": "application/geo+json", "title": "Trang sau / next",
                          "href": f"{base}?{urlencode(page)}"})
        if query.offset > 0:  # the last page of an offset walk links back too
            prev = [*kept, ("offset", str(max(0, query.offset - query.limit)))]
            links.append({"rel": "prev", "type": "application/geo+json",
                          "title": "Trang trước / previous", "href": f"{base}?{urlencode(prev)}"})
        return links

    @staticmethod
    def _feature(row: tuple, fields: tuple[str, ...], geometry: bool) -> dict[str, Any]:
        properties = dict(zip(fields, row[1:1 + len(fields)]))
        shape = None
        if geometry and row[-1] is not None:
            shape = json.loads(row[-1])
        return {"type": "Feature", "id": row[0], "geometry": shape, "properties": properties}

    def _query_from_pygeoapi(self, offset: int, limit: int, resulttype: str, bbox: list,
                             properties: list, sortby: list, select_properties: list,
                             skip_geometry: bool, q: str | None, filterq: Any,
                             crs_transform_spec: Any) -> ItemsQuery:
        crs = parse_ogc_crs(crs_transform_spec.target_crs_uri, where="crs") \
            if crs_transform_spec is not None else CRS84
        fields = {name: self.layer.field(name) for name in self.visible}
        filter_params: dict[str, Any] = {}
        filter_sql = compile_filter(filterq, fields, spatial=self.layer.is_spatial,
                                    filter_crs=CRS84, params=filter_params) \
            if filterq is not None else None
        return ItemsQuery(
            layer_id=self.layer.id, visible_fields=self.visible, limit=limit, offset=offset,
            bbox=parse_bbox(",".join(map(str, bbox)), CRS84) if bbox else None,
            equals=tuple((k, v) for k, v in properties if k in fields),
            filter_sql=filter_sql, filter_params=filter_params,
            q=tuple(t for t in (q or "").split(",") if t),
            sortby=tuple((s["property"], s["order"] == "-") for s in sortby
                         if s["property"] in fields),
            properties=tuple(p for p in select_properties if p in fields) or None,
            crs=crs, skip_geometry=skip_geometry, hits=resulttype == "hits")

    # --- one item -------------------------------------------------------------------------
    def get(self, identifier: Any, crs_transform_spec: Any = None, **kwargs: Any) -> dict[str, Any]:
        text = str(identifier)
        if not text.isdigit() or len(text) > 18:
            raise ProviderItemNotFoundError(user_msg=f"no feature {text[:40]!r} in {self.layer.id}")
        current = request_for(self.layer.id)
        crs: OgcCrs = current.item_crs if current is not None else (
            parse_ogc_crs(crs_transform_spec.target_crs_uri, where="crs")
            if crs_transform_spec is not None else CRS84)
        statement, params = features_sql.item_sql(self.plan, crs, int(text))
        with get_reader(self.pool_key).reading(self.plan, what="feature", hint=SLOW_HINT) as conn:
            rows = run_query(conn, statement, params)
        if not rows:
            raise ProviderItemNotFoundError(user_msg=f"no feature {text} in {self.layer.id}")
        return self._feature(rows[0], self.visible, self.layer.is_spatial)

    def __repr__(self) -> str:
        return f"<LayerProvider {self.layer.id}>"
