"""One SQL statement per layer query: matched features, grouped totals and a page of features.

Identifiers come from the registry (already allowlisted in the spec) through
``psycopg.sql.Identifier``; every value is a bound parameter. Distances, areas and lengths
are geodesic (``geography``, on the WGS84 spheroid); every spatial predicate is preceded by
a bounding-box test on ``geom`` so the GiST index does the first cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from iocgis.access import AccessPlan
from iocgis.api.query.spec import (
    Around,
    AtPoint,
    Condition,
    Everywhere,
    FartherThan,
    Inside,
    InsideLayer,
    LayerQuery,
    Nearest,
    RelatedCondition,
    Value,
)
from iocgis.errors import ConfigError
from iocgis.geodesy import expansion
from iocgis.layers import FieldDef, LayerDef, Registry
from iocgis.layers.types import field_type

MAX_GROUPS = 5000
# Metres per degree, chosen so a box built from them always contains the geodesic circle:
# the smallest length of a degree of latitude (at the equator) and the spherical length of a
# degree of longitude at the equator (the spheroid's is longer at every latitude).
# FartherThan boxes are built around every feature; latitudes up to this bound (Vietnam's
# northernmost point is 23.4°N) keep them valid.
MAX_ABS_LAT = 30.0
DECIMALS = 7  # GeoJSON coordinates: about 1 cm
# Per-feature measures (metres, geodesic), in feature properties and group totals. No registry
# field may take these names (checked at start-up by ``check_registry``).
DISTANCE, AREA, LENGTH = "distance_m", "measured_area_m2", "measured_length_m"
MEASURES = (DISTANCE, AREA, LENGTH)



def check_registry(registry: Registry) -> None:
    """No layer field may be named like a measure: the two would meet in one JSON object."""
    for layer in registry:
        clash = set(layer.field_names) & set(MEASURES)
        if clash:
            raise ConfigError(f"layer {layer.id} has a field named {sorted(clash)[0]!r}",
                              where="layers/", hint="the query API reports its measures under "
                                                   f"{', '.join(MEASURES)}; rename the field")


@dataclass
class Statement:
    """A composed statement and its named parameters."""

    query: sql.Composed
    params: dict[str, Any]
    nearest: Nearest | None = None


@dataclass
class Binder:
    params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, value: Any) -> sql.Placeholder:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return sql.Placeholder(name)


def _table(layer: LayerDef) -> sql.Identifier:
    return sql.Identifier(layer.schema_name, layer.table_name)


def _col(alias: str, name: str) -> sql.Identifier:
    return sql.Identifier(alias, name)


def _point(bind: Binder, lon: float, lat: float) -> sql.Composed:
    return sql.SQL("ST_SetSRID(ST_MakePoint({}::float8, {}::float8), 4326)").format(
        bind(lon), bind(lat))


def _box_near(bind: Binder, alias: str, lon: float, lat: float, metres: float) -> sql.Composed:
    """``alias.geom`` within ``metres`` of the point: index-friendly box, then geodesic test."""
    dx, dy = expansion(lat, metres)
    pt = _point(bind, lon, lat)
    return sql.SQL(
        "{geom} && ST_Expand({pt}, {dx}::float8, {dy}::float8)"
        " AND ST_DWithin({geom}::geography, {pt}::geography, {m}::float8)").format(
        geom=_col(alias, "geom"), pt=pt, dx=bind(dx), dy=bind(dy), m=bind(metres))


def scope_conditions_of(plan: AccessPlan) -> tuple[Condition, ...]:
    """The plan's row filter (a commune-limited caller's communes), in the statement so the
    planner uses the index; PostgreSQL's row-level security enforces the same rule."""
    if plan.commune_field is None:
        return ()
    return (Condition(plan.layer.field(plan.commune_field), tuple(plan.communes or ())),)


def condition_sql(bind: Binder, alias: str,
                  cond: Condition | RelatedCondition) -> sql.Composed:
    if isinstance(cond, RelatedCondition):
        inner = [condition_sql(bind, "o", c) for c in cond.where]
        where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(inner) if inner else sql.SQL("")
        return sql.SQL("{col} IN (SELECT {other} FROM {table} o{where})").format(
            col=_col(alias, cond.field.name), other=_col("o", cond.other_field.name),
            table=_table(cond.layer), where=where)
    values: list[Value] = list(cond.values)
    cast = sql.SQL(field_type(cond.field.type).array_element)
    if len(values) == 1:
        return sql.SQL("{col} = {v}::{t}").format(col=_col(alias, cond.field.name),
                                                 v=bind(values[0]), t=cast)
    return sql.SQL("{col} = ANY({v}::{t}[])").format(col=_col(alias, cond.field.name),
                                                    v=bind(values), t=cast)


