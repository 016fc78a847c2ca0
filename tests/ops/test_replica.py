"""The streaming read replica and read routing, on a primary of the test's own (never the shared
55432) and one replica for the module made by the real ``iocgis replica start``.

The proof that a read was served by the replica: its replay is paused
(``pg_wal_replay_pause()``) while the primary takes more rows, so an answer from the replica
shows the old rows; /ready's per-target counts move too. Then: a caller's own import is read
from the primary while others still read the replica; a replica over its lag bound, and one
killed, leave reads to the primary with no error; when it is back, reads return to it.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from iocgis import cluster, migrate, redis_local, replica
from iocgis.importers.settings import ImportSettings
from iocgis.ops.settings import BackupSettings, ReplicaSettings
from iocgis.security import accounts, login
from iocgis.security.accounts import Actor
from iocgis.security.settings import SecuritySettings
from iocgis.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.importers.importer_fixtures import BIEN_HOA, places, write_vector

IOCGIS = Path(sys.executable).parent / "iocgis"
MAX_LAG_S = 30.0  # an import on a loaded machine stays within it; the bound is lowered later
LOW_LAG_S = 1.0
CHECK_S = 0.25
ITEMS = "/collections/base.places/items?limit=100&f=json"
RADIUS = {"lon": BIEN_HOA[0], "lat": BIEN_HOA[1], "radius_m": 50_000, "layers": "base.places"}


@dataclass
class Rig:
    settings: Settings
    primary_url: str
    replica_url: str  # the replica as the connecting (super)user: pause and resume its replay
    server: LiveServer
    other: LiveServer  # a second server (another worker) sharing the Redis
    officer_key: str
    monitor_key: str  # an admin's: /metrics
    root: Path

    def get(self, path: str, key: str | None = None, *, via: LiveServer | None = None,
            **params: Any) -> httpx.Response:
        headers = {"X-API-Key": key} if key else {}
        return httpx.get((via or self.server).url + path, headers=headers, params=params,
                         timeout=30)

    def places_seen(self, key: str | None = None, via: LiveServer | None = None) -> int:
        answer = self.get(ITEMS, key, via=via)
        assert answer.status_code == 200, answer.text
        return len(answer.json()["features"])

    def radius_seen(self, key: str | None = None) -> int:
        answer = self.get("/query/radius", key, **RADIUS)
        assert answer.status_code == 200, answer.text
        return int(_count(answer.json()))

    def ready(self) -> dict[str, Any]:
        answer = self.get("/ready")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def lag_bound(self, seconds: float) -> None:
        """Change the running servers' lag bound (as IOCGIS_REPLICA_MAX_LAG_S would; both:
        the replica gauges are one per process, and both servers run in this one)."""
        for server in (self.server, self.other):
            router = server.app.state.iocgis.router
            router.settings = router.settings.model_copy(update={"max_lag_s": seconds})

    def routed(self) -> dict[str, int]:
        return dict(self.ready()["replica"]["routed"])

    def replay(self, pause: bool) -> None:
        with psycopg.connect(self.replica_url, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()" if pause else "SELECT pg_wal_replay_resume()")

    def import_places(self, n: int) -> dict[str, Any]:
        geoms, fields = places(n)
        path = write_vector(Path(tempfile.mkdtemp(dir=self.root)) / "places.gpkg", geoms, fields)
        with path.open("rb") as fh:
            answer = httpx.post(self.server.url + "/imports", timeout=60,
                                headers={"X-API-Key": self.officer_key},
                                data={"layer": "base.places"}, files={"file": (path.name, fh)})
        assert answer.status_code == 202, answer.text
        job = answer.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            body = self.get(f"/imports/{job}", self.officer_key).json()
            if body["status"] not in ("queued", "running"):
                assert body["status"] == "loaded", body
                return body
            time.sleep(0.2)
        raise AssertionError("the import job did not finish")


def _count(body: dict[str, Any]) -> int:
    """The number of base.places features in a radius answer."""
    layer = body["layers"]["base.places"]
    return len(layer["features"]["features"] if isinstance(layer["features"], dict)
               else layer["features"])


def _only_replica_moved(before: dict[str, int], after: dict[str, int]) -> bool:
    """Reads were made between the two counts and every one was served by the replica."""
    moved = {k: after.get(k, 0) - before.get(k, 0) for k in after.keys() | before.keys()}
    assert moved.get("replica", 0) >= 2 and all(v == 0 for k, v in moved.items()
                                                if k != "replica"), moved
    return True


def _tile_path(z: int, lon: float, lat: float) -> str:
    """The basemap tile (it draws base.places) holding a point."""
    n = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return f"/tiles/basemap/{z}/{int((lon + 180) / 360 * n)}/{int(y)}.mvt"


def _sample(text: str, series: str) -> float:
    """One sample's value in a Prometheus scrape."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in the scrape")


