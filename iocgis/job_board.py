"""Where every worker reads a background job's state (imports, reports): the job runs in the
worker that took the POST, but its ``Location`` may be polled through any worker.

With several workers (``REDIS_URL``: ``iocgis serve`` starts the project-local Redis for them)
each change of a job is written to Redis as JSON for ``TTL_S``; with one worker there is
nothing to share and the board is off. Writes never fail the job: a Redis outage costs the
other workers the job's progress (they answer from ``meta.imports`` / the report list once it
is done), never the job itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from iocgis.errors import IocgisError

log = logging.getLogger("iocgis.jobs")

TTL_S = 24 * 3600
PROGRESS_EVERY_S = 0.5  # progress events are written at most this often (status changes always)
PREFIX = "iocgis:job:"


def job_failure(kind: str, job_id: str, exc: Exception, logger: logging.Logger) -> dict[str, Any]:
    """The error of a failed job: the project's own error as it said it; anything else is a bug,
    logged with its traceback and answered with a plain message."""
    if isinstance(exc, IocgisError):
        return exc.as_dict()
    logger.error("%s job %s failed", kind, job_id, exc_info=exc)
    return {"code": "InternalError",
            "description": f"the {kind} failed unexpectedly; the error is logged"}


class JobBoard:
    def __init__(self, redis_url: str | None, kind: str) -> None:
        self.kind = kind
        self.client = None
        if redis_url:
            import redis

            self.client = redis.Redis.from_url(redis_url, socket_timeout=0.25,
                                               socket_connect_timeout=0.25)
        self._written: dict[str, tuple[float, str]] = {}  # job id -> (when, status)
        self._lock = threading.Lock()  # jobs' threads and the event loop both publish

    def _name(self, job_id: str) -> str:
        return f"{PREFIX}{self.kind}:{job_id}"

    def publish(self, job_id: str, body: dict[str, Any]) -> None:
        """Write a job's state (from any thread); a progress-only change is throttled."""
        if self.client is None:
            return
        now = time.monotonic()
        status = str(body.get("status"))
        with self._lock:
            last = self._written.get(job_id)
            if last is not None and last[1] == status and now - last[0] < PROGRESS_EVERY_S:
                return
            self._written[job_id] = (now, status)
            if len(self._written) > 2000:
                self._written.pop(next(iter(self._written)))
        try:
            self.client.set(self._name(job_id), json.dumps(body, default=str), ex=TTL_S)
        except Exception as exc:  # noqa: BLE001 - any Redis or socket failure
            log.warning("job board: could not write %s job %s (%s)", self.kind, job_id, exc)

    def read(self, job_id: str) -> dict[str, Any] | None:
        """A job another worker runs (blocking: call it in a thread), or None."""
        if self.client is None:
            return None
        try:
            raw = self.client.get(self._name(job_id))
        except Exception as exc:  # noqa: BLE001
            log.warning("job board: could not read %s job %s (%s)", self.kind, job_id, exc)
            return None
        return json.loads(raw) if raw else None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
