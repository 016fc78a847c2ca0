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
)
from iocgis.errors import ConfigError
from iocgis.geodesy import expansion
from iocgis.layers import FieldDef, LayerDef, Registry
from iocgis.layers.types import STORAGE_SRID, field_type

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
    """A statement's text (from the template cache) and its named parameters."""

    query: bytes
    params: dict[str, Any]
    nearest: Nearest | None = None
    summary: bool = False  # from the summaries: a fourth column says whether they were fresh


def condition_value(cond: Condition) -> Any:
    """What a condition binds: its one value, or the list of its values (``= ANY``)."""
    return cond.values[0] if len(cond.values) == 1 else list(cond.values)


@dataclass
class Binder:
    params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, value: Any) -> sql.Placeholder:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return sql.Placeholder(name)

    def values_of(self, cond: Condition) -> sql.Placeholder:
        return self(condition_value(cond))


class _Names:
    """The placeholders of a layer statement's template, by name; the values of one query are
    ``_values(query)`` (the same names), so a template serves every query of its shape."""

    def __init__(self, conditions: list[Condition]) -> None:
        self.conditions = {id(c): f"c{i}" for i, c in enumerate(conditions)}
        self.used: set[str] = set()

    def __call__(self, name: str) -> sql.Placeholder:
        self.used.add(name)
        return sql.Placeholder(name)

    def values_of(self, cond: Condition) -> sql.Placeholder:
        return self(self.conditions[id(cond)])


def _table(layer: LayerDef) -> sql.Identifier:
    return sql.Identifier(layer.schema_name, layer.table_name)


def _col(alias: str, name: str) -> sql.Identifier:
    return sql.Identifier(alias, name)


def _point(n: _Names) -> sql.Composed:
    return sql.SQL("ST_SetSRID(ST_MakePoint({}::float8, {}::float8), {})").format(
        n("lon"), n("lat"), sql.Literal(STORAGE_SRID))


def _box_near(n: _Names, alias: str) -> sql.Composed:
    """``alias.geom`` within ``m`` metres of the point: index-friendly box, then geodesic test."""
    pt = _point(n)
    return sql.SQL(
        "{geom} && ST_Expand({pt}, {dx}::float8, {dy}::float8)"
        " AND ST_DWithin({geom}::geography, {pt}::geography, {m}::float8)").format(
        geom=_col(alias, "geom"), pt=pt, dx=n("dx"), dy=n("dy"), m=n("m"))


def scope_conditions_of(plan: AccessPlan) -> tuple[Condition, ...]:
    """The plan's row filter (a commune-limited caller's communes), in the statement so the
    planner uses the index; PostgreSQL's row-level security enforces the same rule."""
    if plan.commune_field is None:
        return ()
    return (Condition(plan.layer.field(plan.commune_field), tuple(plan.communes or ())),)


def condition_sql(bind: Binder | _Names, alias: str,
                  cond: Condition | RelatedCondition) -> sql.Composed:
    if isinstance(cond, RelatedCondition):
        inner = [condition_sql(bind, "o", c) for c in cond.where]
        where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(inner) if inner else sql.SQL("")
        return sql.SQL("{col} IN (SELECT {other} FROM {table} o{where})").format(
            col=_col(alias, cond.field.name), other=_col("o", cond.other_field.name),
            table=_table(cond.layer), where=where)
    cast = sql.SQL(field_type(cond.field.type).array_element)
    if len(cond.values) == 1:
        return sql.SQL("{col} = {v}::{t}").format(col=_col(alias, cond.field.name),
                                                 v=bind.values_of(cond), t=cast)
    return sql.SQL("{col} = ANY({v}::{t}[])").format(col=_col(alias, cond.field.name),
                                                    v=bind.values_of(cond), t=cast)


