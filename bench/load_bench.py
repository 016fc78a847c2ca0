"""The load test: 100 concurrent mixed clients for 2 minutes, then the same with PostgreSQL
restarted in the middle, against ``iocgis serve --workers 2`` on a cluster of the bench's own
(a fresh project-local cluster on a free port, the ``small`` demo imported: the shared cluster
is never restarted).

    .venv/bin/python bench/load_bench.py [--users 100] [--seconds 120] [--outage 6]
                                         [--scale small] [--no-write]

Load tool: Locust (headless, from bench/.venv-peers, its own process on the same 2 cores), the
clients in ``bench/load_locustfile.py``: items pages and bbox pages, hot and cold vector tiles,
point and radius questions with an analyst's key, one GIS officer importing a small file every
20-40 s and one data steward approving them. Every answer is recorded with its start time, so
the restart run is judged the way the fault test judges it: before the stop every answer is a
success; during the outage only successes (cached tiles) and 503s with Retry-After; after the
server is back and the service has resumed by itself, successes again and no 503. Goal: zero
errors in the steady run, only 503s with Retry-After during the outage and none after.
Rewrites the ``load`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, api_key, percentile, write_results_section  # noqa: E402
from bench.workers_bench import Serve, free_port  # noqa: E402
from iocgis import cluster, migrate, redis_local  # noqa: E402
from iocgis.ops.settings import BackupSettings  # noqa: E402
from iocgis.settings import Settings  # noqa: E402

PEERS = ROOT / "bench" / ".venv-peers"
LOCUSTFILE = ROOT / "bench" / "load_locustfile.py"
RESUMED_WINDOW = 20  # answers in a row that must all succeed for "resumed"


@dataclass
class Answer:
    at: float
    kind: str
    status: int | None
    retry_after: str | None
    ms: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def read_events(path: Path) -> list[Answer]:
    out = []
    for line in path.read_text().splitlines():
        at, kind, status, retry_after, ms, _error = json.loads(line)
        out.append(Answer(float(at), kind, status, retry_after, float(ms)))
    return sorted(out, key=lambda a: a.at)


def locust(base: str, users: int, seconds: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    exe = PEERS / "bin" / "locust"
    if not exe.exists():
        raise SystemExit("Locust is missing: run bench/peers.sh (it installs the peers and the "
                         "load tool into bench/.venv-peers)")
    return subprocess.Popen(
        [str(exe), "-f", str(LOCUSTFILE), "--headless", "--host", base, "-u", str(users),
         "-r", str(max(1, users // 5)), "-t", f"{seconds}s", "--stop-timeout", "35",
         "--only-summary", "--loglevel", "WARNING"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def summary(answers: list[Answer]) -> dict[str, object]:
    ms = [a.ms for a in answers]
    by_kind: dict[str, list[float]] = {}
    for a in answers:
        by_kind.setdefault(a.kind, []).append(a.ms)
    return {"n": len(answers), "errors": sum(not a.ok for a in answers),
            "p50": percentile(ms, 50) if ms else 0.0, "p95": percentile(ms, 95) if ms else 0.0,
            "statuses": sorted({a.status for a in answers if not a.ok}, key=str),
            "kinds": {k: (len(v), percentile(v, 50), percentile(v, 95))
                      for k, v in sorted(by_kind.items())}}


def judge_restart(answers: list[Answer], stopped_at: float, back_at: float) -> dict[str, object]:
    # before: answered before the stop; a request in flight when PostgreSQL stopped is one of
    # the outage's (it may rightly get a 503); after: asked once the server was back
    before = [a for a in answers if a.at + a.ms / 1000 < stopped_at]
    outage = [a for a in answers if a.at + a.ms / 1000 >= stopped_at and a.at < back_at]
    after = [a for a in answers if a.at >= back_at]
    resumed_at = None
    for i in range(len(after) - RESUMED_WINDOW + 1):
        if all(a.ok for a in after[i:i + RESUMED_WINDOW]):
            resumed_at = after[i].at
            break
    settled = [a for a in after if resumed_at is not None and a.at >= resumed_at]
    unavailable = [a for a in outage + after if a.status == 503]
    return {
        "before_errors": sum(not a.ok for a in before), "before": len(before),
        "outage": len(outage), "outage_ok": sum(a.ok for a in outage),
        "outage_503": sum(a.status == 503 for a in outage),
        "outage_other": sorted({str(a.status) for a in outage if not a.ok and a.status != 503}),
        "retry_after_missing": sum(not a.retry_after for a in unavailable),
        "resumed_s": None if resumed_at is None else resumed_at - back_at,
        "after_errors": sum(not a.ok for a in settled), "after": len(settled),
    }


def import_file(demo_dir: Path) -> tuple[Path, str]:
    """The smallest plain WGS84 GeoJSON of the demo (not an administrative layer: every other
    layer's scope hangs on those), for the officer's imports."""
    from iocgis.demo.manifest import read_manifest

    plain = [e for e in read_manifest(demo_dir).files if e.load == "import" and not e.options
             and e.crs == "EPSG:4326" and e.encoding.lower() in ("utf-8", "utf8")
             and e.format.lower() == "geojson" and not e.layer.startswith("admin.")]
    entry = min(plain, key=lambda e: e.rows)
    return demo_dir / entry.path, entry.layer


def main() -> None:  # noqa: PLR0915 - one run, told in order
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--outage", type=float, default=6.0, help="seconds PostgreSQL is down")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from iocgis.demo.build import build_demo
    from iocgis.demo.load import load_demo

    root = Path(tempfile.mkdtemp(prefix="iocgis-load-bench-", dir="/tmp"))
    root.chmod(0o755)  # the server's user traverses it
    settings = Settings(pg_port=free_port(), pg_data_dir=root / "pgdata", var_dir=root / "var",
                        database_url="", redis_port=free_port(), redis_url="",
                        IOCGIS_CACHE_DIR=root / "cache")
    backup = BackupSettings(archive=False)
    cluster.start(settings, backup)
    redis_local.start(settings)
    server = None
    try:
        url = cluster.local_url(settings)
        migrate.upgrade(url)
        began = time.monotonic()
        demo_dir = root / "demo"
        build_demo(args.scale, demo_dir)
        load_demo(demo_dir, url=url, user="bench", strict=True)
        print(f"{args.scale} demo built and imported in {time.monotonic() - began:.0f} s",
              flush=True)
        path, layer = import_file(demo_dir)
        env = dict(os.environ, LOAD_ANALYST_KEY=api_key(url, "load_analyst", "analyst", "load"),
                   LOAD_OFFICER_KEY=api_key(url, "load_officer", "gis_officer", "load"),
                   LOAD_STEWARD_KEY=_steward_key(url, layer),
                   LOAD_IMPORT_FILE=str(path), LOAD_IMPORT_LAYER=layer)
        server = Serve(2, url, redis_local.local_url(settings), root / "cache")
        server.ready()

        runs: dict[str, list[Answer]] = {}
        marks: dict[str, float] = {}
        for run in ("steady", "restart"):
            events = root / f"{run}.jsonl"
            events.touch()
            proc = locust(server.base, args.users, args.seconds,
                          dict(env, LOAD_EVENTS=str(events)), root / f"{run}-locust.log")
            if run == "restart":
                time.sleep(args.seconds / 2)
                marks["stopped_at"] = time.time()
                cluster.stop(settings)
                time.sleep(args.outage)
                cluster.start(settings, backup)
                marks["back_at"] = time.time()
            proc.wait(timeout=args.seconds + 120)
            runs[run] = read_events(events)
            s = summary(runs[run])
            print(f"{run}: {s['n']} answers, errors {s['errors']} {s['statuses']}, p50 "
                  f"{s['p50']:.0f} ms, p95 {s['p95']:.0f} ms", flush=True)
        verdict = judge_restart(runs["restart"], marks["stopped_at"], marks["back_at"])
        print("restart:", verdict, flush=True)
        imports = _import_jobs(url)
    finally:
        if server is not None:
            server.stop()
        redis_local.stop(settings)
        cluster.stop(settings)
        shutil.rmtree(root, ignore_errors=True)

    if not args.no_write:
        write_results_section("load", _markdown(args, runs, verdict, imports))


def _steward_key(url: str, layer_id: str) -> str:
    """A key of a data steward of the import layer's group (who approves the officer's files)."""
    import psycopg

    from iocgis.layers import get_registry

    key = api_key(url, "load_steward", "data_steward", "load")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE security.accounts SET steward_groups = ARRAY[%s] WHERE name = "
                     "'load_steward'", (get_registry().get(layer_id).group,))
    return key


def _import_jobs(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT status, count(*) FROM meta.imports WHERE user_name = "
                            "'load_officer' GROUP BY status").fetchall()
    return {str(status): int(n) for status, n in rows}


def _markdown(args: argparse.Namespace, runs: dict[str, list[Answer]],
              verdict: dict[str, object], imports: dict[str, int]) -> str:
    steady = summary(runs["steady"])
    restart = summary(runs["restart"])
    kinds = steady["kinds"]
    assert isinstance(kinds, dict)
    load = os.getloadavg()[0]
    ok_steady = steady["errors"] == 0
    ok_restart = (verdict["before_errors"] == 0 and not verdict["outage_other"]
                  and verdict["retry_after_missing"] == 0 and verdict["after_errors"] == 0
                  and verdict["resumed_s"] is not None)
    resumed = verdict["resumed_s"]
    rows = [f"| {kind} | {n:,} | {p50:.0f} ms | {p95:.0f} ms |" for kind, (n, p50, p95) in
            kinds.items()]
    return "\n".join([
        "## Load test (`bench/load_bench.py`)",
        "",
        f"{args.users} concurrent Locust clients (`bench/load_locustfile.py`: items pages and bbox "
        f"pages, hot and cold tiles, point and radius questions with an analyst's key, one GIS "
        f"officer importing a small file every 20-40 s, one data steward approving them) for "
        f"{args.seconds} s against "
        f"`iocgis serve --workers 2` with its own Redis, on a fresh cluster of the bench's own "
        f"with the `{args.scale}` demo; the load tool shares the 2 cores with the servers "
        f"(load average {load:.1f} at the end; {time.strftime('%Y-%m-%d %H:%M')}).",
        "",
        f"**Steady run:** {steady['n']:,} answers, **{steady['errors']} errors** "
        f"({'goal met' if ok_steady else 'goal missed: ' + str(steady['statuses'])}), "
        f"p50 {steady['p50']:.0f} ms, p95 {steady['p95']:.0f} ms.",
        "",
        "| request | answers | p50 | p95 |",
        "| --- | ---: | ---: | ---: |",
        *rows,
        "",
        f"**PostgreSQL restarted in the middle** (stopped {args.seconds / 2:.0f} s in, back "
        f"{args.outage:.0f} s later): {restart['n']:,} answers, p50 {restart['p50']:.0f} ms, p95 "
        f"{restart['p95']:.0f} ms. Before the stop: {verdict['before']:,} answers, "
        f"{verdict['before_errors']} errors. During the outage: {verdict['outage']:,} answers, "
        f"{verdict['outage_ok']:,} served (cached tiles), {verdict['outage_503']:,} × 503, other "
        f"failures {verdict['outage_other'] or 'none'}; 503s without Retry-After: "
        f"{verdict['retry_after_missing']}. Resumed by itself "
        f"{'never' if resumed is None else f'{resumed:.1f} s'} after the server was back "
        f"({RESUMED_WINDOW} successes in a row); after that: {verdict['after']:,} answers, "
        f"{verdict['after_errors']} errors. Goal (only 503 with Retry-After during the outage, "
        f"none after): **{'met' if ok_restart else 'missed'}**.",
        "",
        f"The officer's imports over both runs, by final status: {imports or 'none'} (`loaded`: "
        f"approved by the steward and live; `aborted`: refused because the previous file still "
        f"waited for approval, or stopped by the outage, the live layer kept).",
    ])


if __name__ == "__main__":
    main()
