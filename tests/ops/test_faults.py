"""PostgreSQL stopped under load, on a cluster of the test's own (never the shared 55432): every
answer during the outage is a 200 (a cached tile) or a 503 with Retry-After, none a 500, none
hangs; when the server is back the service resumes by itself and answers 200 again."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from iocgis import cluster, migrate
from iocgis.ops.settings import BackupSettings
from iocgis.settings import Settings
from tests.conftest import LiveServer, free_port

PATHS = ("/collections/admin.communes/items?limit=5", "/ready", "/tiles/basemap/10/815/483.mvt",
         "/collections/base.roads")
OK = {200, 204}  # 204: the tile is empty (the database holds no rows)
CLIENT_TIMEOUT_S = 20.0  # a hang is an answer later than the pool's 5 s wait plus margin


@dataclass
class Answer:
    at: float
    path: str
    status: int | None  # None: no answer (connection error, timeout)
    retry_after: str | None
    took: float


@dataclass
class Load:
    url: str
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, offset: int) -> None:
        with httpx.Client(timeout=CLIENT_TIMEOUT_S) as client:
            i = offset
            while not self.stop.is_set():
                path = PATHS[i % len(PATHS)]
                i += 1
                began = time.monotonic()
                try:
                    r = client.get(self.url + path)
                    answer = Answer(began, path, r.status_code, r.headers.get("retry-after"),
                                    time.monotonic() - began)
                except httpx.HTTPError:
                    answer = Answer(began, path, None, None, time.monotonic() - began)
                self.answers.append(answer)
                time.sleep(0.02)


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = Path(tempfile.mkdtemp(prefix="iocgis-faults-", dir="/tmp"))
    root.chmod(0o755)  # the server's user traverses it
    settings = Settings(pg_port=free_port(), pg_data_dir=root / "pgdata", var_dir=root / "var",
                        database_url="", IOCGIS_CACHE_DIR=root / "cache")
    cluster.start(settings, BackupSettings(archive=False))
    url = cluster.local_url(settings)
    migrate.upgrade(url)
    try:
        yield settings.model_copy(update={"database_url": url})
    finally:
        cluster.stop(settings)
        shutil.rmtree(root, ignore_errors=True)


def test_postgresql_stopped_under_load_503_then_resumes(own_cluster: Settings) -> None:
    server = LiveServer(own_cluster).start()
    load = Load(server.url)
    threads = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(2)
        stopped_at = time.monotonic()
        cluster.stop(own_cluster.model_copy(update={"database_url": ""}))
        time.sleep(6)
        cluster.start(own_cluster.model_copy(update={"database_url": ""}),
                      BackupSettings(archive=False))
        back_at = time.monotonic()
        deadline = back_at + 30
        while time.monotonic() < deadline:  # resumes by itself: no restart of the server
            recent = [a for a in load.answers[-8:] if a.at > back_at]
            if len(recent) == 8 and all(a.status in OK for a in recent):
                break
            time.sleep(0.2)
        resumed_at = time.monotonic()
        time.sleep(2)
    finally:
        load.stop.set()
        for t in threads:
            t.join(timeout=CLIENT_TIMEOUT_S + 5)
        server.stop()

    answers = load.answers
    assert [a for a in answers if a.status is None] == [], "every request was answered"
    assert max(a.took for a in answers) < 10, [(a.path, a.status, round(a.took, 1))
                                               for a in answers if a.took >= 10]
    before = [a for a in answers if a.at < stopped_at]
    assert before and all(a.status in OK for a in before), {a.status for a in before}
    outage = [a for a in answers if stopped_at < a.at < back_at]
    unavailable = [a for a in outage if a.status == 503]
    assert unavailable, "the outage was seen"
    assert {a.status for a in outage} <= OK | {503}, [(a.path, a.status) for a in outage]
    assert all(a.retry_after and int(a.retry_after) >= 1 for a in unavailable)
    assert {a.status for a in answers} <= OK | {503}, "never a 500"
    after = [a for a in answers if a.at > resumed_at]
    assert after and all(a.status in OK for a in after), [(a.path, a.status) for a in after]
    assert resumed_at - back_at < 30, "the service resumed by itself"
    print(f"outage answers: {len(outage)} ({len(unavailable)} x 503), resumed "
          f"{resumed_at - back_at:.1f} s after the server was back")