def _measured_geom(query: LayerQuery, column: str = "geom", alias: str = "t") -> sql.Composable:
    """The geometry areas and lengths are measured on: clipped to the region when asked."""
    sel = query.selection
    shape = sql.Identifier(alias, column)
    if isinstance(sel, Inside) and sel.clip:
        # ST_ContainsProperly with the region first runs on GEOS's prepared geometry (cached
        # across rows): several times cheaper than ST_CoveredBy(t.geom, r.g) here.
        return sql.SQL("CASE WHEN ST_ContainsProperly(r.g, {g}) THEN {g}"
                       " ELSE ST_Intersection({g}, r.g) END").format(g=shape)
    return shape


def measures(query: LayerQuery, n: _Names, alias: str = "t") -> list[tuple[str, sql.Composable]]:
    """Per-feature measures in metres: distance to the point, area or length."""
    out: list[tuple[str, sql.Composable]] = []
    sel = query.selection
    if isinstance(sel, (Around, Nearest)) or (isinstance(sel, AtPoint) and sel.tolerance_m > 0):
        out.append((DISTANCE, sql.SQL("ST_Distance({}::geography, {}::geography)").format(
            _col(alias, "geom"), _point(n))))
    geometry = query.layer.geometry or ""
    area = query.layer.area_column  # a house is counted by its position, measured by its footprint
    if area:
        out.append((AREA, sql.SQL("ST_Area(({})::geography)").format(
            _measured_geom(query, area, alias))))
    elif "LineString" in geometry:
        out.append((LENGTH, sql.SQL("ST_Length(({})::geography)").format(
            _measured_geom(query, alias=alias))))
    return out


def _selection(query: LayerQuery, n: _Names) -> tuple[list[sql.Composable], list[sql.Composable]]:
    """(extra FROM items, WHERE clauses) of the spatial selection."""
    sel = query.selection
    if isinstance(sel, AtPoint):
        if sel.tolerance_m > 0:
            return [], [_box_near(n, "t")]
        pt = _point(n)
        return [], [sql.SQL("t.geom && {pt} AND ST_Intersects(t.geom, {pt})").format(pt=pt)]
    if isinstance(sel, Around):
        # Only the box here; the distance test follows on the sphere (see _around)
        return [], [sql.SQL("t.geom && ST_Expand({pt}, {dx}::float8, {dy}::float8)").format(
            pt=_point(n), dx=n("dx"), dy=n("dy"))]
    if isinstance(sel, Nearest):
        if sel.max_distance_m:
            return [], [_box_near(n, "t")]
        return [], []
    if isinstance(sel, Inside):
        return ([sql.SQL("region r")],
                [sql.SQL("t.geom && r.g AND ST_Intersects(r.g, t.geom)")])
    if isinstance(sel, InsideLayer):
        # Driven from the (few) features of the other layer, each finding its matches through
        # the queried layer's index: several times faster than probing the other layer once
        # per row of a large layer (EXISTS).
        inner = [condition_sql(n, "o", c) for c in sel.where]
        where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(inner) if inner else sql.SQL("")
        return [], [sql.SQL("t.fid IN (SELECT m.fid FROM {other} o JOIN {table} m"
                            " ON m.geom && o.geom AND ST_Intersects(o.geom, m.geom){where})").format(
            other=_table(sel.layer), table=_table(query.layer), where=where)]
    if isinstance(sel, FartherThan):
        inner = [condition_sql(n, "o", c) for c in sel.where]
        extra = sql.SQL("").join(sql.SQL(" AND ") + c for c in inner)
        return [], [sql.SQL(
            "t.geom IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {table} o"
            " WHERE o.geom && ST_Expand(t.geom, {dx}::float8, {dy}::float8)"
            " AND ST_DWithin(o.geom::geography, t.geom::geography, {m}::float8){extra})").format(
            table=_table(sel.layer), dx=n("fdx"), dy=n("fdy"), m=n("fm"), extra=extra)]
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


