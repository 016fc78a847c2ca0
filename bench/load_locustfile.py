"""The mixed clients of ``bench/load_bench.py``, for Locust (run from bench/.venv-peers).

Viewers page items, draw vector tiles (a few hot ones, most of them cold) and ask spatial
questions with an analyst's API key; one GIS officer imports a small file now and then. Every
answer is written as one JSON line to $LOAD_EVENTS (start time, kind, status, Retry-After, ms)
so that the bench can tell the outage's answers from the others'.
"""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

from locust import HttpUser, between, events, task

ANALYST = {"X-API-Key": os.environ["LOAD_ANALYST_KEY"]}
OFFICER = {"X-API-Key": os.environ["LOAD_OFFICER_KEY"]}
STEWARD = {"X-API-Key": os.environ["LOAD_STEWARD_KEY"]}
IMPORT_FILE = Path(os.environ["LOAD_IMPORT_FILE"])
IMPORT_LAYER = os.environ["LOAD_IMPORT_LAYER"]
TIMEOUT_S = 30.0
# Biên Hòa and Long Khánh: where the demo's parcels and houses are densest
AREAS = ((106.80, 10.90, 106.92, 11.00), (107.20, 10.90, 107.30, 10.98))
_events = open(os.environ["LOAD_EVENTS"], "a", buffering=1 << 16)  # noqa: SIM115


@events.request.add_listener
def _record(name: str, response_time: float, response: object, exception: object,
            start_time: float = 0.0, **_: object) -> None:
    status = getattr(response, "status_code", None) or None
    headers = getattr(response, "headers", None) or {}
    _events.write(json.dumps([start_time, name, status, headers.get("retry-after"),
                              round(response_time, 1), str(exception)[:120] if exception and
                              not status else None]) + "\n")


@events.quitting.add_listener
def _close(**_: object) -> None:
    _events.flush()


def _point() -> tuple[float, float]:
    west, south, east, north = random.choice(AREAS)
    return random.uniform(west, east), random.uniform(south, north)


def _tile(z: int) -> tuple[int, int]:
    lon, lat = _point()
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


class Viewer(HttpUser):
    """A dashboard or QGIS user: items, tiles and questions, with a little think time."""

    wait_time = between(0.2, 1.0)
    weight = 99

    def _get(self, path: str, name: str, headers: dict[str, str] | None = None) -> None:
        # Locust counts a 503 as a failure; the bench classifies every answer itself
        self.client.get(path, name=name, headers=headers, timeout=TIMEOUT_S)

    @task(3)
    def items_page(self) -> None:
        self._get(f"/collections/admin.communes/items?limit=10&offset={random.randint(0, 80)}",
                  "items page")

    @task(3)
    def items_bbox(self) -> None:
        lon, lat = _point()
        self._get(f"/collections/infra.schools/items?bbox={lon - 0.02},{lat - 0.02},"
                  f"{lon + 0.02},{lat + 0.02}&limit=50", "items bbox")

    @task(4)
    def hot_tile(self) -> None:
        self._get(f"/tiles/basemap/12/{3264 + random.randint(0, 2)}/{1921 + random.randint(0, 2)}"
                  ".mvt", "tile (hot)")

    @task(3)
    def cold_tile(self) -> None:
        z = random.choice((14, 15, 16))
        x, y = _tile(z)
        self._get(f"/tiles/basemap/{z}/{x}/{y}.mvt", "tile (cold)", ANALYST)

    @task(2)
    def point_query(self) -> None:
        lon, lat = _point()
        self._get(f"/query/point?lon={lon:.5f}&lat={lat:.5f}", "query point", ANALYST)

    @task(1)
    def radius_query(self) -> None:
        lon, lat = _point()
        self._get(f"/query/radius?lon={lon:.5f}&lat={lat:.5f}&radius_m=1000"
                  "&layers=infra.schools,emergency.shelters", "query radius", ANALYST)


class Officer(HttpUser):
    """A GIS officer importing a small department file every half minute or so."""

    wait_time = between(20, 40)
    fixed_count = 1

    @task
    def import_file(self) -> None:
        with IMPORT_FILE.open("rb") as f:
            self.client.post("/imports", name="import", headers=OFFICER, timeout=TIMEOUT_S,
                             files={"file": (IMPORT_FILE.name, f)},
                             data={"layer": IMPORT_LAYER})


class Steward(HttpUser):
    """A data steward of the layer's group: approves the officer's pending imports."""

    wait_time = between(5, 10)
    fixed_count = 1

    @task
    def approve_pending(self) -> None:
        listing = self.client.get(f"/imports?status=pending&layer={IMPORT_LAYER}",
                                  name="imports pending", headers=STEWARD, timeout=TIMEOUT_S)
        if listing.status_code != 200:
            return
        for pending in listing.json()["imports"]:
            if pending.get("may_decide"):
                self.client.post(f"/imports/{pending['import_id']}/approve", name="approve",
                                 headers=STEWARD, timeout=TIMEOUT_S)