def _until(check: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.1)


async def _key(url: str, name: str, role: str) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await accounts.create(conn, SecuritySettings(), Actor("pytest"), name=name,
                              roles=[role], password="Ban-Sao-Doc-Dong-Nai-2026!")
        await conn.execute("UPDATE security.accounts SET must_change_password = false "
                           "WHERE name = %s", (name,))
        key, _ = await login.create_api_key(conn, Actor("pytest"), name,
                                            networks=["127.0.0.0/8"])
    return key


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    root = Path(tempfile.mkdtemp(prefix="iocgis-replica-", dir="/tmp"))
    root.chmod(0o755)  # the server's user traverses it
    primary_port, replica_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("IOCGIS_") and k not in ("DATABASE_URL", "REPLICA_URL")}
    env.update(IOCGIS_PG_PORT=str(primary_port), IOCGIS_PG_DATA_DIR=str(root / "pgdata"),
               IOCGIS_VAR_DIR=str(root / "var"), IOCGIS_REPLICA_PORT=str(replica_port))
    base = Settings(pg_port=primary_port, pg_data_dir=root / "pgdata", var_dir=root / "var",
                    database_url="", IOCGIS_CACHE_DIR=root / "cache",
                    imports=ImportSettings(auto_approve=True),
                    replica=ReplicaSettings(local=True, port=replica_port, max_lag_s=MAX_LAG_S,
                                            check_s=CHECK_S))
    redis_settings = Settings(var_dir=root / "var", redis_port=free_port(), redis_url="")
    server = other = None
    try:
        redis_local.start(redis_settings)
        cluster.start(base, BackupSettings(archive=False))
        primary_url = cluster.local_url(base)
        migrate.upgrade(primary_url)
        key = asyncio.run(_key(primary_url, "can.bo.replica", "gis_officer"))
        monitor = asyncio.run(_key(primary_url, "giam.sat.replica", "admin"))
        made = subprocess.run([str(IOCGIS), "replica", "start"], env=env, capture_output=True,
                              text=True, timeout=180)
        assert made.returncode == 0, made.stdout + made.stderr
        assert f"local read replica running: data {root / 'pgdata-replica'}, port {replica_port}" \
            in made.stdout, made.stdout
        settings = base.model_copy(update={"database_url": primary_url,
                                           "redis_url": redis_local.local_url(redis_settings)})
        server, other = LiveServer(settings).start(), LiveServer(settings).start()
        yield Rig(settings, primary_url, replica.url(base), server, other, key, monitor, root)
    finally:
        for running in (server, other):
            if running is not None:
                running.stop()
        redis_local.stop(redis_settings)
        replica.stop(base, "immediate")
        cluster.run_as_server_user([str(cluster.require_bin_dir() / "pg_ctl"), "-D",
                                    str(root / "pgdata"), "-m", "immediate", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def test_replica_start_is_one_idempotent_command_and_streams(rig: Rig) -> None:
    # the fixture made it with the real command; again is a no-op that says it streams
    again = replica.start(rig.settings)
    assert again.running and again.slot_active is True, again.describe()
    assert "(streaming)" in again.describe()
    with psycopg.connect(rig.replica_url) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        # the same roles and policies: a physical copy
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'iocgis_api'"
                            ).fetchone() == (1,)
    with psycopg.connect(rig.primary_url) as conn:
        assert conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = "
                            "'iocgis_replica'").fetchone() == (True,)
    ready = rig.ready()
    assert ready["notify_listener"] == "listening" and ready["redis"] == "up"
    _until(lambda: rig.ready()["replica"]["reads_to"] == "replica", "reads go to the replica")
    assert rig.ready()["replica"]["in_recovery"] is True


