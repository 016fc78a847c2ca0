"""HTTP for everyone: the report form and its submission, the reporter's one-time link
(follow, rate), published photos, the public map page and the statistics.

Nothing here reads the case file's precise location or identity for the answer: the map and
list read the public layer ``citizen.public_reports`` (OGC API / tiles), the statistics read
it through its access plan, and the reporter's link shows the status and the answer only.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iocgis.access import current_caller
from iocgis.api.kit.pages import html_page, page_file
from iocgis.api.kit.responses import UnicodeJSON
from iocgis.api.kit.urls import public_base_url
from iocgis.citizen import reporter, stats
from iocgis.citizen.calendar import LOCAL
from iocgis.citizen.context import CitizenContext
from iocgis.citizen.intake import Contact, Submission, coordinate, submit
from iocgis.errors import InvalidInput, NotFound, PayloadTooLarge
from iocgis.jsonbody import parse_json

WEB_DIR = Path(__file__).resolve().parent / "web"
ASSETS = {"report.js": "text/javascript", "public.js": "text/javascript",
          "track.js": "text/javascript", "names.js": "text/javascript", "citizen.css": "text/css"}
PAGES = {"report": "report.html", "public": "public.html", "track": "track.html"}
# The form may ask for the phone's position and camera; other pages nothing.
FORM_PERMISSIONS = "geolocation=(self), camera=(self), microphone=()"
FIELDS_BYTES = 64 * 1024
PHOTO_NAME = re.compile(r"^([A-Za-z0-9_-]{8,40})\.jpg$")


def _page(name: str, permissions: str = "geolocation=(), camera=(), microphone=()") -> Response:
    return html_page(WEB_DIR / PAGES[name], headers={"Permissions-Policy": permissions})


async def report_page(request: Request) -> Response:
    return _page("report", FORM_PERMISSIONS)


async def public_page(request: Request) -> Response:
    return _page("public")


async def asset(request: Request) -> Response:
    return page_file(request, WEB_DIR, ASSETS, "citizen asset", "public, max-age=600")


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


async def submit_form(request: Request) -> Response:
    """The form (multipart): category, text, lon, lat, location_source, name, phone, email and
    up to privacy.yaml's photos.max_count files under ``photos``."""
    context = CitizenContext.of(request)
    rules = context.process.privacy.photos
    limit = rules.max_count * rules.max_bytes + FIELDS_BYTES
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the report is larger than {limit // (1024 * 1024)} MiB",
                              where="photos", hint=f"send at most {rules.max_count} photos of "
                              f"{rules.max_bytes // (1024 * 1024)} MiB each")
    if not request.headers.get("content-type", "").startswith(("multipart/form-data",
                                                               "application/x-www-form")):
        raise InvalidInput("send the form as multipart/form-data", where="body",
                           hint="fields category, text, lon, lat and files photos")
    form = await request.form(max_files=rules.max_count, max_fields=20,
                              max_part_size=FIELDS_BYTES)
    photos = []
    for upload in form.getlist("photos"):
        if isinstance(upload, str) or not upload.filename:
            continue
        data = await upload.read(rules.max_bytes + 1)
        if len(data) > rules.max_bytes:
            raise PayloadTooLarge(f"photo {upload.filename[:60]!r} is larger than "
                                  f"{rules.max_bytes // (1024 * 1024)} MiB", where="photos",
                                  hint="send a smaller photo")
        photos.append(data)
    submission = Submission(
        category=_field(form, "category") or "", text=_field(form, "text") or "",
        lon=coordinate(_field(form, "lon"), "lon", -180, 180),
        lat=coordinate(_field(form, "lat"), "lat", -90, 90),
        location_source=_field(form, "location_source") or "map", channel="web",
        contact=Contact(name=_field(form, "name"), phone=_field(form, "phone"),
                        email=_field(form, "email")),
        photos=tuple(photos), actor="citizen (web form)")
    receipt = await submit(context, submission, current_caller().client)
    base = public_base_url(request)
    return UnicodeJSON({
        "report_code": receipt.report_code, "status": receipt.status,
        "unit": receipt.unit.vi, "commune_code": receipt.commune_code,
        "due_at": receipt.due_at.isoformat(), "photos": len(receipt.photo_ids),
        "tracking_url": f"{base}/citizen/track/{receipt.tracking_token}"},
        status_code=201, headers={"Cache-Control": "no-store"})


async def track(request: Request) -> Response:
    """The reporter's link: the page, or its data with ``?f=json``."""
    if request.query_params.get("f") != "json":
        return _page("track")
    context = CitizenContext.of(request)
    body = await reporter.track(context, request.path_params["id"])
    return UnicodeJSON(body, headers={"Cache-Control": "no-store"})


