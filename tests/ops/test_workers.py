"""Several workers: ``iocgis serve --workers 2`` as a process, its own Redis (the project-local
server on a free port, ``iocgis.redis_local``), a migrated test database. The rate limit and the
API-key cache are shared; a revocation and a catalog change reach every worker at once; Redis
down is the documented degradation; a worker killed mid-request is replaced and the next
request served."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from iocgis import redis_local
from iocgis.settings import Settings
from tests.conftest import free_port, scratch_database
from tests.importers.importer_fixtures import places, write_vector
from tests.security.security_helpers import (
    PASSWORD,
    _create,
    api_key_for,
    run_async,
    set_status,
)

IOCGIS = Path(sys.executable).parent / "iocgis"
BURST = 12
PUBLIC = "admin.communes"


@dataclass
class Served:
    url: str
    db_url: str
    redis_url: str
    redis_settings: Settings
    process: subprocess.Popen
    log: Path

    def workers(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                             text=True).stdout.split()
        # uvicorn's manager spawns its workers through multiprocessing (one resource tracker)
        return [int(pid) for pid in out
                if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text()]


def _wait_ready(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("iocgis serve did not start:\n" + log.read_text()[-3000:])


@pytest.fixture(scope="module")
def served(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("workers")
    redis_settings = Settings(var_dir=root / "var", redis_port=free_port(), redis_url="")
    redis_local.start(redis_settings)
    with scratch_database(base_settings, "workers") as db_url:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOCGIS_")}
        env.update(DATABASE_URL=db_url, REDIS_URL=redis_local.local_url(redis_settings),
                   IOCGIS_PORT=str(port), IOCGIS_CACHE_DIR=str(root / "cache"),
                   IOCGIS_VAR_DIR=str(root / "var"),
                   IOCGIS_SECURITY_TRUSTED_PROXIES='["127.0.0.1/32"]',
                   IOCGIS_SECURITY_RATE_LIMIT_PER_MINUTE="6",
                   IOCGIS_SECURITY_RATE_LIMIT_BURST=str(BURST))
        log = root / "serve.log"
        with open(log, "wb") as out:
            process = subprocess.Popen([str(IOCGIS), "serve", "--workers", "2"], env=env,
                                       stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, process, log)
            served = Served(url, db_url, redis_local.local_url(redis_settings), redis_settings,
                            process, log)
            deadline = time.monotonic() + 30
            while len(served.workers()) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            yield served
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            redis_local.stop(redis_settings)


def _fresh_get(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    # a new connection each time: the kernel hands it to either worker
    with httpx.Client(timeout=30) as client:
        return client.get(url, headers={"Connection": "close", **(headers or {})})


def test_serve_runs_two_workers(served: Served) -> None:
    assert len(served.workers()) == 2, served.log.read_text()[-2000:]
    assert "2 worker(s); shared state in Redis" in served.log.read_text()


def test_the_rate_limit_is_shared_by_the_workers(served: Served) -> None:
    headers = {"X-Forwarded-For": "203.0.113.19"}
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: _fresh_get(served.url + "/health", headers).status_code,
                                 range(3 * BURST)))
    passed = statuses.count(200)
    # per process the two workers would pass up to 2 x BURST; shared: BURST (+1 refilled)
    assert BURST <= passed <= BURST + 1, statuses
    assert statuses.count(429) == 3 * BURST - passed
    bucket = redis.Redis.from_url(served.redis_url).hgetall("iocgis:rate:req:203.0.113.19")
    assert float(bucket[b"t"]) < 1


def _key_works(served: Served, key: str, times: int = 8) -> list[int]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(
            lambda _: _fresh_get(served.url + "/auth/me", {"X-API-Key": key}).status_code,
            range(times)))


@pytest.fixture(scope="module")
def analyst(served: Served, base_settings: Settings) -> str:
    run_async(_create(served.db_url, base_settings, "phan.tich.workers", ["analyst"]))
    return "phan.tich.workers"


def test_a_revoked_key_stops_in_every_worker_at_once(served: Served, analyst: str) -> None:
    key = api_key_for(served.db_url, analyst, networks=["127.0.0.0/8"])
    assert _key_works(served, key) == [200] * 8
    cached = redis.Redis.from_url(served.redis_url).keys("iocgis:apikey:*")
    assert cached, "the key's row is cached in Redis"
    # revoked by plain SQL (the CLI and the API do the same UPDATE): NOTIFY drops the cache
    with psycopg.connect(served.db_url, autocommit=True) as conn:
        conn.execute("UPDATE security.api_keys SET revoked_at = now() WHERE account_id = "
                     "(SELECT id FROM security.accounts WHERE name = %s)", (analyst,))
    assert _key_works(served, key) == [401] * 8


def test_a_locked_account_stops_its_cached_keys(served: Served, analyst: str) -> None:
    key = api_key_for(served.db_url, analyst, networks=["127.0.0.0/8"])
    assert _key_works(served, key) == [200] * 8
    set_status(served.db_url, analyst, "locked")  # what `iocgis accounts lock` does
    assert _key_works(served, key) == [401] * 8


def test_a_catalog_change_reaches_every_worker(served: Served) -> None:
    def extents() -> set[str]:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: _fresh_get(served.url + f"/collections/{PUBLIC}"),
                                    range(8)))
        assert all(a.status_code == 200 for a in answers), [a.text[:200] for a in answers]
        return {str(a.json()["extent"]["spatial"]["bbox"]) for a in answers}

    before = extents()
    with psycopg.connect(served.db_url, autocommit=True) as conn:
        conn.execute("UPDATE meta.layers SET extent = ST_MakeEnvelope(106.75, 10.5, 107.5, 11.6, "
                     "4326) WHERE id = %s", (PUBLIC,))
    after = extents()  # at once: well inside the 5 s poll
    assert len(after) == 1 and after != before
    assert "106.75" in next(iter(after))


def test_an_import_job_is_polled_through_either_worker(served: Served, tmp_path: Path) -> None:
    """The job runs in the worker that took the POST; its Location answers through both (the
    job board in Redis), from queued to its end, never a 404 from the other worker."""
    run_async(_create(served.db_url, Settings(), "can.bo.workers", ["gis_officer"]))
    key = {"X-API-Key": api_key_for(served.db_url, "can.bo.workers", networks=["198.51.100.0/24"])}
    geoms, fields = places(40)
    path = write_vector(tmp_path / "places.gpkg", geoms, fields)

    def client(i: int) -> dict[str, str]:  # a new address each call: the rate limit is per address
        return {**key, "X-Forwarded-For": f"198.51.100.{10 + i % 200}"}

    with path.open("rb") as fh:
        posted = httpx.post(served.url + "/imports", headers=client(0), timeout=60,
                            data={"layer": "base.places"}, files={"file": (path.name, fh)})
    assert posted.status_code == 202, posted.text
    location = served.url + posted.headers["Location"]
    answers, i = [], 1
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with ThreadPoolExecutor(4) as pool:  # new connections: the kernel picks the worker
            batch = list(pool.map(lambda n: _fresh_get(location, client(n)), range(i, i + 4)))
        i += 4
        answers += batch
        assert all(a.status_code == 200 for a in batch), [(a.status_code, a.text[:200])
                                                          for a in batch]
        if all(a.json()["status"] not in ("queued", "running") for a in batch):
            break
        time.sleep(0.2)
    final = {a.json()["status"] for a in answers[-4:]}
    assert len(final) == 1 and final <= {"loaded", "pending"}, final
    assert {a.json()["id"] for a in answers} == {posted.json()["id"]}
    assert len(answers) >= 8


def test_redis_down_refuses_logins_and_keeps_serving(served: Served, analyst: str) -> None:
    run_async(_create(served.db_url, Settings(), "vien.chuc.workers", ["viewer"]))
    key = api_key_for(served.db_url, "vien.chuc.workers", networks=["127.0.0.0/8"])
    redis_local.stop(served.redis_settings)
    try:
        login = httpx.post(served.url + "/auth/token", timeout=30,
                           data={"username": "vien.chuc.workers", "password": PASSWORD},
                           headers={"X-Forwarded-For": "10.20.30.40"})
        assert login.status_code == 503, login.text
        assert int(login.headers["Retry-After"]) >= 1
        tiles = _fresh_get(served.url + f"/collections/{PUBLIC}/items?limit=1",
                           {"X-Forwarded-For": "198.51.100.5"})
        assert tiles.status_code == 200
        assert _key_works(served, key, 4) == [200] * 4  # checked in PostgreSQL
    finally:
        redis_local.start(served.redis_settings)
    deadline = time.monotonic() + 10
    while True:
        login = httpx.post(served.url + "/auth/token", timeout=30,
                           data={"username": "vien.chuc.workers", "password": PASSWORD},
                           headers={"X-Forwarded-For": "10.20.30.40"})
        if login.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert login.status_code == 200, login.text


def test_a_worker_killed_mid_request_then_the_next_requests_served(served: Served) -> None:
    victims = served.workers()
    assert len(victims) == 2
    with ThreadPoolExecutor(4) as pool:
        busy = [pool.submit(_fresh_get, served.url + f"/collections/{PUBLIC}/items?limit=50")
                for _ in range(8)]
        os.kill(victims[0], signal.SIGKILL)
        for future in busy:
            try:
                future.result()
            except httpx.HTTPError:
                pass  # a request the killed worker held may be lost; the next ones are served
    assert [_fresh_get(served.url + "/health").status_code for _ in range(10)] == [200] * 10
    assert [_fresh_get(served.url + f"/collections/{PUBLIC}").status_code
            for _ in range(6)] == [200] * 6
