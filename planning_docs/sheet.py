"""The printable "thông tin quy hoạch" sheet: one A4 page in Vietnamese, rendered to PDF by
WeasyPrint (Noto fonts from the system) from ``templates/sheet.html``, with the map of
``sheet_map`` inline as SVG. Numbers and dates are written the Vietnamese way (1.234,5;
01/06/2024)."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from iocgis.layers import Registry
from iocgis.planning_docs.lookup import Lookup
from iocgis.planning_docs.lookup_view import decision_of, plan_view
from iocgis.planning_docs.sheet_map import map_svg

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html"]))
    return env.get_template("sheet.html")


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def _place_facts(lookup: Lookup) -> list[tuple[str, str]]:
    place = lookup.place
    if place.kind == "parcel" and place.parcel:
        p = place.parcel
        return [("Thửa đất số / Tờ bản đồ số", f"{p['parcel_no']} / {p['sheet_no']}"),
                ("Mã xã, phường", str(p["commune_code"])),
                ("Địa chỉ", p.get("address") or "—"),
                ("Diện tích pháp lý", f"{number(p.get('area_m2'))} m²"),
                ("Diện tích đo trên bản đồ", f"{number(place.area_m2)} m²"),
                ("Mục đích sử dụng hiện trạng", p.get("land_use") or "—")]
    if place.kind == "point":
        return [("Tọa độ (WGS84)",
                 f"kinh độ {place.geometry.x:.6f}, vĩ độ {place.geometry.y:.6f}")]
    return [("Vùng đã vẽ", f"diện tích {number(place.area_m2)} m²")]


def _pending_text(plan_json: dict[str, Any]) -> str:
    pending = [p for p in plan_json["pending_adjustments"] if p["affects_this_place"]]
    return "; ".join(f"{p['project_code']} ({p['status_title']['vi']}"
                     + (f", hiệu lực từ {day(p['effective_from'])}" if p["effective_from"]
                        else "") + ")" for p in pending)


def sheet_context(registry: Registry, lookup: Lookup) -> dict[str, Any]:
    plans, zones, from_label = [], [], False
    for plan in lookup.plans:
        view = plan_view(registry, plan)
        decision = decision_of(plan)
        decision_text = (f"Số {decision['number']} ngày {day(decision['date'])}"
                         f" của {decision['authority'] or '—'}" if decision else "—")
        plans.append({"name": view["name"] or plan.code, "code": plan.code,
                      "kind": (view["kind"] or {}).get("vi", "—"), "scale": view["scale"],
                      "decision": decision_text, "pending": _pending_text(view)})
        for zone in plan.zones:
            land_use = zone["land_use"] or {}
            marked = {n: ("*" if n in zone["limits_from_label"] else "")
                      for n in ("far_max", "density_max_pct", "height_max_m", "floors_max")}
            from_label = from_label or bool(zone["limits_from_label"])
            zones.append({
                "code": zone["zone_code"], "plan": plan.code,
                "land_use": f"{land_use.get('code', '')} – {land_use.get('vi', '')}",
                "area": number(zone["overlap_m2"]),
                "share": "—" if zone["share"] is None else f"{number(zone['share'] * 100)} %",
                "far": number(zone["far_max"]) + marked["far_max"],
                "density": ("—" if zone["density_max_pct"] is None
                            else f"{number(zone['density_max_pct'], 0)} %")
                + marked["density_max_pct"],
                "height": ("—" if zone["height_max_m"] is None
                           else f"{number(zone['height_max_m'])} m") + marked["height_max_m"],
                "floors": number(zone["floors_max"]) + marked["floors_max"]})
    now = datetime.now().astimezone()
    return {"as_of": day(lookup.as_of), "printed_at": now.strftime("%H:%M %d/%m/%Y"),
            "place_facts": _place_facts(lookup), "plans": plans, "zones": zones,
            "with_area": lookup.place.kind != "point", "from_label": from_label,
            "map_svg": map_svg(lookup.place.kind, lookup.place.geometry, lookup.zones),
            "footer": f"Nguồn: cơ sở dữ liệu quy hoạch (iocgis), {len(plans)} đồ án, "
                      f"{len(zones)} ô quy hoạch tại ngày {day(lookup.as_of)}."}


def sheet_html(registry: Registry, lookup: Lookup) -> str:
    return _template().render(**sheet_context(registry, lookup))


def sheet_pdf(registry: Registry, lookup: Lookup) -> bytes:
    """The PDF bytes (blocking: call it in a worker thread)."""
    import weasyprint

    return weasyprint.HTML(string=sheet_html(registry, lookup), base_url=str(TEMPLATES)
                           ).write_pdf()
