"""Who reads and acts on live data. Readings, alerts and freshness are as visible as the
latest-readings layer (``iot.latest``: its sensitivity, and a commune-limited caller sees its
communes' stations only); incidents as ``emergency.incidents``. Acknowledging alerts and moving
incidents needs the respond right: signed-in operators (gis_officer, admin)."""

from __future__ import annotations

from iocgis.access import AccessPlan, Caller, plan_for
from iocgis.errors import Forbidden, NotFound, Unauthorized
from iocgis.layers import Registry

LATEST_LAYER = "iot.latest"
STATIONS_LAYER = "iot.stations"
INCIDENTS_LAYER = "emergency.incidents"
# Roles that act on the emergency loop (the same operators who may import data).
RESPOND_ROLES = frozenset({"gis_officer", "admin"})


def readings_plan(caller: Caller, registry: Registry | None = None) -> AccessPlan:
    return plan_for(caller, LATEST_LAYER, registry)


def incidents_plan(caller: Caller, registry: Registry | None = None) -> AccessPlan | None:
    """The caller's plan of the incidents, or None when it may not see them."""
    try:
        return plan_for(caller, INCIDENTS_LAYER, registry)
    except NotFound:
        return None


def sees_alert(readings: AccessPlan | None, incidents: AccessPlan | None, event: dict) -> bool:
    """Whether a pushed alert or reading is the caller's to see (None: a layer it may not
    see): an overdue-step alert as the incidents, any other as the readings."""
    plan = incidents if event.get("kind") == "overdue" else readings
    return plan is not None and sees_commune(plan, event.get("commune_code"))


def optional_readings_plan(caller: Caller, registry: Registry | None = None
                           ) -> AccessPlan | None:
    try:
        return readings_plan(caller, registry)
    except NotFound:
        return None


def sees_commune(plan: AccessPlan, commune: str | None) -> bool:
    return plan.communes is None or (commune is not None and commune in plan.communes)


def require_respond(caller: Caller, what: str) -> None:
    if caller.is_anonymous:
        raise Unauthorized(f"{what} needs a signed-in account", where="Authorization",
                           hint="sign in (POST /auth/token) or send an API key of an operator")
    if not (caller.roles & RESPOND_ROLES):
        raise Forbidden(f"{what} needs the respond right", where=caller.name,
                        hint=f"ask an administrator for one of the roles {sorted(RESPOND_ROLES)}")
