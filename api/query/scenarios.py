"""``/scenarios`` and ``/scenarios/{name}``: run a preset with the caller's parameters.

A preset's parameters are bound and checked (types, limits, code lists, the province frame),
features and administrative units they name are looked up, and each step becomes one
``LayerQuery`` run by the same engine as the generic endpoints.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import shapely
from psycopg import sql
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from starlette.requests import Request
from starlette.responses import Response

from iocgis.access import can_see
from iocgis.api.kit.values import boolean
from iocgis.api.query import allowlist
from iocgis.api.query.context import QueryContext
from iocgis.api.query.handlers import respond
from iocgis.api.query.params import MAX_NEAREST, Params, as_number, check_point, check_radius
from iocgis.api.query.presets import (
    SERVICES,
    FartherThanSel,
    InsideLayerSel,
    Intersects,
    NearestSel,
    ParamDef,
    PresetDef,
    PresetSet,
    Radius,
    Ref,
    StepDef,
    get_presets,
    is_ref,
)
from iocgis.api.query.presets import (
    Everywhere as EverywhereDef,
)
from iocgis.api.query.render import dumps, json_response
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
    Ratio,
    RelatedCondition,
    Selection,
)
from iocgis.errors import InvalidInput, NotFound
from iocgis.layers import LayerDef

OUTPUT_PARAMS = ("f", "table")


def visible_presets(ctx: QueryContext, presets: PresetSet) -> list[PresetDef]:
    """Presets whose every layer the caller may see; the others do not exist for them."""
    return [p for p in presets
            if all(can_see(ctx.caller, ctx.registry.get(i)) for i in p.layer_ids())]


def visible_parameters(ctx: QueryContext, preset: PresetDef) -> dict[str, ParamDef]:
    """The preset's parameters for this caller: one naming a layer the caller may not see
    (a parcel to look up, a code list of a hidden layer) does not exist for them, so a hidden
    layer is never named, and giving it is refused like any unknown parameter."""
    return {name: p for name, p in preset.parameters.items()
            if p.layer is None or can_see(ctx.caller, ctx.registry.get(str(p.layer)))}


def preset_for(ctx: QueryContext, presets: PresetSet, name: str) -> PresetDef:
    preset = presets.get(name)
    if preset is None or preset not in visible_presets(ctx, presets):
        raise NotFound(f"unknown scenario {name[:60]!r}", where="scenario",
                       hint="list the scenarios at /scenarios")
    return preset


def describe(preset: PresetDef, parameters: dict[str, ParamDef]) -> dict[str, Any]:
    """What a dashboard needs to build a form for the preset (the caller's parameters)."""
    return {
        "name": preset.name, "title": preset.title.model_dump(),
        "description": preset.description.model_dump(),
        "parameters": {name: {k: v for k, v in p.model_dump().items()
                              if (v is not None and v is not False) or k == "required"}
                       for name, p in parameters.items()},
        "requires_one_of": [[g for g in group if g in parameters]
                            for group in preset.requires_one_of
                            if any(g in parameters for g in group)],
        "steps": {name: {"title": s.title.model_dump(), "layer": s.layer,
                         "operation": s.select.kind, "group_by": s.group_by}
                  for name, s in preset.steps.items()},
        "href": f"/scenarios/{preset.name}",
        **({"service": preset.service} if preset.service else {}),
    }


@dataclass
class Bound:
    """The parameters as given (or defaulted), and the places they name."""

    values: dict[str, Any] = field(default_factory=dict)
    given: set[str] = field(default_factory=set)
    places: dict[str, BaseGeometry] = field(default_factory=dict)

    def resolve(self, ref: Ref) -> Any:
        return self.values.get(str(ref)[1:]) if is_ref(ref) else ref


class Binder:
    def __init__(self, ctx: QueryContext, preset: PresetDef, params: Params) -> None:
        self.ctx, self.preset, self.params = ctx, preset, params
        self.parameters = visible_parameters(ctx, preset)

    async def bind(self) -> Bound:
        bound = Bound()
        frame = await self.ctx.frame()
        for name, pdef in self.parameters.items():
            raw = self.params.text(name)
            if raw is None:
                if pdef.required:
                    raise InvalidInput(f"parameter {name!r} is missing", where=name,
                                       hint=f"give {pdef.title.en.lower()}")
                bound.values[name] = pdef.default
                continue
            bound.given.add(name)
            value = self.value(name, pdef, raw)
            if pdef.type == "point":
                check_point(value[0], value[1], frame, where=name)
                bound.places[name] = Point(value)
            elif pdef.type == "admin":
                unit = await self.ctx.admin_unit(value, where=name)
                bound.places[name] = shapely.from_wkb(unit.wkb)
            elif pdef.type == "feature":
                bound.places[name] = await self.feature(name, pdef, value)
            bound.values[name] = value
        for whole in self.preset.requires_one_of:
            group = [g for g in whole if g in self.parameters]
            if not any(g in bound.given for g in group):
                raise InvalidInput(f"scenario {self.preset.name!r} needs one of "
                                   f"{', '.join(group)}", where=",".join(group),
                                   hint="; ".join(f"{g}: {self.parameters[g].title.en}"
                                                  for g in group))
        return bound

    def value(self, name: str, pdef: ParamDef, raw: str) -> Any:
        if pdef.type in ("number", "integer"):
            value = as_number(raw, name, low=pdef.min, high=pdef.max)
            if pdef.type == "integer":
                if not value.is_integer():
                    raise InvalidInput(f"{name} must be a whole number", where=name,
                                       hint="give an integer")
                return int(value)
            return value
        if pdef.type == "boolean":
            return boolean(raw, name)
        if pdef.type == "point":
            parts = raw.split(",")
            if len(parts) != 2:
                raise InvalidInput(f"{name} must be 'lon,lat'", where=name,
                                   hint=f"give {name}=106.8243,10.9447 (degrees, lon first)")
            return (as_number(parts[0], name, what="a longitude"),
                    as_number(parts[1], name, what="a latitude"))
        if pdef.type == "code":
            layer = self.ctx.registry.get(str(pdef.layer))
            fdef = layer.field(str(pdef.field))
            parts = [p for p in raw.replace(",", "|").split("|") if p.strip()] \
                if pdef.multiple else [raw]
            return tuple(allowlist.parse_value(self.ctx.registry, layer, fdef, p, name)
                         for p in parts)
        if len(raw) > 200:
            raise InvalidInput(f"{name} is too long", where=name, hint="at most 200 characters")
        return raw

    async def feature(self, name: str, pdef: ParamDef, value: str) -> BaseGeometry:
        """The geometry of the feature whose key is ``value`` ("a/b/c" for a composite key),
        among the rows the caller's plan allows: one outside them is "not found", as one that
        does not exist."""
        plan = self.ctx.plan(str(pdef.layer))
        layer = plan.layer
        parts = value.split("/") if len(layer.key) > 1 else [value]
        if len(parts) != len(layer.key):
            raise InvalidInput(f"{name} must be {'/'.join(layer.key)}", where=name,
                               hint=f"e.g. {name}=26041/12/345 for commune code, map sheet "
                                    "and parcel number" if len(layer.key) == 3 else
                               f"give the {'/'.join(layer.key)} of a {layer.title.en.lower()}")
        keys = [allowlist.parse_value(self.ctx.registry, layer, layer.field(k), v, name)
                for k, v in zip(layer.key, parts)]
        clauses = [sql.SQL("{} = %s").format(sql.Identifier(k)) for k in layer.key]
        if plan.commune_field is not None:
            clauses.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(plan.commune_field)))
            keys.append(list(plan.communes or ()))
        statement = sql.SQL("SELECT ST_AsBinary(geom) FROM {} WHERE {}").format(
            sql.Identifier(layer.schema_name, layer.table_name), sql.SQL(" AND ").join(clauses))
        async with self.ctx.reader.reading(plan.with_fields(()), what=name) as conn:
            cur = await conn.execute(statement, keys)
            row = await cur.fetchone()
        if row is None or row[0] is None:
            raise NotFound(f"no {layer.id} has {'/'.join(layer.key)} {value[:60]!r}", where=name,
                           hint=f"check the value against /collections/{layer.id}/items")
        return shapely.from_wkb(bytes(row[0]))


