"""Prometheus metrics: the instruments every part records into, and one scrape's text.

One process: the default registry. Several workers: when ``PROMETHEUS_MULTIPROC_DIR`` names an
empty folder *before the processes start* (prometheus_client chooses its value store when it is
imported), every process writes its samples there and any worker's scrape sums them all
(``MultiProcessCollector``); the live consumer and the sources scheduler may share the folder,
so one scrape also sees their ingest and import counts. Labels are bounded sets: a route kind
(``ROUTE_KINDS``), a status class and code, a channel, an import status; never a raw path.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# (template pattern, kind), first match wins; a template is the matched route's path with its
# {parameters}, so a kind never carries an id, a layer name or a tile address.
ROUTE_KINDS: tuple[tuple[str, str], ...] = (
    (r"^/collections/[^/]+/tiles", "tiles"),
    (r"^/(collections|conformance|openapi|TileMatrixSets|static)?(/|$)", "ogc"),
    (r"^/tiles(/|$)", "tiles"),
    (r"^/(styles|map|favicon\.ico)(/|$)", "map"),
    (r"^/(query|scenarios)(/|$)", "query"),
    (r"^/(imports|sources)(/|$)", "import"),
    (r"^/(live|sta)(/|$)", "live"),
    (r"^/(citizen|open311|uploads/citizen)(/|$)", "citizen"),
    (r"^/(planning|uploads/planning)(/|$)", "planning"),
    (r"^/(reports|dashboard)(/|$)", "reports"),
    (r"^/open-data(/|$)", "sharing"),
    (r"^/(admin|auth)(/|$)", "admin"),
    (r"^/(health|ready|metrics)$", "ops"),
)
_KINDS = tuple((re.compile(pattern), kind) for pattern, kind in ROUTE_KINDS)
UNMATCHED = "unmatched"  # no route took the request (404 before routing, refused by middleware)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_SECONDS = Histogram(
    "iocgis_http_request_duration_seconds", "Time to the end of the response, by route kind",
    ["kind", "method"], buckets=LATENCY_BUCKETS)
RESPONSES = Counter("iocgis_http_responses_total", "Responses by route kind and status code",
                    ["kind", "status"])
TILE_CACHE = Counter("iocgis_tile_cache_total", "Tile cache lookups: hit or miss", ["result"])
IMPORTS = Counter("iocgis_imports_total", "Imports finished, by status", ["status"])
IMPORT_SECONDS = Histogram("iocgis_import_duration_seconds", "Duration of one import",
                           buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800))
INGESTED = Counter("iocgis_live_readings_total",
                   "Live readings written or refused, by channel and outcome",
                   ["channel", "outcome"])
# Pool gauges: each process writes its own; a multi-process scrape adds the live ones.
POOL_CONNECTIONS = Gauge("iocgis_pool_connections", "Connections of a pool by state",
                         ["pool", "state"], multiprocess_mode="livesum")
POOL_WAITING = Gauge("iocgis_pool_requests_waiting", "Requests waiting for a connection",
                     ["pool"], multiprocess_mode="livesum")
POOL_MAX = Gauge("iocgis_pool_max_connections", "A pool's largest size", ["pool"],
                 multiprocess_mode="livesum")

# Read routing (iocgis.read_routing): the replica's lag at the last check, whether reads go to
# it, and reads per target (replica, or primary with the reason).
REPLICA_LAG = Gauge("iocgis_replica_lag_seconds", "The read replica's lag at the last check",
                    multiprocess_mode="livemax")
REPLICA_USABLE = Gauge("iocgis_replica_in_use", "1 while reads are routed to the replica",
                       multiprocess_mode="livemin")
READS_ROUTED = Counter("iocgis_reads_routed_total", "Data reads by the server they ran on",
                       ["target", "reason"])
READ_ROUTE_REASONS = frozenset({"replica", "write-path", "replica-down", "replica-lagging",
                                "own-write", "replica-failed"})
_ROUTED_HERE: dict[str, int] = {}  # this process's counts, for /ready


def read_routed(reason: str) -> None:
    """One data read: ``replica``, or the reason it ran on the primary."""
    reason = reason if reason in READ_ROUTE_REASONS else "other"
    target = "replica" if reason == "replica" else "primary"
    READS_ROUTED.labels(target, reason).inc()
    _ROUTED_HERE[reason] = _ROUTED_HERE.get(reason, 0) + 1


def reads_routed_snapshot() -> dict[str, int]:
    return dict(_ROUTED_HERE)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def route_kind(template: str | None) -> str:
    """The kind of a matched route's path template; ``unmatched`` without a route."""
    if template is None:
        return UNMATCHED
    for pattern, kind in _KINDS:
        if pattern.match(template):
            return kind
    return "other"


