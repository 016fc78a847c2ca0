"""Shared helpers of the benchmarks (``bench/<area>_bench.py``); run them from the checkout with
the project's venv, e.g. ``.venv/bin/python bench/tiles_bench.py``, and ``import common``.

API (small on purpose):

``ensure_province_db(scale="province") -> str``
    URL of the database ``iocgis_bench`` (same server as ``iocgis db``: the local cluster or
    ``DATABASE_URL``) holding the demo of that scale, loaded through the importers. The files
    are built once into ``var/demo/<scale>`` and imported once; later calls only check the
    marker (the manifest's SHA-256 in the database comment, plus the row counts in
    ``meta.layers``) and return at once. Files that failed to load are retried once the
    importer's code has changed. ``IOCGIS_BENCH_RELOAD=1`` rebuilds the files and imports them
    all again (after a change to the demo generators). Safe to call from parallel runs
    (a file lock serialises the build and the load).

``write_results_section(name, markdown) -> None``
    Rewrite the ``<!-- section:NAME -->`` ... ``<!-- /section:NAME -->`` block of
    ``bench/RESULTS.md`` (appended when missing); other sections are left alone.

``api_key(url, account, role, label) -> str``
    A one-day API key of a bench account with that role (created when missing): our
    endpoints are measured authenticated, the way a dashboard calls them.

``LeanHttp(url, headers)``: ``.get(path, params) -> (status, body)``
    GET over one kept-alive HTTP/1.1 socket with no client library around it, as ``wrk`` or
    ``ab`` measure a server: httpx spends about 1 ms of Python a request (a bare Starlette
    ``/health`` took 1.16 ms through httpx, 0.47 ms through ``http.client``, 0.09 ms through
    the socket), which is the client's time, not the server's.

``measure(fn, repeat=20, warmup=2) -> Timing``; ``percentile(samples, q) -> float``;
``ratio(ours, peer) -> str``
    Wall-clock timing with median / p95 / p99 / mean, and a printable ratio ("2.4× faster").
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from bench/: make the checkout importable
    sys.path.insert(0, str(ROOT))

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BENCH_DB = "iocgis_bench"


# -- the province database --------------------------------------------------------------


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _with_dbname(url: str, dbname: str) -> str:
    head, _, tail = url.rpartition("/")
    query = "?" + tail.split("?", 1)[1] if "?" in tail else ""
    return f"{head}/{dbname}{query}"


def _marker(url: str) -> dict:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
    try:
        return json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        return {}


def _set_marker(url: str, marker: dict) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(BENCH_DB), sql.Literal(json.dumps(marker))
            )
        )


def _counts_match(url: str, expected: dict[str, int], failed: set[str]) -> bool:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = dict(conn.execute("SELECT id, row_count FROM meta.layers").fetchall())
    return all(rows.get(layer) == n for layer, n in expected.items() if layer not in failed)


def ensure_province_db(scale: str = "province") -> str:
    """The URL of ``iocgis_bench`` with the ``scale`` demo loaded (built and imported once)."""
    from iocgis import migrate
    from iocgis.db import database_url
    from iocgis.demo.build import DEFAULT_SEED, build_demo
    from iocgis.demo.load import load_demo
    from iocgis.demo.manifest import MANIFEST_NAME, read_manifest, sha256_of
    from iocgis.settings import get_settings

    settings = get_settings()
    out_dir = settings.var_dir / "demo" / scale
    server = database_url(settings)
    url = _with_dbname(server, BENCH_DB)
    fresh = os.environ.get("IOCGIS_BENCH_RELOAD") == "1"
    with _locked(settings.var_dir / "demo" / f".{scale}.lock"):
        manifest_path = out_dir / MANIFEST_NAME
        manifest = read_manifest(out_dir) if manifest_path.exists() else None
        if fresh or manifest is None or manifest.scale != scale or manifest.seed != DEFAULT_SEED:
            print(f"building the {scale} demo into {out_dir} (once)", file=sys.stderr)
            manifest = build_demo(scale, out_dir)
        digest = sha256_of(manifest_path)
        _create_database(server)
        migrate.upgrade(url)
        marker = _marker(url)
        same_files = marker.get("manifest") == digest and not fresh
        failed = set(marker.get("failed", []))
        stamp = _importer_stamp()
        failed_layers = {e.layer for e in manifest.files if e.path in failed}
        if same_files and _counts_match(url, manifest.layer_rows, failed_layers):
            if not failed or marker.get("importer") == stamp:
                return url  # loaded; files that failed are retried once the importer changes
        todo = failed if same_files else None
        print(f"importing the {scale} demo into {BENCH_DB}", file=sys.stderr)
        results = load_demo(
            out_dir,
            url=url,
            user="bench",
            only=todo,
            strict=False,
            on_result=lambda r: print(
                f"  {r.entry.path}: {'ok' if r.ok else r.error}", file=sys.stderr
            ),
        )
        now_failed = sorted({r.entry.path for r in results if not r.ok})
        if now_failed:
            print(
                f"warning: {len(now_failed)} demo files did not load: {', '.join(now_failed)}",
                file=sys.stderr,
            )
        _set_marker(url, {"manifest": digest, "failed": now_failed, "importer": stamp})
        return url


def _create_database(server: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)
        ).fetchone()
        if not exists:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(BENCH_DB)
                )
            )


def _importer_stamp() -> str:
    """When the importer's code last changed: failed files are worth retrying after that."""
    import iocgis.importers as importers

    folder = Path(importers.__file__).parent
    return str(max((p.stat().st_mtime_ns for p in folder.rglob("*.py")), default=0))


