"""HTTP ingestion: the plain batch endpoint (JSON, JSON lines, CSV) and the device check every
HTTP channel shares (``X-Device-Key: <device code>:<secret>``)."""

from __future__ import annotations

import csv
import io
import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from iocgis.errors import InvalidInput, Unauthorized
from iocgis.jsonbody import parse_json
from iocgis.live.context import live_context
from iocgis.live.datastreams import Device, parse_device_key
from iocgis.live.pipeline import IngestResult
from iocgis.live.readings import BadReading, Reading, from_mapping
from iocgis.live.validate import Rejected

MAX_READINGS = 50_000  # per request (the body limit is the other bound)


async def device_of(request: Request) -> Device:
    """The device whose key the request carries, else 401 (and the refusal is counted)."""
    ctx = live_context(request)
    header = request.headers.get("x-device-key")
    if not header:
        raise Unauthorized("writing readings needs a device key", where="X-Device-Key",
                           hint="send X-Device-Key: <device code>:<secret> "
                                "(`iocgis live device create` makes one)")
    code, secret = parse_device_key(header)
    device = await run_in_threadpool(ctx.ingestor.authenticate, code, secret)
    if device is None:
        await run_in_threadpool(ctx.ingestor.ingest, [], channel="http", device=None,
                                bad=[Rejected("bad_credentials", "unknown device or wrong "
                                              "secret", code[:63])])
        raise Unauthorized("the device key is not valid", where="X-Device-Key",
                           hint="check the device code and secret; a disabled device is refused")
    return device


def _from_items(items: list, bad: list[Rejected], device: str) -> list[Reading]:
    if len(items) > MAX_READINGS:
        raise InvalidInput(f"a request carries at most {MAX_READINGS} readings", where="body",
                           hint="split the batch")
    readings = []
    for item in items:
        try:
            readings.append(from_mapping(item))
        except BadReading as exc:
            bad.append(Rejected(exc.reason, exc.detail, device))
    return readings


def parse_batch(body: bytes, content_type: str, device: str) -> tuple[list[Reading],
                                                                        list[Rejected]]:
    bad: list[Rejected] = []
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("the CSV is not UTF-8", where="body", hint="save it as UTF-8") \
                from None
        rows = list(csv.DictReader(io.StringIO(text)))
        return _from_items(rows, bad, device), bad
    if kind in ("application/x-ndjson", "application/jsonl", "application/json-seq"):
        items = []
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except (ValueError, UnicodeDecodeError):
                bad.append(Rejected("bad_payload", f"line {number} is not JSON", device))
        return _from_items(items, bad, device), bad
    document = parse_json(body, hint="send a JSON array of readings, JSON lines or CSV")
    if isinstance(document, dict) and isinstance(document.get("observations"), list):
        document = document["observations"]
    return _from_items(document if isinstance(document, list) else [document], bad, device), bad


async def ingest(request: Request, readings: list[Reading], bad: list[Rejected],
                 device: Device) -> IngestResult:
    ctx = live_context(request)
    return await run_in_threadpool(ctx.ingestor.ingest, readings, channel="http",
                                   device=device, bad=bad)


async def post_batch(request: Request) -> JSONResponse:
    """``POST /live/observations``: readings as a JSON array (or ``{"observations": [...]}``),
    JSON lines or CSV (station, parameter, time, value, unit). Answers what landed, what was
    there already, and what was refused by reason."""
    device = await device_of(request)
    # parsed in a worker thread: the event loop meanwhile receives the next batch's body
    args = (await request.body(), request.headers.get("content-type", "application/json"),
            device.code)
    readings, bad = await run_in_threadpool(parse_batch, *args)
    result = await ingest(request, readings, bad, device)
    return JSONResponse(result.as_dict())