def test_reads_are_served_by_the_replica_and_own_import_by_the_primary(rig: Rig) -> None:
    rig.import_places(3)
    _until(lambda: rig.places_seen() == 3, "the first import reaches the replica")
    rig.replay(pause=True)
    try:
        before = rig.routed()
        rig.import_places(5)  # the primary now holds 5 places, the paused replica 3
        # the caller who imported reads their import (from the primary) ...
        assert rig.places_seen(rig.officer_key) == 5
        assert rig.radius_seen(rig.officer_key) == 5
        # ... through the other worker too (the pin reached it through Redis), while an
        # anonymous read there is the replica's
        assert rig.places_seen(rig.officer_key, via=rig.other) == 5
        assert rig.places_seen(via=rig.other) == 3
        # ... anonymous reads of features and queries are served by the replica: the old rows
        assert rig.places_seen() == 3
        assert rig.radius_seen() == 3
        # ... and so are tiles (a tile of the new data version: not in any cache yet)
        tiles_before = rig.routed().get("replica", 0)
        tile = rig.get(_tile_path(14, *BIEN_HOA))  # settlements from z13
        assert tile.status_code == 200 and tile.content, tile.status_code
        assert rig.routed().get("replica", 0) > tiles_before
        after = rig.routed()
        assert after.get("replica", 0) - before.get("replica", 0) >= 3
        assert after.get("own-write", 0) - before.get("own-write", 0) >= 2
        # past the lag bound, every read goes to the primary (no error, the new rows)
        rig.lag_bound(LOW_LAG_S)
        _until(lambda: rig.ready()["replica"]["reads_to"] == "primary", "the lag bound", 15)
        # the other server's router (same process, same gauges) sees it at its next check too
        _until(lambda: not rig.other.app.state.iocgis.router.health.usable(LOW_LAG_S),
               "the other server's lag bound", 15)
        assert rig.ready()["replica"]["lag_s"] > LOW_LAG_S
        assert rig.ready()["replica"]["state"] == "lagging"
        assert rig.places_seen() == 5 and rig.radius_seen() == 5
        assert rig.routed().get("replica-lagging", 0) >= 2
        # and in the scrape: reads per target and reason, the lag, not in use
        scrape = rig.get("/metrics", rig.monitor_key)
        assert scrape.status_code == 200, scrape.text
        for series in ('iocgis_reads_routed_total{reason="replica",target="replica"}',
                       'iocgis_reads_routed_total{reason="own-write",target="primary"}',
                       'iocgis_reads_routed_total{reason="replica-lagging",target="primary"}'):
            assert _sample(scrape.text, series) >= 2, series
        assert _sample(scrape.text, "iocgis_replica_lag_seconds") > LOW_LAG_S
        assert _sample(scrape.text, "iocgis_replica_in_use") == 0
    finally:
        rig.replay(pause=False)
        rig.lag_bound(MAX_LAG_S)
    # the replica caught up: reads return to it, and the import's pin is released
    _until(lambda: (lambda r: r["reads_to"] == "replica" and r["lag_bytes"] == 0)(
        rig.ready()["replica"]), "the replica caught up")
    before = rig.routed()
    assert rig.places_seen() == 5 and rig.places_seen(rig.officer_key) == 5
    assert _only_replica_moved(before, rig.routed())


def test_replica_killed_reads_move_to_the_primary_then_return(rig: Rig) -> None:
    with psycopg.connect(rig.primary_url) as conn:
        held = conn.execute("SELECT count(*) FROM base.places").fetchone()[0]  # type: ignore[index]
    _until(lambda: rig.ready()["replica"]["reads_to"] == "replica", "the replica in use")
    replica.stop(rig.settings, "immediate")
    try:
        # every read answers, from the primary, while the replica is away
        for _ in range(6):
            assert rig.places_seen() == held and rig.radius_seen() == held
        ready = rig.ready()["replica"]
        assert ready["reads_to"] == "primary" and ready["reachable"] is False
        assert ready["state"] == "unreachable"
        routed = rig.routed()
        assert routed.get("replica-down", 0) + routed.get("replica-failed", 0) >= 12
    finally:
        replica.start(rig.settings)
    _until(lambda: rig.ready()["replica"]["reads_to"] == "replica", "the replica back", 60)
    before = rig.routed()
    assert rig.places_seen() == held and rig.radius_seen() == held
    assert _only_replica_moved(before, rig.routed())
