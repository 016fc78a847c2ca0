"""Dossier files over HTTP: upload (multipart, ``/uploads/...`` so the upload size limit
applies), download (checked against its checksum, following ``rules``), and the import of a
DXF drawing's zones.

An upload is received into the store's spool while hashed, its type sniffed from its bytes
and checked against the document kind, scanned (``scan``), its text extracted for search,
then kept under its SHA-256 and recorded with its dossier.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import unicodedata
from pathlib import Path

import yaml
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from iocgis.access import current_caller
from iocgis.api.query.render import dumps, json_response
from iocgis.errors import InvalidInput, NotFound
from iocgis.importers.options import ImportOptions
from iocgis.planning_docs import records, rules, sniff, workflow, zones_import
from iocgis.planning_docs.filestore import copy_out, receive
from iocgis.planning_docs.http_dossiers import body_of, dossier_id_of
from iocgis.planning_docs.scan import scan
from iocgis.planning_docs.service import Planning
from iocgis.planning_docs.textextract import extract_text
from iocgis.planning_docs.views import document_view
from iocgis.security import audit

FORM_FIELDS = ("file", "kind", "title", "sensitivity")
SENSITIVITIES = ("public", "internal", "restricted")


def _form_text(form: object, name: str) -> str | None:
    value = form.get(name)  # type: ignore[attr-defined]
    if value is None or isinstance(value, UploadFile):
        return None
    value = unicodedata.normalize("NFC", str(value).strip())
    return value or None


def safe_file_name(name: str | None, media_type: str) -> str:
    base = unicodedata.normalize("NFC", Path(name or "").name)
    cleaned = re.sub(r"[^\w.\-]+", "_", base, flags=re.UNICODE).strip("._")[:120]
    return cleaned or f"document.{sniff.EXTENSIONS.get(media_type, 'bin')}"


async def upload_document(request: Request) -> Response:
    caller = current_caller()
    rules.require_editor(caller)
    dossier_id = dossier_id_of(request)
    planning = Planning.of(request)
    async with request.form(max_files=1, max_fields=len(FORM_FIELDS)) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("the form has no file", where="file",
                               hint="send multipart/form-data with a 'file' part and a 'kind'")
        kind = _form_text(form, "kind") or ""
        if kind not in rules.DOCUMENT_KINDS:
            raise InvalidInput(f"unknown document kind {kind[:30]!r}", where="kind",
                               hint=f"one of: {', '.join(rules.DOCUMENT_KINDS)}")
        sensitivity = _form_text(form, "sensitivity") or rules.DEFAULT_SENSITIVITY[kind]
        if sensitivity not in SENSITIVITIES:
            raise InvalidInput(f"unknown sensitivity {sensitivity[:30]!r}", where="sensitivity",
                               hint=f"one of: {', '.join(SENSITIVITIES)}")
        title = _form_text(form, "title") or upload.filename
        await upload.seek(0)
        incoming = await asyncio.to_thread(receive, upload.file, planning.store,
                                           planning.settings.max_file_bytes)
    try:
        if incoming.size == 0:
            raise InvalidInput("the file is empty", where="file", hint="upload the document")
        found = sniff.sniff(incoming.path)
        allowed = rules.DOCUMENT_KINDS[kind]
        if found.media_type not in allowed:
            raise InvalidInput(f"{upload.filename[:80]} is {found.name}, which a {kind} "
                               "document cannot be", where="file",
                               hint="a " + kind + " may be: "
                                    + ", ".join(sniff.NAMES[m] for m in allowed))
        media_type = str(found.media_type)
        shown = safe_file_name(upload.filename, media_type)
        await scan(incoming.path, planning.settings.scan_command,
                   planning.settings.scan_timeout_s, shown)
        text = await asyncio.to_thread(extract_text, incoming.path, media_type)
        planning.store.keep(incoming)
    except BaseException:
        incoming.discard()
        raise
    values = {"kind": kind, "title": title[:500], "file_name": shown, "sha256": incoming.sha256,
              "media_type": media_type, "size_bytes": incoming.size, "sensitivity": sensitivity}
    change = workflow.Change(planning.state, caller)
    document_id = await workflow.attach(change, dossier_id, values, text)
    async with planning.state.pool.connection() as conn:
        doc = await records.document(conn, document_id)
    assert doc is not None
    response = json_response(dumps(document_view(caller, doc)), status=201)
    response.headers["Location"] = f"/planning/documents/{document_id}"
    return response


async def readable_document(request: Request) -> tuple[dict, dict]:
    raw = str(request.path_params["id"])
    caller = current_caller()
    missing = NotFound(f"no planning document {raw[:30]!r}", where="id",
                       hint="see the documents of a dossier at /planning/dossiers/{id}")
    if not raw.isdigit() or len(raw) > 18:
        raise missing
    async with request.app.state.iocgis.pool.connection() as conn:
        doc = await records.document(conn, int(raw))
        dossier = await records.dossier(conn, doc["dossier_id"]) if doc else None
    if doc is None or dossier is None or not rules.may_read_document(
            caller, doc["sensitivity"], dossier["status"]):
        raise missing
    return doc, dossier


async def download_document(request: Request) -> Response:
    doc, dossier = await readable_document(request)
    planning = Planning.of(request)
    path = await asyncio.to_thread(planning.store.fetch, doc["sha256"])
    caller = current_caller()
    if rules.document_level(doc["sensitivity"], dossier["status"]) == "restricted":
        async with planning.state.pool.connection() as conn:
            await audit.record(conn, actor=caller.name, action="planning.document.read",
                               target=workflow.TARGET.format(dossier["id"]),
                               client=caller.client, details={"document": doc["id"]})
    return FileResponse(path, media_type=doc["media_type"], filename=doc["file_name"],
                        content_disposition_type="attachment",
                        headers={"ETag": f'"{doc["sha256"]}"', "Cache-Control": "no-cache",
                                 "Content-Security-Policy": "sandbox; default-src 'none'"})


async def import_zones(request: Request) -> Response:
    """Import a DXF drawing's zones (body: optional ``crs``, ``mapping`` as YAML text)."""
    caller = current_caller()
    rules.require_editor(caller)
    doc, dossier = await readable_document(request)
    if doc["media_type"] != sniff.DXF:
        raise InvalidInput(f"document {doc['id']} is {sniff.NAMES[doc['media_type']]}, not a "
                           "DXF drawing", where="id", hint="import the zones of a DXF drawing")
    body = await body_of(request) if await request.body() else {}
    crs = body.get("crs") if isinstance(body.get("crs"), str) else None
    planning = Planning.of(request)
    from iocgis.importers.http import _runner

    runner = _runner(request)
    folder = runner.upload_dir()
    target = folder / doc["file_name"]
    await asyncio.to_thread(copy_out, planning.store, doc["sha256"], target)
    try:
        if body.get("mapping"):
            try:
                given = yaml.safe_load(str(body["mapping"]))
            except yaml.YAMLError as exc:
                raise InvalidInput(f"the mapping is not YAML: {exc}", where="mapping",
                                   hint="send the mapping file's text") from None
            mapping = zones_import.with_project(given, dossier["project_code"], crs)
        else:
            mapping = await asyncio.to_thread(zones_import.default_mapping, target,
                                              planning.state.registry,
                                              dossier["project_code"], crs)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    options = ImportOptions(mapping=mapping, mode="upsert", user=caller.name)
    job = runner.submit(target, "planning.zones", options)
    async with planning.state.pool.connection() as conn:
        await audit.record(conn, actor=caller.name, action="planning.zones.import",
                           target=workflow.TARGET.format(dossier["id"]), client=caller.client,
                           details={"document": doc["id"], "job": job.id,
                                    "project_code": dossier["project_code"]})
    return JSONResponse({**job.as_dict(), "dossier_id": dossier["id"], "document_id": doc["id"]},
                        status_code=202, headers={"Location": f"/imports/{job.id}"})
