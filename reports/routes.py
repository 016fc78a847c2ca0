"""HTTP: report definitions, generation jobs with progress (like imports), the record list,
downloads, regeneration, and the pages (``/reports/page``, ``/dashboard``). Mounted by
``api/app.py``. Every route needs a signed-in caller; a record is its generator's (and every
administrator's): another's answers as a missing one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from iocgis.access import Caller, current_caller
from iocgis.api.kit.pages import html_page, page_file
from iocgis.api.kit.parts import app_part
from iocgis.api.kit.responses import UnicodeJSON
from iocgis.api.kit.urls import public_base_url
from iocgis.errors import InvalidInput, NotFound, Unauthorized
from iocgis.jsonbody import parse_json
from iocgis.reports.definitions import get_definitions
from iocgis.reports.generate import FORMATS, MEDIA, Order
from iocgis.reports.service import ReportsService, jsonable
from iocgis.reports.store import file_name

WEB_DIR = Path(__file__).resolve().parent / "web"
PAGES = {"dashboard": "dashboard.html", "reports": "reports.html"}
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css",
          "reports.js": "text/javascript", "i18n.js": "text/javascript"}


def service(request: Request) -> ReportsService:
    return app_part(request, "reports", ReportsService)


def signed_in() -> Caller:
    caller = current_caller()
    if caller.is_anonymous:
        raise Unauthorized("reports need a signed-in account", where="Authorization",
                           hint="sign in (POST /auth/token) or send an API key")
    return caller


def _definition_json(name: str) -> dict[str, Any]:
    d = get_definitions()[name]
    return {"name": d.name, "title": d.title.model_dump(), "kind": d.kind,
            "periodicity": d.periodicity, "area": d.area, "needs": d.needs,
            "schedule": d.schedule,
            "description": d.description.model_dump() if d.description else None,
            "sections": [{"id": s.id, "type": s.type, "title": s.title.model_dump()}
                         for s in d.sections]}


async def definitions(request: Request) -> Response:
    signed_in()
    return UnicodeJSON({"definitions": [_definition_json(n) for n in get_definitions()]})


async def submit(request: Request) -> Response:
    caller = signed_in()
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", where="body",
                           hint='{"report": "ngap_lut_xa", "period": "2026-Q3", "area": "26041"}')
    unknown = sorted(set(body) - {"report", "period", "area", "formats"})
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0][:30]!r}", where=unknown[0],
                           hint="report, period, area, formats")
    for key in ("report", "period"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            raise InvalidInput(f"{key!r} is missing", where=key,
                               hint="e.g. {\"report\": \"kinh_te_xa_hoi_quy\", "
                                    "\"period\": \"2025-Q3\"}")
    formats = body.get("formats") or list(FORMATS)
    if isinstance(formats, str):
        formats = formats.split(",")
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise InvalidInput("formats must be a list such as [\"pdf\", \"xlsx\"]", where="formats",
                           hint="pdf, xlsx or both")
    area = body.get("area")
    if area is not None and not isinstance(area, str):
        raise InvalidInput("area must be a commune code as text", where="area", hint='"26041"')
    if body["report"] not in get_definitions():
        raise NotFound(f"unknown report {body['report'][:60]!r}", where="report",
                       hint=f"use one of: {', '.join(get_definitions())}")
    job = await service(request).submit(caller, Order(body["report"], body["period"], area,
                                                       tuple(formats)))
    return UnicodeJSON(job.as_dict(), status_code=202)


async def job_status(request: Request) -> Response:
    caller = signed_in()
    job = await service(request).job(request.path_params["id"])
    if job is None or (job["user"] != caller.name and not caller.may("admin")):
        raise NotFound(f"no report job {request.path_params['id'][:40]!r}", where="id",
                       hint="start one with POST /reports/jobs")
    return UnicodeJSON(job)


def _record_json(request: Request, record: dict[str, Any]) -> dict[str, Any]:
    out = jsonable(record)
    base = public_base_url(request)
    out["links"] = {fmt: base + request.app.url_path_for("report_file", id=str(record["id"]),
                                                         fmt=fmt)
                    for fmt in record["outputs"]}
    return out


async def report_list(request: Request) -> Response:
    caller = signed_in()
    svc = await service(request).open()
    records = await svc.store.list(caller)
    return UnicodeJSON({"reports": [_record_json(request, r) for r in records]})


async def report_record(request: Request) -> Response:
    caller = signed_in()
    svc = await service(request).open()
    return UnicodeJSON(_record_json(request, await svc.store.get(caller, request.path_params["id"])))


async def report_file(request: Request) -> Response:
    caller = signed_in()
    fmt = request.path_params["fmt"]
    svc = await service(request).open()
    record = await svc.store.get(caller, request.path_params["id"])
    if fmt not in FORMATS:
        raise NotFound(f"no {fmt[:10]!r} form of a report", where="format", hint="pdf or xlsx")
    path = svc.store.path(record, fmt)
    return FileResponse(path, media_type=MEDIA[fmt], filename=file_name(record, fmt),
                        headers={"ETag": f'"{record["outputs"][fmt]["sha256"]}"',
                                 "Cache-Control": "private, no-store"})


async def regenerate(request: Request) -> Response:
    caller = signed_in()
    svc = await service(request).open()
    return UnicodeJSON(await svc.regenerate(caller, request.path_params["id"]))


async def page(request: Request) -> Response:
    name = "reports" if request.url.path.startswith("/reports") else "dashboard"
    return html_page(WEB_DIR / PAGES[name])  # map pages (MapLibre from /map/assets)


async def asset(request: Request) -> Response:
    return page_file(request, WEB_DIR, ASSETS, "dashboard asset")


def routes() -> list[BaseRoute]:
    get_definitions()  # a wrong definition file stops the start-up
    return [
        Route("/reports", report_list, methods=["GET"]),
        Route("/reports/definitions", definitions, methods=["GET"]),
        Route("/reports/jobs", submit, methods=["POST"]),
        Route("/reports/jobs/{id}", job_status, methods=["GET"]),
        Route("/reports/page", page, methods=["GET"]),
        Route("/reports/{id}.{fmt}", report_file, methods=["GET"], name="report_file"),
        Route("/reports/{id}", report_record, methods=["GET"]),
        Route("/reports/{id}/regenerate", regenerate, methods=["POST"]),
        Route("/dashboard", page, methods=["GET"]),
        Route("/dashboard/assets/{file}", asset, methods=["GET"]),
    ]
