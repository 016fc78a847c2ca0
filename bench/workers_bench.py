"""Two workers against one, in one run: ``iocgis serve --workers 1`` and ``--workers 2`` on the
province demo (``common.ensure_province_db()``), with their own Redis (the project-local server
on a free port: the shared rate limit is on the path of every request), the same disk tile cache.

    .venv/bin/python bench/workers_bench.py [--url postgresql://...] [--seconds 15]
                                            [--clients 16] [--no-write]

Targets, each warmed first, then loaded by ApacheBench (``ab``, Debian's apache2-utils: one C
process, keep-alive connections) for --seconds with --clients connections:
  (a) a cached vector tile (anonymous, basemap z12 over Biên Hòa),
  (b) a page of items (anonymous, 20 schools, GeoJSON).
The load tool runs on the same 2 cores as the servers, so it takes part of the second core.
Prints requests/s, p50/p95, errors, and the ratio 2 workers / 1 (goal >= 1.6x); rewrites the
``workers`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, ensure_province_db, write_results_section  # noqa: E402
from iocgis import redis_local  # noqa: E402
from iocgis.settings import Settings  # noqa: E402

TARGETS = {
    "cached tile": "/tiles/basemap/12/3265/1922.mvt",
    "items page": "/collections/infra.schools/items?limit=20",
}
IOCGIS = ROOT / ".venv" / "bin" / "iocgis"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    def __init__(self, workers: int, url: str, redis_url: str, cache: Path) -> None:
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOCGIS_")}
        env.update(DATABASE_URL=url, REDIS_URL=redis_url, IOCGIS_PORT=str(self.port),
                   IOCGIS_CACHE_DIR=str(cache), IOCGIS_SECURITY_RATE_LIMIT_EXEMPT="[]",
                   IOCGIS_SECURITY_RATE_LIMIT_PER_MINUTE="100000000",
                   IOCGIS_SECURITY_RATE_LIMIT_BURST="100000000")
        self.log = open(cache.parent / f"serve-{workers}.log", "wb")  # noqa: SIM115
        # (one worker: uvicorn serves in the process itself, without the manager)
        self.process = subprocess.Popen([str(IOCGIS), "serve", "--workers", str(workers)],
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def children(self) -> int:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                             text=True).stdout.split()
        return sum("resource_tracker" not in Path(f"/proc/{p}/cmdline").read_text() for p in out)

    def ready(self, timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"iocgis serve --workers {self.workers} exited")
            try:
                if httpx.get(self.base + "/health", timeout=2).status_code == 200 \
                        and (self.workers == 1 or self.children() == self.workers):
                    # every worker answers (new connections land on either)
                    for path in TARGETS.values():
                        for _ in range(20):
                            httpx.get(self.base + path, timeout=60,
                                      headers={"Connection": "close"}).raise_for_status()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"iocgis serve --workers {self.workers} did not get ready")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def ab(url: str, seconds: int, clients: int) -> dict[str, float]:
    out = subprocess.run(["ab", "-q", "-k", "-c", str(clients), "-t", str(seconds),
                          "-n", "10000000", "-H", "Accept-Encoding: gzip", url],
                         capture_output=True, text=True, timeout=seconds + 120).stdout

    def number(pattern: str, default: float = 0.0) -> float:
        found = re.search(pattern, out)
        return float(found.group(1)) if found else default

    return {"rps": number(r"Requests per second:\s+([\d.]+)"),
            "p50": number(r"\n\s+50%\s+(\d+)"), "p95": number(r"\n\s+95%\s+(\d+)"),
            "failed": number(r"Failed requests:\s+(\d+)"),
            "non2xx": number(r"Non-2xx responses:\s+(\d+)"),
            "done": number(r"Complete requests:\s+(\d+)")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if shutil.which("ab") is None:
        raise SystemExit("ab is missing: apt-get install apache2-utils (./iocgis.sh installs it)")
    url = args.url or ensure_province_db()
    root = Path(tempfile.mkdtemp(prefix="iocgis-workers-bench-"))
    redis_settings = Settings(var_dir=root / "var", redis_port=free_port(), redis_url="")
    redis_local.start(redis_settings)
    results: dict[int, dict[str, dict[str, float]]] = {}
    try:
        for workers in (1, 2):
            server = Serve(workers, url, redis_local.local_url(redis_settings), root / "cache")
            try:
                server.ready()
                results[workers] = {}
                for name, path in TARGETS.items():
                    results[workers][name] = r = ab(server.base + path, args.seconds,
                                                    args.clients)
                    print(f"{workers} worker(s) {name:12s} {r['rps']:8.0f} req/s  p50 "
                          f"{r['p50']:.0f} ms  p95 {r['p95']:.0f} ms  errors "
                          f"{r['failed'] + r['non2xx']:.0f} of {r['done']:.0f}", flush=True)
            finally:
                server.stop()
    finally:
        redis_local.stop(redis_settings)
        shutil.rmtree(root, ignore_errors=True)

    load = os.getloadavg()[0]
    rows = []
    for name in TARGETS:
        one, two = results[1][name], results[2][name]
        ratio = two["rps"] / one["rps"] if one["rps"] else 0.0
        print(f"{name}: 2 workers / 1 = {ratio:.2f}x (goal >= 1.6x)")
        rows.append(f"| {name} (`{TARGETS[name]}`) | {one['rps']:,.0f} req/s, p50 {one['p50']:.0f} ms, "
                    f"p95 {one['p95']:.0f} ms | {two['rps']:,.0f} req/s, p50 {two['p50']:.0f} ms, "
                    f"p95 {two['p95']:.0f} ms | **{ratio:.2f}×** | "
                    f"{one['failed'] + one['non2xx'] + two['failed'] + two['non2xx']:.0f} |")
    if not args.no_write:
        write_results_section("workers", "\n".join([
            "## Several workers (`bench/workers_bench.py`)",
            "",
            f"`iocgis serve --workers 1` against `--workers 2` on the province demo, each with "
            f"the shared rate limit in its own Redis; ApacheBench, {args.clients} keep-alive "
            f"connections for {args.seconds} s per target, on the same 2 cores as the servers "
            f"(load average {load:.1f} at the end; {time.strftime('%Y-%m-%d')}).",
            "",
            "| target | 1 worker | 2 workers | ratio | errors |",
            "| --- | --- | --- | --- | --- |",
            *rows,
        ]))


if __name__ == "__main__":
    main()
