"""Every name in a request checked against the registry and the caller's plan before any SQL.

Layers become ``iocgis.access.plan_for`` plans (404 for layers the caller may not see), fields
are checked against the plan's fields (personal-data fields only with that right).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from iocgis.access import AccessPlan, Caller, plan_for
from iocgis.api.kit.values import field_value
from iocgis.api.query.params import MAX_LAYERS
from iocgis.api.query.spec import Condition, Value
from iocgis.errors import InvalidInput
from iocgis.layers import FieldDef, LayerDef, Registry

# Field types a group can be keyed on: discrete values, not measurements.
GROUPABLE = ("text", "integer", "bigint", "boolean", "date")


def spatial_plans(caller: Caller, registry: Registry, ids: Sequence[str],
                  where: str = "layers") -> tuple[AccessPlan, ...]:
    """The caller's plans for the requested layers, each visible and with a geometry."""
    if not ids:
        raise InvalidInput("no layer named", where=where,
                           hint="give layers=<id>[,<id>...], e.g. layers=infra.schools")
    if len(ids) > MAX_LAYERS:
        raise InvalidInput(f"{len(ids)} layers asked for at once", where=where,
                           hint=f"ask for at most {MAX_LAYERS} layers per request")
    plans: list[AccessPlan] = []
    for layer_id in dict.fromkeys(ids):
        plan = plan_for(caller, layer_id, registry)
        if not plan.layer.is_spatial:
            raise InvalidInput(f"layer {layer_id!r} has no geometry", where=where,
                               hint="spatial queries take map layers; indicators are at /query/kpi")
        plans.append(plan)
    return tuple(plans)


def spatial_plans_of(caller: Caller, layers: Sequence[LayerDef]) -> tuple[AccessPlan, ...]:
    return tuple(plan_for(caller, layer) for layer in layers if layer.is_spatial)


def readable_field(plan: AccessPlan, name: str, where: str) -> FieldDef:
    """A field the plan reads; a personal-data field, without that right, is refused like an
    unknown one, with the fields that may be used."""
    return plan.field(name, where=where)


def group_field(plan: AccessPlan, name: str, where: str = "group_by") -> FieldDef:
    layer = plan.layer
    fdef = readable_field(plan, name, where)
    if fdef.type not in GROUPABLE:
        raise InvalidInput(f"cannot group by {layer.id}.{name}: it is a {fdef.type} measurement",
                           where=where, hint="group by a code, text, integer, boolean or date "
                                             "field, e.g. commune_code")
    return fdef


def totalled_fields(plan: AccessPlan) -> tuple[FieldDef, ...]:
    """The numeric fields the registry says to total, that the plan reads."""
    return tuple(f for f in plan.field_defs if f.totalled)


def flag_fields(plan: AccessPlan) -> tuple[FieldDef, ...]:
    """Boolean fields, counted per group (poor households, temporary houses)."""
    return tuple(f for f in plan.field_defs if f.type == "boolean")


def property_fields(plan: AccessPlan) -> tuple[FieldDef, ...]:
    return plan.field_defs


def parse_value(registry: Registry, layer: LayerDef, fdef: FieldDef, raw: str,
                where: str) -> Value:
    """One value for a condition on ``fdef``, typed and checked against its code list."""
    text = raw.strip()
    if fdef.type != "text":  # the request kit's typed value (dates as ISO text, bound as such)
        typed = field_value(fdef.type, text, where, f"{layer.id}.{fdef.name}")
        return typed.isoformat() if isinstance(typed, date) else typed
    codes = registry.domain_codes(fdef)
    if codes is not None and text not in codes:
        shown = ", ".join(codes[:25]) + (" ..." if len(codes) > 25 else "")
        raise InvalidInput(f"{text[:40]!r} is not a code of {layer.id}.{fdef.name}", where=where,
                           hint=f"use one of: {shown}")
    if len(text) > (fdef.max_length or 200):
        raise InvalidInput(f"a value for {fdef.name} is too long", where=where,
                           hint=f"give at most {fdef.max_length or 200} characters")
    if fdef.pattern and not re.match(fdef.pattern, text):
        raise InvalidInput(f"{text[:40]!r} is not a valid {layer.id}.{fdef.name}", where=where,
                           hint=f"{fdef.title.en} must match the pattern {fdef.pattern}")
    return text


_WHERE_RE = re.compile(r"^([a-z][a-z0-9_]{0,40}):(.*)$", re.DOTALL)


def where_conditions(plan: AccessPlan, registry: Registry, raw_items: Sequence[str],
                     where: str = "where") -> tuple[Condition, ...]:
    """``where=field:value[|value...]`` items (repeatable), all ANDed; ``|`` separates choices."""
    conditions: list[Condition] = []
    for item in raw_items:
        match = _WHERE_RE.match(item.strip())
        if not match:
            raise InvalidInput(f"cannot read the condition {item[:60]!r}", where=where,
                               hint="write where=<field>:<value>, e.g. where=is_poor:true or "
                                    "where=land_use:ODT|ONT")
        name, values = match.group(1), match.group(2)
        fdef = readable_field(plan, name, where)
        choices = tuple(parse_value(registry, plan.layer, fdef, v, where)
                        for v in values.split("|") if v.strip())
        if not choices:
            raise InvalidInput(f"the condition on {name!r} has no value", where=where,
                               hint="write where=<field>:<value>")
        conditions.append(Condition(fdef, choices))
    return tuple(conditions)
