"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2), JSON format, so 311 apps and
the national and provincial citizen apps can send and follow reports.

- ``GET /open311/v2/services.json``: one service per category (code, Vietnamese name, sector as
  group; ``?lang=en`` for English); ``GET /open311/v2/services/{code}.json``: its definition
  (no extra attributes);
- ``POST /open311/v2/requests.json`` (form fields of the spec; ``api_key`` required: an
  account's API key, as a field or the X-API-Key header; a ``media`` file may ride along in a
  multipart body);
- ``GET /open311/v2/requests.json`` (``service_request_id``, ``service_code``, ``start_date``,
  ``end_date``, ``status`` open|closed; default the last 90 days, at most 1000) and
  ``GET /open311/v2/requests/{id}.json``: the public view only (citizen.public_reports:
  generalised lat/long, moderated description, never the reporter), for every caller.

Errors are the spec's: an array of ``{"code": <HTTP status>, "description"}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iocgis.access import Caller, current_caller, plan_for
from iocgis.api.kit.responses import UnicodeJSON
from iocgis.api.kit.urls import public_base_url
from iocgis.citizen.context import CitizenContext
from iocgis.citizen.definitions import PUBLIC_LAYER
from iocgis.citizen.intake import Contact, Submission, coordinate, submit
from iocgis.errors import InvalidInput, IocgisError, NotFound, Unauthorized
from iocgis.security import login

MAX_REQUESTS = 1000
DEFAULT_DAYS = 90
CLOSED = ("da_tra_loi", "da_dong", "tu_choi")

REQUESTS = """
SELECT report_code, category, status, summary, answer, unit_name, reported_at, updated_at,
       due_at, ST_X(geom) AS lon, ST_Y(geom) AS lat
FROM citizen.public_reports
WHERE (%(ids)s::text[] IS NULL OR report_code = ANY(%(ids)s))
  AND (%(codes)s::text[] IS NULL OR category = ANY(%(codes)s))
  AND (%(ids)s::text[] IS NOT NULL OR (reported_at >= %(since)s AND reported_at < %(until)s))
  AND (%(closed)s::boolean IS NULL OR (status = ANY(%(closed_statuses)s)) = %(closed)s)
ORDER BY reported_at DESC LIMIT %(limit)s
"""


def _spec_error(exc: IocgisError) -> Response:
    return UnicodeJSON([{"code": exc.http_status, "description": str(exc)}],
                       status_code=exc.http_status)


def _open311(handler: Callable[[Request], Awaitable[Response]]) -> Callable:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except IocgisError as exc:
            return _spec_error(exc)
    return wrapped


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "vi"


def _categories(context: CitizenContext) -> dict[str, Any]:
    layer = context.registry.get(PUBLIC_LAYER)
    return {c.code: c for c in context.registry.resolve_domain(layer.field("category")) or ()}


def _sectors(context: CitizenContext) -> dict[str, Any]:
    return {c.code: c for c in context.registry.codelists.get("sector", ())}


def _service(context: CitizenContext, code: str, lang: str) -> dict[str, Any]:
    title = _categories(context)[code]
    category = context.process.category(code)
    sector = _sectors(context).get(category.sector)
    return {"service_code": code, "service_name": getattr(title, lang),
            "description": f"{getattr(title, lang)} - {category.sla_working_days} "
                           + ("ngày làm việc" if lang == "vi" else "working days"),
            "metadata": False, "type": "realtime", "keywords": category.sector,
            "group": getattr(sector, lang) if sector else category.sector}


async def services(request: Request) -> Response:
    context = CitizenContext.of(request)
    lang = _lang(request)
    return UnicodeJSON([_service(context, code, lang)
                        for code in context.process.routing.categories])


async def service_definition(request: Request) -> Response:
    context = CitizenContext.of(request)
    code = request.path_params["code"]
    if code not in context.process.routing.categories:
        raise NotFound(f"unknown service_code {code[:40]!r}", where="service_code",
                       hint="list them at /open311/v2/services.json")
    return UnicodeJSON({"service_code": code, "attributes": []})


async def _app_caller(request: Request, form_key: str | None) -> Caller:
    """The app sending the request: its API key, as the spec's field or the X-API-Key header."""
    caller = current_caller()
    if form_key:
        context = CitizenContext.of(request)
        async with context.pool.connection() as conn:
            caller = await login.caller_for_api_key(conn, context.state.settings.security,
                                                    form_key.strip(), caller.client)
    if caller.is_anonymous or caller.auth != "api_key":
        raise Unauthorized("an api_key is required to submit a request", where="api_key",
                           hint="ask the administrator for an application key")
    return caller


