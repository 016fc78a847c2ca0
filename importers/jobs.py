"""Imports started over HTTP run as background jobs, one at a time per server process; their
state (queued, running with progress, done with the report, failed with the error) is kept
in memory for polling, on the job board for the other workers (``iocgis.job_board``: Redis
when several workers serve), and every import is in ``meta.imports`` for good."""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iocgis import read_routing
from iocgis.importers.options import ImportOptions
from iocgis.job_board import JobBoard, job_failure
from iocgis.settings import Settings

log = logging.getLogger("iocgis.importers")
KEEP_JOBS = 500


@dataclass
class Job:
    id: str
    layer_id: str
    user: str
    filename: str
    status: str = "queued"  # queued, running, loaded, pending (for approval), dry_run, failed
    progress: dict[str, Any] = field(default_factory=dict)
    import_id: int | None = None
    report: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "layer_id": self.layer_id, "status": self.status,
                "user": self.user, "file": self.filename, "import_id": self.import_id,
                "progress": self.progress, "report": self.report, "error": self.error,
                "created_at": self.created_at.isoformat()}


class JobRunner:
    def __init__(self, settings: Settings, url: str) -> None:
        self.settings = settings
        self.url = url
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="iocgis-import")
        self.board = JobBoard(settings.redis_url, "import")

    def upload_dir(self) -> Path:
        path = self.settings.var_dir / "uploads" / uuid.uuid4().hex
        path.mkdir(parents=True, exist_ok=True)
        return path

    def submit(self, path: Path, layer_id: str, options: ImportOptions) -> Job:
        job = Job(id=uuid.uuid4().hex, layer_id=layer_id, user=options.user, filename=path.name)
        with self.lock:
            self.jobs[job.id] = job
            while len(self.jobs) > KEEP_JOBS:
                self.jobs.popitem(last=False)
        self.board.publish(job.id, job.as_dict())
        self.pool.submit(self._run, job, path, options)
        return job

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def _run(self, job: Job, path: Path, options: ImportOptions) -> None:
        from iocgis.importers.pipeline import import_path

        def progress(event: dict[str, Any]) -> None:
            job.status = "running"
            job.import_id = event.get("import_id") or job.import_id
            job.progress = {k: v for k, v in event.items() if k != "import_id"}
            self.board.publish(job.id, job.as_dict())

        job.status = "running"
        self.board.publish(job.id, job.as_dict())
        try:
            report = import_path(path, job.layer_id, options, url=self.url,
                                 settings=self.settings, progress=progress)
            job.import_id = report.import_id
            job.report = report.as_dict()
            # before the status says done: the caller's next reads wait for the replica
            read_routing.pin_from_thread(job.user, self.url)
            job.status = report.status
        except Exception as exc:  # noqa: BLE001 - a bug is logged, the caller gets a plain message
            job.error = job_failure("import", job.id, exc, log)
            job.status = "failed"
        finally:
            self.board.publish(job.id, job.as_dict())
            shutil.rmtree(path.parent, ignore_errors=True)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.board.close()
