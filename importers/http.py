"""Upload over HTTP for officers without a shell: ``POST /imports`` (multipart: file, layer,
options) starts the same pipeline as the CLI as a background job; ``GET /imports/{id}``
returns its status, progress and report. Who may import is decided in ``authorise`` only."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from iocgis.access import Caller, current_caller, may_read_level, plan_for, require_right
from iocgis.api.kit.parts import app_part
from iocgis.api.kit.values import boolean
from iocgis.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from iocgis.importers.jobs import JobRunner
from iocgis.importers.options import MODES, ImportOptions

OPTION_FIELDS = ("layer", "crs", "encoding", "mode", "dry_run", "source_date", "max_rejected",
                 "swap_xy", "source_layer")


def authorise(caller: Caller) -> None:
    """The one check for HTTP imports: a signed-in caller with the 'import' right."""
    if caller.is_anonymous:
        raise Unauthorized("importing needs a signed-in account", where="Authorization",
                           hint="sign in (POST /auth/token) or send an API key of an account "
                                "with the gis_officer or admin role")
    require_right(caller, "import")


def _runner(request: Request) -> JobRunner:
    return app_part(request, "import_jobs",
                    lambda state: JobRunner(state.settings, state.database_url))


def _safe_name(name: str | None) -> str:
    base = Path(name or "").name
    cleaned = re.sub(r"[^\w.\-]+", "_", base, flags=re.UNICODE).strip("._") or "upload"
    return cleaned[:120]


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    value = str(value).strip()
    return value or None


def _options(form: Any, caller: Caller, mapping: Path | None) -> ImportOptions:
    mode = _text(form, "mode") or "replace"
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}", where="mode", hint="replace, append or upsert")
    source_date = _text(form, "source_date")
    try:
        when = date.fromisoformat(source_date) if source_date else None
    except ValueError:
        raise InvalidInput(f"source_date {source_date!r} is not a date", where="source_date",
                           hint="write it as YYYY-MM-DD") from None
    share = _text(form, "max_rejected")
    try:
        max_rejected = float(share) if share else 0.0
    except ValueError:
        raise InvalidInput(f"max_rejected {share!r} is not a number", where="max_rejected",
                           hint="a share between 0 and 1, e.g. 0.05") from None
    return ImportOptions(crs=_text(form, "crs"), encoding=_text(form, "encoding"), mapping=mapping,
                         mode=mode,  # type: ignore[arg-type]
                         dry_run=boolean(_text(form, "dry_run") or "false", "dry_run"),
                         user=caller.name, source_date=when, max_rejected=max_rejected,
                         swap_xy=boolean(_text(form, "swap_xy") or "false", "swap_xy"),
                         source_layer=_text(form, "source_layer"),
                         communes=tuple(sorted(caller.commune_codes)) or None)


async def _save(upload: UploadFile, target: Path) -> None:
    def copy() -> None:
        upload.file.seek(0)
        with target.open("wb") as out:
            shutil.copyfileobj(upload.file, out, 4 * 1024 * 1024)

    await asyncio.to_thread(copy)


async def start_import(request: Request) -> JSONResponse:
    caller = current_caller()
    authorise(caller)
    state = request.app.state.iocgis
    async with request.form(max_files=2, max_fields=len(OPTION_FIELDS) + 2) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("the form has no file", where="file",
                               hint="send multipart/form-data with a 'file' part and a 'layer'")
        layer_id = _text(form, "layer")
        if not layer_id:
            raise InvalidInput("the form has no layer", where="layer",
                               hint="name the target layer, e.g. layer=land.parcels")
        plan = plan_for(caller, layer_id, state.registry)
        layer = plan.layer
        if caller.commune_codes and layer.commune_field is None:
            raise Forbidden(f"{layer.id} is shared by every commune; an account limited to "
                            f"{', '.join(sorted(caller.commune_codes))} cannot import it",
                            where="layer", hint="ask an officer of the province (no commune "
                                                "limit) to import it")
        runner = _runner(request)
        folder = runner.upload_dir()
        mapping_upload = form.get("mapping")
        mapping_path = None
        if isinstance(mapping_upload, UploadFile) and mapping_upload.filename:
            mapping_path = folder / "mapping.yaml"
            await _save(mapping_upload, mapping_path)
        try:
            options = _options(form, caller, mapping_path)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        target = folder / _safe_name(upload.filename)
        await _save(upload, target)
    job = runner.submit(target, layer.id, options)
    return JSONResponse(job.as_dict(), status_code=202,
                        headers={"Location": f"/imports/{job.id}"})


# Where uploads were kept on the server: never shown to a client (file names are enough).
_UPLOAD_PATH = re.compile(r"(?:[A-Za-z]:)?[^\s'\"]*uploads/[0-9a-f]{32}/")


def _public(body: dict[str, Any]) -> JSONResponse:
    """An import's status without the server's paths in its messages."""
    text = _UPLOAD_PATH.sub("", json.dumps(body, ensure_ascii=False, default=str))
    return JSONResponse(json.loads(text))


async def import_status(request: Request) -> JSONResponse:
    caller = current_caller()
    authorise(caller)
    state = request.app.state.iocgis
    job_id = request.path_params["id"]
    runner = _runner(request)
    job = runner.get(job_id)
    body = job.as_dict() if job is not None else await asyncio.to_thread(runner.board.read, job_id)
    if body is not None:  # this worker's job, or another worker's from the job board
        await _require_import_target(state, caller, body["layer_id"])
        return _public(body)
    if job_id.isdigit():
        async with state.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, layer_id, status, user_name, source_path, report, error "
                "FROM meta.imports WHERE id = %s", (int(job_id),))
            row = await cur.fetchone()
        if row is not None:
            await _require_import_target(state, caller, row[1])
            return _public({"id": str(row[0]), "import_id": row[0], "layer_id": row[1],
                            "status": row[2], "user": row[3],
                            "file": Path(row[4]).name, "report": row[5],
                            "error": {"description": row[6]} if row[6] else None})
    raise NotFound(f"no import {job_id!r}", where="id",
                   hint="use the id POST /imports returned, or an import id from the history")


async def _require_import_target(state: Any, caller: Caller, target: str) -> None:
    """The import's layer (or raster, ``raster.<name>``) must be visible to the caller, or
    the import does not exist for them."""
    if target in state.registry:
        plan_for(caller, target, state.registry)
        return
    name = target.removeprefix("raster.")
    async with state.pool.connection() as conn:
        cur = await conn.execute("SELECT sensitivity FROM meta.rasters WHERE name = %s", (name,))
        row = await cur.fetchone()
    if row is None or not may_read_level(caller, str(row[0])):
        raise NotFound(f"no import of {target[:60]!r}", where="id",
                       hint="use the id POST /imports returned, or an import id from the history")


def routes() -> list[BaseRoute]:
    from iocgis.importers import review_http
    from iocgis.importers.connectors import http as sources_http

    # the review's routes first: /imports/review is a page, not an import id
    return [*review_http.routes(), Route("/imports", start_import, methods=["POST"]),
            Route("/imports/{id}", import_status, methods=["GET"]), *sources_http.routes()]