# -- results file -----------------------------------------------------------------------


def write_results_section(name: str, markdown: str, results: Path = RESULTS) -> None:
    """Replace the body of section ``name`` in bench/RESULTS.md (append the section if new)."""
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    with _locked(ROOT / "var" / "bench-results.lock"):  # var/ is not tracked
        text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
        body = f"{start}\n{markdown.strip()}\n{end}"
        if start in text and end in text and text.index(start) < text.index(end):
            before, rest = text.split(start, 1)
            _, after = rest.split(end, 1)
            text = before + body + after
        else:
            text = text.rstrip("\n") + "\n\n" + body + "\n"
        tmp = results.with_name(f".{results.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(results)


# -- timing -----------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between samples."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Timing:
    """Wall-clock samples in seconds."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)

    @property
    def per_second(self) -> float:
        return 1.0 / self.mean if self.mean else float("inf")

    def summary(self, unit: str = "ms") -> str:
        scale = 1000.0 if unit == "ms" else 1.0
        return (
            f"median {self.median * scale:.1f} {unit}, p95 {self.p95 * scale:.1f} {unit}, "
            f"{self.per_second:.1f}/s over {len(self.samples)} runs"
        )


class LeanHttp:
    """GET requests over one kept-alive HTTP/1.1 connection (Content-Length or chunked
    answers), reconnecting when the server closes it."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {
            "Host": parts.netloc, **(headers or {})}.items())
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=120)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        return self.sock

    def _fill(self, sock: socket.socket) -> None:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def _take(self, sock: socket.socket, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill(sock)
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _line(self, sock: socket.socket) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            self._fill(sock)
        line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
        return line

    def get(self, path: str, params: dict[str, str] | None = None) -> tuple[int, bytes]:
        target = path + ("?" + urlencode(params) if params else "")
        sock = self._connect()
        try:
            sock.sendall(f"GET {target} HTTP/1.1\r\n{self.head}\r\n".encode())
            status = int(self._line(sock).split()[1])
            headers = {}
            while line := self._line(sock):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self._line(sock).split(b";")[0], 16):
                    chunks.append(self._take(sock, size))
                    self._line(sock)
                while self._line(sock):  # trailers, then the empty line
                    pass
                body = b"".join(chunks)
            else:
                body = self._take(sock, int(headers.get("content-length", "0")))
            if headers.get("connection", "").lower() == "close":
                self.close()
            return status, body
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def measure(fn: Callable[[], object], *, repeat: int = 20, warmup: int = 2) -> Timing:
    """Run ``fn`` warmup times unmeasured, then ``repeat`` times measured."""
    for _ in range(warmup):
        fn()
    timing = Timing()
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        timing.samples.append(time.perf_counter() - started)
    return timing


def ratio(ours: float, peer: float) -> str:
    """'2.4× faster' when ours (a duration) is smaller than the peer's, else '1.3× slower'."""
    if ours <= 0 or peer <= 0:
        return "n/a"
    return f"{peer / ours:.1f}× faster" if ours <= peer else f"{ours / peer:.1f}× slower"


def api_key(url: str, account: str, role: str, label: str) -> str:
    """A one-day API key of ``account`` (created with ``role`` when missing)."""
    import asyncio

    import psycopg

    from iocgis.security import accounts, login
    from iocgis.settings import get_settings

    async def create() -> str:
        actor = accounts.Actor("bench")
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            cur = await conn.execute("SELECT 1 FROM security.accounts WHERE name = %s", (account,))
            if await cur.fetchone() is None:
                await accounts.create(conn, get_settings().security, actor, name=account,
                                      roles=[role])
                # A machine client: no temporary password to hand over, its keys work now.
                await conn.execute("UPDATE security.accounts SET must_change_password = "
                                   "false WHERE name = %s", (account,))
            key, _ = await login.create_api_key(conn, actor, account, label=label, days=1)
        return key

    return asyncio.run(create())