async def post_request(request: Request) -> Response:
    context = CitizenContext.of(request)
    form = await request.form(max_files=context.process.privacy.photos.max_count,
                              max_fields=40, max_part_size=64 * 1024)

    def field(name: str) -> str | None:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else None

    app = await _app_caller(request, field("api_key"))
    if not field("service_code"):
        raise InvalidInput("service_code is required", where="service_code",
                           hint="list them at /open311/v2/services.json")
    if field("lat") is None or field("long") is None:
        raise InvalidInput("lat and long are required (addresses are not geocoded here)",
                           where="lat/long", hint="send the location as lat and long (WGS84)")
    name = " ".join(p for p in (field("first_name"), field("last_name")) if p) or None
    media = []
    for upload in form.getlist("media"):
        if not isinstance(upload, str):
            media.append(await upload.read(context.process.privacy.photos.max_bytes + 1))
    submission = Submission(
        category=field("service_code") or "", text=field("description") or "",
        lon=coordinate(field("long"), "long", -180, 180),
        lat=coordinate(field("lat"), "lat", -90, 90), channel="open311",
        location_source="app", address=field("address_string"),
        contact=Contact(name=name, phone=field("phone"), email=field("email")),
        photos=tuple(media), client_account=app.name, actor=app.name)
    receipt = await submit(context, submission, app.client)
    base = public_base_url(request)
    return UnicodeJSON([{
        "service_request_id": receipt.report_code,
        "service_notice": f"Đã chuyển {receipt.unit.vi}; hạn xử lý "
                          f"{receipt.due_at.date().isoformat()}",
        "account_id": None,
        # Not in the spec: the reporter's one-time link (status, answer, rating).
        "tracking_url": f"{base}/citizen/track/{receipt.tracking_token}"}])


def _when(value: str | None, where: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{where} is not a W3C date and time", where=where,
                           hint="e.g. 2026-03-01T00:00:00+07:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _as_request(context: CitizenContext, row: dict[str, Any], media: dict[str, str],
                lang: str) -> dict[str, Any]:
    title = _categories(context).get(row["category"])
    closed = row["status"] in CLOSED
    return {
        "service_request_id": row["report_code"], "status": "closed" if closed else "open",
        "status_notes": row["answer"] if closed else None,
        "service_name": getattr(title, lang) if title else row["category"],
        "service_code": row["category"], "description": row["summary"],
        "agency_responsible": row["unit_name"], "service_notice": None,
        "requested_datetime": row["reported_at"].isoformat(),
        "updated_datetime": row["updated_at"].isoformat(),
        "expected_datetime": row["due_at"].isoformat() if row["due_at"] else None,
        "address": None, "address_id": None, "zipcode": None,
        "lat": round(row["lat"], 6) if row["lat"] is not None else None,
        "long": round(row["lon"], 6) if row["lon"] is not None else None,
        "media_url": media.get(row["report_code"])}


async def _find(request: Request, ids: list[str] | None) -> list[dict[str, Any]]:
    context = CitizenContext.of(request)
    q = request.query_params
    now = datetime.now(UTC)
    until = _when(q.get("end_date"), "end_date") or now + timedelta(days=1)
    since = _when(q.get("start_date"), "start_date") or until - timedelta(days=DEFAULT_DAYS)
    wanted = {s for s in (q.get("status") or "").split(",") if s}
    if wanted - {"open", "closed"}:
        raise InvalidInput("status must be open or closed", where="status")
    closed = None if len(wanted) != 1 else wanted == {"closed"}
    codes = [c for c in (q.get("service_code") or "").split(",") if c] or None
    plan = plan_for(current_caller(), PUBLIC_LAYER, context.registry)
    async with context.reader.reading(plan, what="Open311 requests") as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(REQUESTS, {"ids": ids, "codes": codes, "since": since,
                                     "until": until, "closed": closed,
                                     "closed_statuses": list(CLOSED), "limit": MAX_REQUESTS})
        rows = await cur.fetchall()
    base = public_base_url(request)
    async with context.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT DISTINCT ON (c.report_code) c.report_code, p.public_id "
            "FROM citizen_private.photos p JOIN citizen_private.cases c ON c.id = p.case_id "
            "WHERE p.published AND c.published AND c.report_code = ANY(%s) "
            "ORDER BY c.report_code, p.id", ([r["report_code"] for r in rows],))
        media = {code: f"{base}/citizen/photos/{pid}.jpg" for code, pid in await cur.fetchall()}
    return [_as_request(context, row, media, _lang(request)) for row in rows]


async def get_requests(request: Request) -> Response:
    ids = [i for i in (request.query_params.get("service_request_id") or "").split(",") if i]
    return UnicodeJSON(await _find(request, ids or None))


async def get_request(request: Request) -> Response:
    found = await _find(request, [request.path_params["id"][:40]])
    if not found:
        raise NotFound("unknown service_request_id", where="service_request_id")
    return UnicodeJSON(found)


async def requests_json(request: Request) -> Response:
    return await (post_request(request) if request.method == "POST" else get_requests(request))


def routes() -> list[BaseRoute]:
    return [
        Route("/open311/v2/services.json", _open311(services), methods=["GET"]),
        Route("/open311/v2/services/{code}.json", _open311(service_definition), methods=["GET"]),
        Route("/open311/v2/requests.json", _open311(requests_json), methods=["GET", "POST"]),
        Route("/open311/v2/requests/{id}.json", _open311(get_request), methods=["GET"]),
    ]