def _features(query: LayerQuery, measure_names: list[str], page: sql.Composable, *,
              rows: bool, layer_property: bool,
              matched: sql.Composable = sql.SQL("(SELECT count(*) FROM q)")) -> sql.Composable:
    """The page as GeoJSON (or flat rows); ``matched``: how many features match in all."""
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
        " {matched}, 'numberReturned', count(*), 'features',"
        " coalesce(json_agg({feature} ORDER BY {po}), '[]'::json))::text FROM ({page}) p").format(
        feature=feature, po=porder, page=page, matched=matched)


# Radius: the geodesic distance on the WGS84 spheroid (D) over the great-circle distance on
# PostGIS's mean sphere (S) lies within [SPHERE_LOW, SPHERE_HIGH] (the true spread is about
# ±0.56 %). So S <= r / HIGH is surely inside the radius, S > r / LOW surely outside, and only
# the thin ring between needs the spheroid; the page's nearest are ranked the same way.
SPHERE_LOW, SPHERE_HIGH = 0.99, 1.01
SPHERE = "sphere_m"


def _around(query: LayerQuery, n: _Names, base: sql.Composable,
            measure_list: list[tuple[str, sql.Composable]]) -> tuple[sql.Composable, sql.Composable]:
    """(the matches, the page) of a radius: the sphere decides all but a thin ring, the
    spheroid the ring; totals need no distance, and the page's distances are geodesic."""
    r, pt = n("radius"), _point(n)
    extra = [sql.SQL(", {} AS {}").format(expr, sql.Identifier(name))
             for name, expr in measure_list if name != DISTANCE]
    matches = sql.SQL(
        "SELECT s.*{extra} FROM ({base} OFFSET 0) s WHERE s.{sp} <= {r}::float8 / {hi}"
        " OR (s.{sp} <= {r}::float8 / {lo}"
        " AND ST_Distance(s.geom::geography, {pt}::geography) <= {r}::float8)").format(
        extra=sql.SQL("").join(extra), base=base, sp=sql.Identifier(SPHERE), r=r, pt=pt,
        hi=sql.Literal(SPHERE_HIGH), lo=sql.Literal(SPHERE_LOW))
    # The k-th smallest sphere distance s_k bounds the k-th geodesic one by s_k * HIGH, so
    # every feature of the true first k has S <= s_k * HIGH / LOW: rank only those exactly.
    page = sql.SQL(
        "SELECT q.*, ST_Distance(q.geom::geography, {pt}::geography) AS {d} FROM q"
        " WHERE q.{sp} <= (SELECT max(k.{sp}) FROM (SELECT {sp} FROM q ORDER BY 1"
        " LIMIT {limit} + {offset}) k) * {ratio} ORDER BY {d}, q.fid"
        " LIMIT {limit} OFFSET {offset}").format(
        pt=pt, d=sql.Identifier(DISTANCE), sp=sql.Identifier(SPHERE), limit=n("limit"),
        offset=n("offset"), ratio=sql.Literal(SPHERE_HIGH / SPHERE_LOW))
    return matches, page