def observe_response(kind: str, method: str, status: int, seconds: float) -> None:
    method = method if method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE") else "OTHER"
    REQUEST_SECONDS.labels(kind, method).observe(seconds)
    RESPONSES.labels(kind, str(status) if 100 <= status < 600 else "other").inc()


def tile_cache(hit: bool) -> None:
    TILE_CACHE.labels("hit" if hit else "miss").inc()


def import_finished(status: str, seconds: float) -> None:
    IMPORTS.labels(status if status in IMPORT_STATUSES else "other").inc()
    IMPORT_SECONDS.observe(seconds)


IMPORT_STATUSES = frozenset({"loaded", "dry_run", "pending", "aborted", "failed", "interrupted"})


def readings_ingested(channel: str, accepted: int, duplicates: int,
                      rejected: dict[str, int]) -> None:
    INGESTED.labels(channel, "accepted").inc(accepted)
    if duplicates:
        INGESTED.labels(channel, "duplicate").inc(duplicates)
    if rejected:
        INGESTED.labels(channel, "rejected").inc(sum(rejected.values()))


def pool_usage(name: str, stats: dict[str, Any]) -> None:
    """Record one pool's ``get_stats()``: connections open, idle, in use; waiting requests."""
    size, idle = int(stats.get("pool_size", 0)), int(stats.get("pool_available", 0))
    POOL_CONNECTIONS.labels(name, "open").set(size)
    POOL_CONNECTIONS.labels(name, "idle").set(idle)
    POOL_CONNECTIONS.labels(name, "in_use").set(max(size - idle, 0))
    POOL_WAITING.labels(name).set(int(stats.get("requests_waiting", 0)))
    POOL_MAX.labels(name).set(int(stats.get("pool_max", 0)))


def worker_exited(pid: int) -> None:
    """Tell the multi-process store a worker is gone (a process manager's child-exit hook), so
    its pool gauges leave the sums."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


def exposition(extra: Iterable[CollectorRegistry] = ()) -> bytes:
    """The scrape's text: every process's samples (one process's without a store folder),
    then ``extra`` registries measured for this scrape (database reachability)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest()
    return text + b"".join(generate_latest(r) for r in extra)


def database_reachability(seconds: float | None) -> CollectorRegistry:
    """This scrape's database check: up 1 with the round trip's seconds, or up 0."""
    registry = CollectorRegistry()
    Gauge("iocgis_database_up", "The database answered this scrape's probe",
          registry=registry).set(0 if seconds is None else 1)
    if seconds is not None:
        Gauge("iocgis_database_probe_seconds", "Round trip of this scrape's probe",
              registry=registry).set(seconds)
    return registry


class Throttle:
    """True at most once per ``every_s`` seconds (pool gauges are refreshed that often)."""

    def __init__(self, every_s: float) -> None:
        self.every_s, self.last = every_s, 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.every_s:
            return False
        self.last = now
        return True


__all__ = ["CONTENT_TYPE_LATEST", "ROUTE_KINDS", "exposition", "route_kind"]