class StepBuilder:
    """One preset step plus the bound parameters -> one LayerQuery."""

    def __init__(self, ctx: QueryContext, preset: PresetDef, bound: Bound) -> None:
        self.ctx, self.preset, self.bound = ctx, preset, bound

    def place(self, sources: tuple[str, ...], key: str) -> BaseGeometry:
        for source in sources:
            geom = self.bound.places.get(source[1:])
            if geom is not None:
                return geom
        names = ", ".join(s[1:] for s in sources)
        raise InvalidInput(f"step {key!r} needs a place", where=names,
                           hint=f"give one of: {names}")

    def conditions(self, layer: LayerDef, where: dict[str, Ref]) -> tuple[Condition, ...]:
        out = []
        for name, ref in where.items():
            value = self.bound.resolve(ref)
            if value is None:
                continue  # an optional filter left empty
            fdef = layer.field(name)
            values = value if isinstance(value, tuple) else (value,)
            typed = tuple(v if not isinstance(v, str) else allowlist.parse_value(
                self.ctx.registry, layer, fdef, v, name) for v in values)
            out.append(Condition(fdef, typed))
        return tuple(out)

    def selection(self, key: str, step: StepDef) -> Selection:
        sel = step.select
        if isinstance(sel, EverywhereDef):
            return Everywhere()
        if isinstance(sel, Intersects):
            geom = self.place(sel.geometry, key)
            if geom.geom_type == "Point":
                return AtPoint(geom.x, geom.y, float(self.bound.resolve(sel.tolerance_m) or 0))
            return Inside(shapely.to_wkb(geom), clip=sel.clip)
        if isinstance(sel, (Radius, NearestSel)):
            center = self.place(sel.center, key)
            if center.geom_type != "Point":
                center = center.representative_point()
            if isinstance(sel, Radius):
                return Around(center.x, center.y,
                              check_radius(float(self.bound.resolve(sel.radius_m))))
            count = int(self.bound.resolve(sel.count) or 5)
            if not 1 <= count <= MAX_NEAREST:
                raise InvalidInput(f"{count} nearest features asked for", where="count",
                                   hint=f"ask for 1 to {MAX_NEAREST}")
            limit = self.bound.resolve(sel.max_distance_m)
            return Nearest(center.x, center.y, count,
                           check_radius(float(limit)) if limit else None)
        other = self.ctx.plan(sel.layer).layer
        where = self.conditions(other, sel.where)
        if isinstance(sel, InsideLayerSel):
            return InsideLayer(other, where)
        assert isinstance(sel, FartherThanSel)
        return FartherThan(other, check_radius(float(self.bound.resolve(sel.distance_m)),
                                               "distance_m"), where)

    async def ratios(self, layer: LayerDef, step: StepDef) -> tuple[Ratio, ...]:
        out = []
        for rdef in step.ratios:
            target = self.bound.resolve(rdef.target.value)
            direction = rdef.direction
            explicit = is_ref(rdef.target.value) and str(rdef.target.value)[1:] in self.bound.given
            if rdef.target.indicator and not explicit:
                found = await indicator_target(self.ctx, rdef.target.indicator)
                if found:
                    target, direction = found
            out.append(Ratio(rdef.name, layer.field(rdef.numerator),
                             layer.field(rdef.denominator) if rdef.denominator else None,
                             None if target is None else float(target), direction))
        return tuple(out)

    async def build(self, key: str, step: StepDef) -> LayerQuery:
        plan = self.ctx.plan(step.layer)
        layer = plan.layer
        where: list[Condition | RelatedCondition] = [*self.conditions(layer, step.where)]
        for rel in step.related:
            other = self.ctx.plan(rel.layer).layer
            where.append(RelatedCondition(layer.field(rel.field), other,
                                          other.field(rel.other_field),
                                          self.conditions(other, rel.where)))
        within = None
        if step.within:
            geom = self.bound.places.get(step.within[1:])
            within = shapely.to_wkb(geom) if geom is not None else None
        visible = set(allowlist.property_fields(plan))
        totals = (tuple(layer.field(n) for n in step.totals) if step.totals is not None
                  else allowlist.totalled_fields(plan))
        flags = (tuple(layer.field(n) for n in step.flags) if step.flags is not None
                 else allowlist.flag_fields(plan))
        limit = int(self.bound.resolve(step.limit) or 0)
        return LayerQuery(
            plan=plan, selection=self.selection(key, step),
            fields=allowlist.property_fields(plan), where=tuple(where), within=within,
            group_by=layer.field(step.group_by) if step.group_by else None,
            totals=tuple(f for f in totals if f in visible),
            flags=tuple(f for f in flags if f in visible),
            ratios=await self.ratios(layer, step),
            only_failing=bool(self.bound.resolve(step.only_failing)),
            limit=limit if step.features else 0, with_features=step.features, step=key)