def _measured_geom(query: LayerQuery, column: str = "geom") -> sql.Composable:
    """The geometry areas and lengths are measured on: clipped to the region when asked."""
    sel = query.selection
    shape = sql.Identifier("t", column)
    if isinstance(sel, Inside) and sel.clip:
        # ST_ContainsProperly with the region first runs on GEOS's prepared geometry (cached
        # across rows): several times cheaper than ST_CoveredBy(t.geom, r.g) here.
        return sql.SQL("CASE WHEN ST_ContainsProperly(r.g, {g}) THEN {g}"
                       " ELSE ST_Intersection({g}, r.g) END").format(g=shape)
    return shape


def measures(query: LayerQuery, bind: Binder) -> list[tuple[str, sql.Composable]]:
    """Per-feature measures in metres: distance to the point, area or length."""
    out: list[tuple[str, sql.Composable]] = []
    sel = query.selection
    if isinstance(sel, (Around, Nearest)) or (isinstance(sel, AtPoint) and sel.tolerance_m > 0):
        out.append((DISTANCE, sql.SQL("ST_Distance(t.geom::geography, {}::geography)").format(
            _point(bind, sel.lon, sel.lat))))
    geometry = query.layer.geometry or ""
    area = query.layer.area_column  # a house is counted by its position, measured by its footprint
    if area:
        out.append((AREA, sql.SQL("ST_Area(({})::geography)").format(
            _measured_geom(query, area))))
    elif "LineString" in geometry:
        out.append((LENGTH, sql.SQL("ST_Length(({})::geography)").format(
            _measured_geom(query))))
    return out


def _selection(query: LayerQuery, bind: Binder) -> tuple[list[sql.Composable], list[sql.Composable]]:
    """(extra FROM items, WHERE clauses) of the spatial selection."""
    sel = query.selection
    if isinstance(sel, AtPoint):
        if sel.tolerance_m > 0:
            return [], [_box_near(bind, "t", sel.lon, sel.lat, sel.tolerance_m)]
        pt = _point(bind, sel.lon, sel.lat)
        return [], [sql.SQL("t.geom && {pt} AND ST_Intersects(t.geom, {pt})").format(pt=pt)]
    if isinstance(sel, Around):
        # Only the box here; the geodesic test reuses the distance the row needs anyway
        # (see layer_statement): one spheroid distance per candidate instead of two.
        dx, dy = expansion(sel.lat, sel.radius_m)
        return [], [sql.SQL("t.geom && ST_Expand({pt}, {dx}::float8, {dy}::float8)").format(
            pt=_point(bind, sel.lon, sel.lat), dx=bind(dx), dy=bind(dy))]
    if isinstance(sel, Nearest):
        if sel.max_distance_m:
            return [], [_box_near(bind, "t", sel.lon, sel.lat, sel.max_distance_m)]
        return [], []
    if isinstance(sel, Inside):
        return ([sql.SQL("region r")],
                [sql.SQL("t.geom && r.g AND ST_Intersects(r.g, t.geom)")])
    if isinstance(sel, InsideLayer):
        # Driven from the (few) features of the other layer, each finding its matches through
        # the queried layer's index: several times faster than probing the other layer once
        # per row of a large layer (EXISTS).
        inner = [condition_sql(bind, "o", c) for c in sel.where]
        where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(inner) if inner else sql.SQL("")
        return [], [sql.SQL("t.fid IN (SELECT m.fid FROM {other} o JOIN {table} m"
                            " ON m.geom && o.geom AND ST_Intersects(o.geom, m.geom){where})").format(
            other=_table(sel.layer), table=_table(query.layer), where=where)]
    if isinstance(sel, FartherThan):
        dx, dy = expansion(MAX_ABS_LAT, sel.distance_m)
        inner = [condition_sql(bind, "o", c) for c in sel.where]
        extra = sql.SQL("").join(sql.SQL(" AND ") + c for c in inner)
        return [], [sql.SQL(
            "t.geom IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {table} o"
            " WHERE o.geom && ST_Expand(t.geom, {dx}::float8, {dy}::float8)"
            " AND ST_DWithin(o.geom::geography, t.geom::geography, {m}::float8){extra})").format(
            table=_table(sel.layer), dx=bind(dx), dy=bind(dy), m=bind(sel.distance_m),
            extra=extra)]
    if isinstance(sel, Everywhere):
        return [], []
    raise TypeError(f"unknown selection {sel!r}")