def _template(query: LayerQuery, rows: bool, layer_property: bool,
              selection_where: list[Condition | RelatedCondition],
              where: list[Condition | RelatedCondition]) -> tuple[sql.Composed, set[str]]:
    """The statement of the query's shape, its values as named placeholders."""
    n = _Names(_flat([*selection_where, *where]))
    ctes: list[sql.Composable] = []
    if isinstance(query.selection, Inside):
        ctes.append(sql.SQL("region AS (SELECT ST_GeomFromWKB({}, {}) AS g)").format(
            n("region"), sql.Literal(STORAGE_SRID)))
    extra_from, clauses = _selection(query, n)
    if query.within is not None:
        ctes.append(sql.SQL("zone AS (SELECT ST_GeomFromWKB({}, {}) AS g)").format(
            n("within"), sql.Literal(STORAGE_SRID)))
        extra_from.append(sql.SQL("zone z"))
        clauses.append(sql.SQL("t.geom && z.g AND ST_Intersects(z.g, t.geom)"))
    clauses += [condition_sql(n, "t", c) for c in where]
    around = isinstance(query.selection, Around)
    measure_list = measures(query, n, alias="s" if around else "t")
    measure_names = [name for name, _ in measure_list]
    columns: list[sql.Composable] = [sql.SQL("t.fid"), sql.SQL("t.geom")]
    columns += [sql.SQL("t.{}").format(sql.Identifier(f.name)) for f in _needed_fields(query)]
    if around:
        area = query.layer.area_column
        if area and area != "geom":
            columns.append(sql.SQL("t.{}").format(sql.Identifier(area)))
        columns.append(sql.SQL("ST_Distance(t.geom::geography, {}::geography, false) AS {}")
                       .format(_point(n), sql.Identifier(SPHERE)))
    else:
        columns += [sql.SQL("{} AS {}").format(expr, sql.Identifier(name))
                    for name, expr in measure_list]
    from_items: list[sql.Composable] = [sql.SQL("{} t").format(_table(query.layer)), *extra_from]
    where_sql = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("")
    base = sql.SQL("SELECT {cols} FROM {froms}{where}").format(
        cols=sql.SQL(", ").join(columns), froms=sql.SQL(", ").join(from_items), where=where_sql)
    page: sql.Composable = sql.SQL(
        "SELECT * FROM q ORDER BY {order} LIMIT {limit} OFFSET {offset}").format(
        order=_order(measure_names), limit=n("limit"), offset=n("offset"))
    check = sql.SQL("")
    if isinstance(query.selection, Nearest):
        # Candidates by planar distance (the index's KNN order), reordered geodesically; the
        # engine verifies the candidate set was wide enough (see engine.nearest_is_complete).
        ctes.append(sql.SQL("cand AS MATERIALIZED ({base} ORDER BY t.geom <-> {pt} LIMIT {k})")
                    .format(base=base, pt=_point(n), k=n("k")))
        ctes.append(sql.SQL("q AS MATERIALIZED (SELECT c.*, c.geom <-> {pt} AS planar_deg"
                            " FROM cand c ORDER BY c.distance_m, c.fid LIMIT {n})").format(
            pt=_point(n), n=n("n")))
        check = sql.SQL(", (SELECT count(*) FROM cand),"
                        " (SELECT max(c.geom <-> {pt}) FROM cand c),"
                        " (SELECT max(distance_m) FROM q)").format(pt=_point(n))
    elif around:
        matches, page = _around(query, n, base, measure_list)
        ctes.append(sql.SQL("q AS MATERIALIZED ({})").format(matches))
    else:
        ctes.append(sql.SQL("q AS MATERIALIZED ({})").format(base))
    statement = sql.SQL("WITH {ctes} SELECT (SELECT count(*) FROM q), ({groups}),"
                        " ({features}){check}").format(
        ctes=sql.SQL(", ").join(ctes), groups=_groups(query, measure_names),
        features=_features(query, measure_names, page, rows=rows, layer_property=layer_property),
        check=check)
    return statement, n.used


def _flat(conditions: list[Condition | RelatedCondition]) -> list[Condition]:
    """Every value-carrying condition, those inside related conditions too."""
    out: list[Condition] = []
    for cond in conditions:
        if isinstance(cond, RelatedCondition):
            out += _flat(list(cond.where))
        else:
            out.append(cond)
    return out