async def indicator_target(ctx: QueryContext, code: str) -> tuple[float, str] | None:
    """An indicator's target and direction, when the caller may read the catalogue."""
    if "kpi.indicators" not in ctx.registry:
        return None
    layer = ctx.registry.get("kpi.indicators")
    if not can_see(ctx.caller, layer):
        return None
    statement = sql.SQL("SELECT target, direction FROM {} WHERE code = %s").format(
        sql.Identifier(layer.schema_name, layer.table_name))
    async with ctx.reader.reading(ctx.plan(layer).with_fields(("target", "direction")),
                                  what="indicator") as conn:
        cur = await conn.execute(statement, (code,))
        row = await cur.fetchone()
    return (float(row[0]), str(row[1])) if row and row[0] is not None else None


async def scenarios_index(request: Request) -> Response:
    Params(request.query_params, ())
    ctx = QueryContext.of(request)
    presets = get_presets()
    return json_response(dumps({"scenarios": [describe(p, visible_parameters(ctx, p))
                                              for p in visible_presets(ctx, presets)]}))


async def run_scenario(request: Request) -> Response:
    ctx = QueryContext.of(request)
    preset = preset_for(ctx, get_presets(), request.path_params["name"])
    if preset.service:
        module, function = SERVICES[preset.service].split(":")
        answer = getattr(importlib.import_module(module), function)
        params = Params(request.query_params, (*visible_parameters(ctx, preset), "f"))
        return await answer(ctx, params, {"name": preset.name, "title": preset.title.model_dump()})
    params = Params(request.query_params, (*visible_parameters(ctx, preset), *OUTPUT_PARAMS))
    bound = await Binder(ctx, preset, params).bind()
    builder = StepBuilder(ctx, preset, bound)
    queries = []
    for key, step in preset.steps.items():
        if step.when and not any(w in bound.given for w in step.when):
            continue
        queries.append(await builder.build(key, step))
    if not queries:
        raise InvalidInput(f"scenario {preset.name!r} has nothing to answer with these "
                           "parameters", where="parameters",
                           hint=f"give one of: {', '.join(preset.parameters)}")
    echo = {k: (list(v) if isinstance(v, tuple) else v) for k, v in bound.values.items()}
    head = {"scenario": {"name": preset.name, "title": preset.title.model_dump()},
            "query": echo}
    # The scenario head replaces the generic echo; steps are keyed by their names.
    return await respond(ctx, params, queries, head.pop("query"), preset.name,
                         {"scenario": head["scenario"]})
