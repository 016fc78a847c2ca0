"""What the report routes and the CLI hold: settings, the owner pool for the platform's own
tables, the map renderer, the record store, and background jobs with their progress."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Any

from iocgis.access import Caller
from iocgis.api.state import AppState
from iocgis.job_board import JobBoard, job_failure
from iocgis.pools import async_pool
from iocgis.reports.generate import Order, caller_of, check_order, generate
from iocgis.reports.maps import MapRenderer
from iocgis.reports.settings import ReportsSettings
from iocgis.reports.store import ReportStore
from iocgis.reports.versions import live_versions

log = logging.getLogger("iocgis.reports")
KEEP_JOBS = 200


@dataclass
class Job:
    id: str
    order: Order
    user: str
    status: str = "queued"  # queued, running, done, failed
    progress: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "report": self.order.report, "period": self.order.period,
                "area": self.order.area, "formats": list(self.order.formats),
                "user": self.user, "status": self.status, "progress": self.progress,
                "record": self.report, "error": self.error,
                "created_at": self.created_at.isoformat()}


class ReportsService:
    def __init__(self, state: AppState, settings: ReportsSettings | None = None) -> None:
        self.state = state
        self.settings = settings or state.settings.reports
        self.owner = async_pool(state.database_url, min_size=1, max_size=3, name="iocgis-reports")
        self.maps = MapRenderer(self.settings.map_pages, self.settings.map_timeout_s)
        root = self.settings.dir or state.settings.var_dir / "reports"
        self.store = ReportStore(self.owner, root)
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        # the other workers read a job here (Redis when several workers serve)
        self.board = JobBoard(state.settings.redis_url, "report")
        self._opened = False
        self._lock = asyncio.Lock()
        self._running = asyncio.Semaphore(self.settings.concurrent)
        self._tasks: set[asyncio.Task] = set()
        # PDF and XLSX are written in a process of their own (spawned: no fork of a threaded
        # server), so a long PDF never holds the server's interpreter lock.
        self.writers = (ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
                        if self.settings.write_in_process else None)

    async def open(self) -> ReportsService:
        if not self._opened:
            async with self._lock:
                if not self._opened:
                    await self.owner.open(wait=True, timeout=30)
                    self._opened = True
        return self

    async def close(self) -> None:
        self.board.close()
        if self.writers is not None:
            self.writers.shutdown(wait=False, cancel_futures=True)
        await self.maps.close()
        if self._opened:
            await self.owner.close()

    async def run(self, caller: Caller, order: Order, *, generated_at: datetime | None = None,
                  regenerates: int | None = None, progress: Any = None,
                  versions: dict[str, int] | None = None) -> dict[str, Any]:
        """Generate, store and record one report (at ``versions``: see ``generate``)."""
        await self.open()
        started = time.monotonic()
        async with self._running:
            generated = await generate(self.state, self.owner, caller, order, maps=self.maps,
                                       generated_at=generated_at, progress=progress,
                                       writers=self.writers, versions=versions)
        params = {"report": order.report, "period": order.period, "area": order.area,
                  "formats": list(order.formats)}
        return await self.store.save(generated, params, int((time.monotonic() - started) * 1000),
                                     regenerates, caller.client)

    async def submit(self, caller: Caller, order: Order) -> Job:
        order, _, _ = check_order(caller, order)  # bad input is a 4xx now, not a failed job
        job = Job(uuid.uuid4().hex, order, caller.name)
        self.jobs[job.id] = job
        while len(self.jobs) > KEEP_JOBS:
            self.jobs.popitem(last=False)
        await self._publish(job)  # before the 202: its Location works through every worker
        task = asyncio.get_running_loop().create_task(self._job(job, caller))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def job(self, job_id: str) -> dict[str, Any] | None:
        """A job of this worker, or of another one (the job board)."""
        job = self.jobs.get(job_id)
        if job is not None:
            return job.as_dict()
        return await asyncio.to_thread(self.board.read, job_id)

    async def _publish(self, job: Job) -> None:
        await asyncio.to_thread(self.board.publish, job.id, job.as_dict())

    async def _job(self, job: Job, caller: Caller) -> None:
        def progress(event: dict[str, Any]) -> None:
            job.status = "running"
            job.progress = event

        job.status = "running"
        await self._publish(job)
        try:
            job.report = jsonable(await self.run(caller, job.order, progress=progress))
            job.status = "done"
        except Exception as exc:  # noqa: BLE001 - a bug is logged, the caller gets a plain message
            job.error = job_failure("report", job.id, exc, log)
            job.status = "failed"
        await self._publish(job)  # the other workers see the end (progress only in this one)

    async def regenerate(self, caller: Caller, report_id: str) -> dict[str, Any]:
        """Generate a recorded report again as its generator, at its recorded time, from the
        data versions it recorded (Gone when one is no longer kept), and say whether every
        output has the recorded SHA-256 (and if not, what differs)."""
        record = await self.store.get(caller, report_id)
        params = record["params"]
        order = Order(params["report"], params["period"], params.get("area"),
                      tuple(params.get("formats") or ("pdf", "xlsx")))
        now = await live_versions(self.owner)
        again = await self.run(caller_of(record["caller"]), order,
                               generated_at=record["generated_at"], regenerates=record["id"],
                               versions=record["versions"])
        kept = {k: v for k, v in record["versions"].items() if k in now and now[k] != v}
        moved = {k: [v, again["versions"].get(k)] for k, v in record["versions"].items()
                 if again["versions"].get(k) != v}
        sections = sorted(k for k, v in record["data_sha256"].items()
                          if again["data_sha256"].get(k) != v)
        outputs = {f: {"recorded": o["sha256"], "now": again["outputs"].get(f, {}).get("sha256")}
                   for f, o in record["outputs"].items()}
        return {"id": record["id"], "regenerated_as": again["id"],
                "identical": all(o["recorded"] == o["now"] for o in outputs.values()),
                "outputs": outputs, "versions_moved": moved, "sections_changed": sections,
                "read_from_history": kept}


def jsonable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in record.items()}