def _order(measure_names: list[str], alias: str | None = None) -> sql.Composable:
    """Nearest first when there is a distance, else by feature id (stable pages)."""
    names = [DISTANCE, "fid"] if DISTANCE in measure_names else ["fid"]
    return sql.SQL(", ").join(sql.Identifier(alias, n) if alias else sql.Identifier(n)
                              for n in names)


def _json_object(pairs: list[tuple[str, sql.Composable]]) -> sql.Composable:
    if not pairs:
        return sql.SQL("'{}'::json")
    if len(pairs) > 50:  # json_build_object takes at most 100 arguments
        chunks = [pairs[i:i + 50] for i in range(0, len(pairs), 50)]
        return sql.SQL("({})::json").format(sql.SQL(" || ").join(
            sql.SQL("({})::jsonb").format(_json_object(c)) for c in chunks))
    return sql.SQL("json_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, {}").format(sql.Literal(k), v) for k, v in pairs))


def _groups(query: LayerQuery, measure_names: list[str]) -> sql.Composable:
    key = sql.SQL("q.{}").format(sql.Identifier(query.group_by.name)) if query.group_by \
        else sql.SQL("NULL")
    cols: list[sql.Composable] = [sql.SQL("{} AS key").format(key), sql.SQL("count(*) AS count")]
    cols.append(sql.SQL("{} AS sum").format(_json_object(
        [(f.name, sql.SQL("sum(q.{})").format(sql.Identifier(f.name))) for f in query.totals])))
    cols.append(sql.SQL("{} AS avg").format(_json_object(
        [(f.name, sql.SQL("avg(q.{})").format(sql.Identifier(f.name))) for f in query.totals])))
    if query.flags:
        cols.append(sql.SQL("{} AS true_count").format(_json_object(
            [(f.name, sql.SQL("count(*) FILTER (WHERE q.{})").format(sql.Identifier(f.name)))
             for f in query.flags])))
    for name in (AREA, LENGTH):
        if name in measure_names:
            cols.append(sql.SQL("round(coalesce(sum(q.{n}), 0)::numeric, 2) AS {n}").format(
                n=sql.Identifier(name)))
    for ratio in query.ratios:
        denominator = (sql.SQL("sum(q.{})").format(sql.Identifier(ratio.denominator.name))
                       if ratio.denominator else sql.SQL("count(*)"))
        cols.append(sql.SQL("sum(q.{num})::float8 / NULLIF({den}, 0) AS {name}").format(
            num=sql.Identifier(ratio.numerator.name), den=denominator,
            name=sql.Identifier(ratio.name)))
    group = sql.SQL(" GROUP BY 1 ORDER BY 1 NULLS LAST") if query.group_by else sql.SQL("")
    return sql.SQL("SELECT coalesce(json_agg(g), '[]'::json)::text FROM ("
                   "SELECT {cols} FROM q{group} LIMIT {limit}) g").format(
        cols=sql.SQL(", ").join(cols), group=group, limit=sql.Literal(MAX_GROUPS + 1))


def _properties(query: LayerQuery, measure_names: list[str], *, layer_property: bool,
                with_fid: bool) -> sql.Composable:
    pairs: list[tuple[str, sql.Composable]] = []
    if with_fid:
        pairs.append(("fid", sql.SQL("p.fid")))
    if layer_property:
        pairs.append(("layer", sql.Literal(query.layer.id)))
    pairs += [(f.name, sql.SQL("p.{}").format(sql.Identifier(f.name))) for f in query.fields]
    pairs += [(m, sql.SQL("round(p.{}::numeric, 2)").format(sql.Identifier(m)))
              for m in measure_names]
    return _json_object(pairs)


def _features(query: LayerQuery, measure_names: list[str], bind: Binder, *,
              rows: bool, layer_property: bool) -> sql.Composable:
    page = sql.SQL("SELECT * FROM q ORDER BY {order} LIMIT {limit} OFFSET {offset}").format(
        order=_order(measure_names), limit=bind(int(query.limit) if query.with_features else 0),
        offset=bind(int(query.offset)))
    porder = _order(measure_names, "p")
    if rows:
        item = _properties(query, measure_names, layer_property=layer_property, with_fid=True)
        return sql.SQL("SELECT coalesce(json_agg({item} ORDER BY {po}), '[]'::json)::text"
                       " FROM ({page}) p").format(item=item, po=porder, page=page)
    feature = sql.SQL("json_build_object('type', 'Feature', 'id', p.fid, 'geometry',"
                      " ST_AsGeoJSON(p.geom, {dec})::json, 'properties', {props})").format(
        dec=sql.Literal(DECIMALS),
        props=_properties(query, measure_names, layer_property=layer_property, with_fid=False))
    return sql.SQL(
        "SELECT json_build_object('type', 'FeatureCollection', 'numberMatched',"
        " (SELECT count(*) FROM q), 'numberReturned', count(*), 'features',"
        " coalesce(json_agg({feature} ORDER BY {po}), '[]'::json))::text FROM ({page}) p").format(
        feature=feature, po=porder, page=page)