def _values(query: LayerQuery, conditions: list[Condition]) -> dict[str, Any]:
    """The values of the query's template placeholders, by name."""
    sel = query.selection
    values: dict[str, Any] = {"limit": int(query.limit) if query.with_features else 0,
                              "offset": int(query.offset)}
    if isinstance(sel, (AtPoint, Around, Nearest)):
        values["lon"], values["lat"] = sel.lon, sel.lat
    near = (sel.tolerance_m if isinstance(sel, AtPoint) and sel.tolerance_m > 0 else
            sel.max_distance_m if isinstance(sel, Nearest) and sel.max_distance_m else None)
    if near:
        values["dx"], values["dy"] = expansion(sel.lat, near)  # type: ignore[union-attr]
        values["m"] = near
    if isinstance(sel, Around):
        values["dx"], values["dy"] = expansion(sel.lat, sel.radius_m)
        values["radius"] = sel.radius_m
    if isinstance(sel, Nearest):
        values["k"] = int(query.extra.get("candidates", sel.count * 3 + 10))  # type: ignore[call-overload]
        values["n"] = int(sel.count)
    if isinstance(sel, Inside):
        values["region"] = sel.wkb
    if isinstance(sel, FartherThan):
        values["fdx"], values["fdy"] = expansion(MAX_ABS_LAT, sel.distance_m)
        values["fm"] = sel.distance_m
    if query.within is not None:
        values["within"] = query.within
    values.update((f"c{i}", condition_value(c)) for i, c in enumerate(conditions))
    return values


def _condition_shape(cond: Condition | RelatedCondition) -> tuple[Any, ...]:
    if isinstance(cond, RelatedCondition):
        return ("in", cond.field.name, _table_shape(cond.layer), cond.other_field.name,
                tuple(_condition_shape(c) for c in cond.where))
    return ("=", cond.field.name, cond.field.type, len(cond.values) == 1)


def _table_shape(layer: LayerDef) -> tuple[str, str]:
    return layer.schema_name, layer.table_name


def _shape(query: LayerQuery, rows: bool, layer_property: bool,
           selection_where: list[Condition | RelatedCondition],
           where: list[Condition | RelatedCondition]) -> tuple[Any, ...]:
    """Everything the statement's text depends on (never a value)."""
    layer, sel = query.layer, query.selection
    other = sel.layer if isinstance(sel, (InsideLayer, FartherThan)) else None
    return (layer.id, _table_shape(layer), layer.geometry, layer.area_column, rows,
            layer_property, type(sel).__name__,
            isinstance(sel, AtPoint) and sel.tolerance_m > 0,
            isinstance(sel, Nearest) and bool(sel.max_distance_m),
            isinstance(sel, Inside) and sel.clip, other and _table_shape(other),
            tuple(_condition_shape(c) for c in selection_where),
            tuple(_condition_shape(c) for c in where), query.within is not None,
            tuple(f.name for f in query.fields), query.group_by and query.group_by.name,
            tuple(f.name for f in query.totals), tuple(f.name for f in query.flags),
            tuple((r.name, r.numerator.name, r.denominator and r.denominator.name)
                  for r in query.ratios))


# Statement texts by shape: composing one takes milliseconds of Python (more than most
# statements take to run); a dashboard asks the same few shapes over and over.
_TEMPLATES: dict[tuple[Any, ...], bytes] = {}
MAX_TEMPLATES = 4096


def layer_statement(query: LayerQuery, *, rows: bool = False,
                    layer_property: bool = False) -> Statement:
    """The statement answering ``query``: (count, groups JSON, features JSON[, nearest check]).

    ``rows`` returns the page as a JSON array of flat objects (for CSV) instead of GeoJSON.
    """
    sel = query.selection
    selection_where = list(sel.where) if isinstance(sel, (InsideLayer, FartherThan)) else []
    where = [*scope_conditions_of(query.plan), *query.where]
    values = _values(query, _flat([*selection_where, *where]))
    key = _shape(query, rows, layer_property, selection_where, where)
    text = _TEMPLATES.get(key)
    if text is None:
        composed, used = _template(query, rows, layer_property, selection_where, where)
        if used != set(values):  # the template and _values must name the same placeholders
            raise AssertionError(f"placeholders {sorted(used ^ set(values))} of {query.layer.id}")
        text = composed.as_bytes(None)
        if len(_TEMPLATES) >= MAX_TEMPLATES:
            _TEMPLATES.clear()
        _TEMPLATES[key] = text
    return Statement(text, values, sel if isinstance(sel, Nearest) else None)


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
