"""A lookup as JSON (plans with their zones) or as one GeoJSON FeatureCollection."""

from __future__ import annotations

from typing import Any

from shapely.geometry import mapping

from iocgis.layers import Registry
from iocgis.planning_docs import codes, rules
from iocgis.planning_docs.lookup import Lookup, PlanResult


def decision_of(plan: PlanResult) -> dict[str, Any] | None:
    """The approving decision: the dossier's when it governs the plan, else the layer's."""
    dossier = plan.dossier
    if dossier and dossier["status"] in rules.APPROVED_STATUSES and dossier["decision"]:
        return {**dossier["decision"], "source": "dossier"}
    project = plan.project
    if project.get("decision_no"):
        return {"number": project["decision_no"], "date": project.get("decision_date"),
                "effective_date": None, "authority": project.get("approving_authority"),
                "signer": None, "document": None, "source": codes.PROJECTS}
    return None


def plan_view(registry: Registry, plan: PlanResult) -> dict[str, Any]:
    project = plan.project
    return {
        "project_code": plan.code, "name": project.get("name"),
        "kind": codes.titled(registry, codes.PROJECTS, "kind", project.get("kind")),
        "level": codes.titled(registry, codes.PROJECTS, "level", project.get("level")),
        "scale": project.get("scale"),
        "project_status": codes.titled(registry, codes.PROJECTS, "status", project.get("status")),
        "decision": decision_of(plan), "dossier": plan.dossier,
        "newer_adjustment_pending": any(p["affects_this_place"] for p in plan.pending),
        "pending_adjustments": plan.pending,
        "zones": [{k: v for k, v in z.items() if k != "geometry"} for z in plan.zones],
    }


def lookup_json(registry: Registry, lookup: Lookup) -> dict[str, Any]:
    return {"as_of": lookup.as_of, "place": lookup.place.echo(),
            "plans_count": len(lookup.plans), "zones_count": len(lookup.zones),
            "plans": [plan_view(registry, p) for p in lookup.plans]}


def lookup_geojson(registry: Registry, lookup: Lookup) -> dict[str, Any]:
    """The zones as features (with their plan's decision), then the place itself."""
    features: list[dict[str, Any]] = []
    for plan in lookup.plans:
        decision = decision_of(plan) or {}
        for zone in plan.zones:
            properties = {k: v for k, v in zone.items() if k not in ("geometry", "land_use")}
            land_use = zone["land_use"] or {}
            properties.update(
                role="zone", land_use=land_use.get("code"), land_use_vi=land_use.get("vi"),
                land_use_en=land_use.get("en"), plan_name=plan.project.get("name"),
                decision_number=decision.get("number"), decision_date=decision.get("date"),
                decision_authority=decision.get("authority"),
                newer_adjustment_pending=any(p["affects_this_place"] for p in plan.pending))
            features.append({"type": "Feature", "id": zone["zone_code"],
                             "geometry": zone.get("geometry"), "properties": properties})
    place = lookup.place
    features.append({"type": "Feature", "id": "place",
                     "geometry": mapping(place.geometry),
                     "properties": {"role": place.kind, **(place.parcel or {}),
                                    "area_m2": place.area_m2}})
    return {"type": "FeatureCollection", "as_of": lookup.as_of,
            "numberReturned": len(features), "features": features}