def layer_statement(query: LayerQuery, *, rows: bool = False,
                    layer_property: bool = False) -> Statement:
    """The statement answering ``query``: (count, groups JSON, features JSON[, nearest check]).

    ``rows`` returns the page as a JSON array of flat objects (for CSV) instead of GeoJSON.
    """
    bind = Binder()
    ctes: list[sql.Composable] = []
    if isinstance(query.selection, Inside):
        ctes.append(sql.SQL("region AS (SELECT ST_GeomFromWKB({}, 4326) AS g)").format(
            bind(query.selection.wkb)))
    extra_from, clauses = _selection(query, bind)
    if query.within is not None:
        ctes.append(sql.SQL("zone AS (SELECT ST_GeomFromWKB({}, 4326) AS g)").format(
            bind(query.within)))
        extra_from.append(sql.SQL("zone z"))
        clauses.append(sql.SQL("t.geom && z.g AND ST_Intersects(z.g, t.geom)"))
    clauses += [condition_sql(bind, "t", c)
                for c in (*scope_conditions_of(query.plan), *query.where)]
    measure_list = measures(query, bind)
    measure_names = [name for name, _ in measure_list]
    columns: list[sql.Composable] = [sql.SQL("t.fid"), sql.SQL("t.geom")]
    columns += [sql.SQL("t.{}").format(sql.Identifier(f.name)) for f in _needed_fields(query)]
    columns += [sql.SQL("{} AS {}").format(expr, sql.Identifier(name)) for name, expr in measure_list]
    from_items: list[sql.Composable] = [sql.SQL("{} t").format(_table(query.layer)), *extra_from]
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("")
    base = sql.SQL("SELECT {cols} FROM {froms}{where}").format(
        cols=sql.SQL(", ").join(columns), froms=sql.SQL(", ").join(from_items), where=where)
    if isinstance(query.selection, Around):
        # OFFSET 0 keeps the subquery whole, so the distance is computed once per row
        base = sql.SQL("SELECT * FROM ({base} OFFSET 0) s WHERE s.{d} <= {r}::float8").format(
            base=base, d=sql.Identifier(DISTANCE), r=bind(query.selection.radius_m))
    check = sql.SQL("")
    if isinstance(query.selection, Nearest):
        # Candidates by planar distance (the index's KNN order), reordered geodesically; the
        # engine verifies the candidate set was wide enough (see engine.nearest_is_complete).
        sel = query.selection
        ctes.append(sql.SQL("cand AS MATERIALIZED ({base} ORDER BY t.geom <-> {pt} LIMIT {k})")
                    .format(base=base, pt=_point(bind, sel.lon, sel.lat),
                            k=bind(int(query.extra.get("candidates", sel.count * 3 + 10)))))
        ctes.append(sql.SQL("q AS MATERIALIZED (SELECT c.*, c.geom <-> {pt} AS planar_deg"
                            " FROM cand c ORDER BY c.distance_m, c.fid LIMIT {n})").format(
            pt=_point(bind, sel.lon, sel.lat), n=bind(int(sel.count))))
        check = sql.SQL(", (SELECT count(*) FROM cand),"
                        " (SELECT max(c.geom <-> {pt}) FROM cand c),"
                        " (SELECT max(distance_m) FROM q)").format(pt=_point(bind, sel.lon, sel.lat))
    else:
        ctes.append(sql.SQL("q AS MATERIALIZED ({})").format(base))
    statement = sql.SQL("WITH {ctes} SELECT (SELECT count(*) FROM q), ({groups}),"
                        " ({features}){check}").format(
        ctes=sql.SQL(", ").join(ctes), groups=_groups(query, measure_names),
        features=_features(query, measure_names, bind, rows=rows, layer_property=layer_property),
        check=check)
    return Statement(statement, bind.params,
                     query.selection if isinstance(query.selection, Nearest) else None)


def _needed_fields(query: LayerQuery) -> list[FieldDef]:
    """Fields the statement reads: properties, the group key, totals, flags and ratios."""
    wanted: dict[str, FieldDef] = {f.name: f for f in query.fields}
    extra = [query.group_by, *query.totals, *query.flags]
    for ratio in query.ratios:
        extra += [ratio.numerator, ratio.denominator]
    for f in extra:
        if f is not None:
            wanted.setdefault(f.name, f)
    return list(wanted.values())
