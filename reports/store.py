"""The record of every generated report (``reports.generated``, migration 0013) and its files,
kept content-addressed by SHA-256 and checked on every read (the dossiers' file store,
``planning_docs/filestore.py``, in a folder of its own)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from iocgis.access import Caller
from iocgis.errors import NotFound
from iocgis.planning_docs.filestore import LocalFileStore, receive
from iocgis.reports.generate import Generated
from iocgis.security import audit

COLUMNS = ("id, definition, title_vi, title_en, kind, period, area, params, generated_by, caller,"
           " generated_at, versions, data_sha256, outputs, duration_ms, regenerates")


def file_name(record: dict[str, Any], fmt: str) -> str:
    return f"{record['definition']}_{record['period']}_{record['area']}_{record['id']}.{fmt}"


def may_see(caller: Caller, record: dict[str, Any]) -> bool:
    """A report is its generator's, and every administrator's."""
    return caller.may("admin") or record["generated_by"] == caller.name


class ReportStore:
    def __init__(self, owner: AsyncConnectionPool, root: Path) -> None:
        self.owner = owner
        self.files = LocalFileStore(root)

    def _keep(self, data: bytes) -> str:
        incoming = receive(io.BytesIO(data), self.files, len(data) + 1)
        self.files.keep(incoming)
        return incoming.sha256

    async def save(self, generated: Generated, params: dict[str, Any], duration_ms: int,
                   regenerates: int | None = None, client: str | None = None) -> dict[str, Any]:
        import asyncio

        report = generated.report
        outputs = {}
        for fmt, data in generated.outputs.items():
            sha = await asyncio.to_thread(self._keep, data)
            outputs[fmt] = {"sha256": sha, "bytes": len(data)}
        async with self.owner.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "INSERT INTO reports.generated (definition, title_vi, title_en, kind, period, area,"
                " params, generated_by, caller, generated_at, versions, data_sha256, outputs,"
                " duration_ms, regenerates) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                f" %s, %s, %s, %s) RETURNING {COLUMNS}",
                (report.definition, report.title.vi, report.title.en, report.kind,
                 report.period.code, report.area_code, json.dumps(params), report.generated_by,
                 json.dumps(report.caller), report.generated_at, json.dumps(report.versions),
                 json.dumps(report.data_sha256()), json.dumps(outputs), duration_ms,
                 regenerates))
            record = await cur.fetchone()
            assert record is not None
            await audit.record(conn, actor=report.generated_by, action="report.generate",
                               target=str(record["id"]), client=client,
                               details={"definition": report.definition,
                                        "period": report.period.code, "area": report.area_code,
                                        "outputs": {f: o["sha256"] for f, o in outputs.items()},
                                        "regenerates": regenerates})
        return record

    async def list(self, caller: Caller, limit: int = 200) -> list[dict[str, Any]]:
        mine = "" if caller.may("admin") else " WHERE generated_by = %(name)s"
        async with self.owner.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT {COLUMNS} FROM reports.generated{mine}"
                              " ORDER BY generated_at DESC, id DESC LIMIT %(limit)s",
                              {"name": caller.name, "limit": limit})
            return await cur.fetchall()

    async def get(self, caller: Caller, report_id: str) -> dict[str, Any]:
        missing = NotFound(f"no report {report_id[:20]!r}", where="id",
                           hint="list the reports you generated at /reports")
        if not report_id.isdigit() or len(report_id) > 18:
            raise missing
        async with self.owner.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT {COLUMNS} FROM reports.generated WHERE id = %s",
                              (int(report_id),))
            record = await cur.fetchone()
        if record is None or not may_see(caller, record):
            raise missing  # another's report answers as a missing one
        return record

    def path(self, record: dict[str, Any], fmt: str) -> Path:
        output = record["outputs"].get(fmt)
        if output is None:
            raise NotFound(f"report {record['id']} has no {fmt[:10]!r} output", where="format",
                           hint=f"it has: {', '.join(record['outputs'])}")
        return self.files.fetch(output["sha256"])