async def rate(request: Request) -> Response:
    context = CitizenContext.of(request)
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        body = parse_json(await request.body())
        body = body if isinstance(body, dict) else {}
    else:
        form = await request.form(max_files=0, max_fields=5, max_part_size=FIELDS_BYTES)
        body = {k: v for k, v in form.items() if isinstance(v, str)}
    result = await reporter.rate(context, request.path_params["id"], body.get("rating"),
                                 body.get("comment"), current_caller().client)
    return UnicodeJSON(result, headers={"Cache-Control": "no-store"})


async def photo(request: Request) -> Response:
    """A published photo (moderated, of a published report): no metadata, re-encoded."""
    match = PHOTO_NAME.match(request.path_params["file"])
    if not match:
        raise NotFound("unknown photo", where="photo")
    context = CitizenContext.of(request)
    async with context.pool.connection() as conn:
        row = await (await conn.execute(
            "SELECT p.image FROM citizen_private.photos p JOIN citizen_private.cases c "
            "ON c.id = p.case_id WHERE p.public_id = %s AND p.published AND c.published "
            "AND p.image IS NOT NULL", (match.group(1),))).fetchone()
    if row is None:
        raise NotFound("unknown photo", where="photo")
    return Response(bytes(row[0]), media_type="image/jpeg",
                    headers={"Cache-Control": "public, max-age=3600"})


def _day(value: str | None, where: str, default: datetime) -> datetime:
    if not value:
        return default
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) \
            if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{where} is not a date", where=where,
                           hint="write it as 2026-01-31") from None


def _window(request: Request) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    since = _day(request.query_params.get("from"), "from", now - timedelta(days=365))
    until = _day(request.query_params.get("to"), "to", now + timedelta(days=1))
    return since, until


async def statistics(request: Request) -> Response:
    """``?by=unit|commune|category|all&from=&to=&f=json|csv``."""
    context = CitizenContext.of(request)
    since, until = _window(request)
    by = request.query_params.get("by", "unit")
    rows = await stats.statistics(context, current_caller(), by, since, until,
                                  datetime.now(UTC))
    if request.query_params.get("f") == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["key"])
        writer.writeheader()
        writer.writerows(rows)
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="citizen_{by}.csv"'})
    return UnicodeJSON({"by": by, "from": since.isoformat(), "to": until.isoformat(),
                        "groups": rows}, headers={"Cache-Control": "public, max-age=60"})


PERIOD = re.compile(r"^(\d{4})(?:-(Q[1-4]|\d{2}))?$")


def period_window(period: str) -> tuple[datetime, datetime]:
    """A kpi.values period (2026, 2026-Q2, 2026-05) as [start, end) in local time."""
    match = PERIOD.match(period or "")
    if not match:
        raise InvalidInput("period must be YYYY, YYYY-Qn or YYYY-MM", where="period",
                           hint="e.g. 2026-Q1")
    year, part = int(match.group(1)), match.group(2)
    if part is None:
        first, months = 1, 12
    elif part.startswith("Q"):
        first, months = 3 * (int(part[1]) - 1) + 1, 3
    else:
        first, months = int(part), 1
        if not 1 <= first <= 12:
            raise InvalidInput("the month must be 01..12", where="period")
    start = datetime(year, first, 1, tzinfo=LOCAL)
    end_month = first + months
    end = datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=LOCAL)
    return start, end


async def kpi(request: Request) -> Response:
    """``?period=2026-Q1``: kpi.indicators and kpi.values rows of the period."""
    context = CitizenContext.of(request)
    period = request.query_params.get("period", "")
    since, until = period_window(period)
    body = await stats.kpi(context, current_caller(), period, since, until,
                           datetime.now(UTC))
    return UnicodeJSON({"period": period, **body}, headers={"Cache-Control": "public, max-age=60"})


def routes() -> list[BaseRoute]:
    return [
        Route("/citizen", public_page, methods=["GET"]),
        Route("/citizen/report", report_page, methods=["GET"]),
        Route("/citizen/assets/{file}", asset, methods=["GET"]),
        # Under /uploads: the body limit of uploads (photos), narrowed here by privacy.yaml.
        Route("/uploads/citizen/reports", submit_form, methods=["POST"]),
        Route("/citizen/track/{id}", track, methods=["GET"]),
        Route("/citizen/track/{id}/rating", rate, methods=["POST"]),
        Route("/citizen/photos/{file}", photo, methods=["GET"]),
        Route("/citizen/stats", statistics, methods=["GET"]),
        Route("/citizen/stats/kpi", kpi, methods=["GET"]),
    ]
