"""A pull keeps one page in memory whatever the source's size: a remote PostGIS table of some
60 MB of text is pulled in a child process whose peak resident memory grows by far less than
the table (Linux's peak resident size, VmHWM, reset before each pull; a warm-up pull of a small
table first, so the libraries' own start does not count)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg

ROWS, WIDTH, PAGE = 30_000, 2_000, 500  # 60 MB of text; a page holds 1 MB
CHILD = r"""
import json, os, tempfile
from pathlib import Path

import pyogrio

from iocgis.importers.connectors.definitions import Credentials
from iocgis.importers.connectors.fetch import fetch
from iocgis.importers.connectors.model import SourceDef

def status(key: str) -> int:
    with open("/proc/self/status") as lines:
        return next(int(l.split()[1]) * 1024 for l in lines if l.startswith(key))

credentials = Credentials(username=os.environ["SRC_USER"], password=os.environ["SRC_PASSWORD"])
out = {}
with tempfile.TemporaryDirectory() as tmp:
    for table in ("so_cong_thuong.mo_ta_nho", "so_cong_thuong.mo_ta_lon"):
        source = SourceDef.model_validate({
            "id": "rong", "title": {"vi": "Rộng", "en": "Wide"}, "layer": "infra.substations",
            "kind": "postgis", "url": os.environ["SRC_URL"], "table": table,
            "schedule": "P1D", "page_size": int(os.environ["SRC_PAGE"])})
        with open("/proc/self/clear_refs", "w") as reset:  # the peak (VmHWM) starts again
            reset.write("5")
        before = status("VmRSS:")
        path = fetch(source, credentials, Path(tmp))
        out[table] = {"growth": status("VmHWM:") - before,
                      "features": pyogrio.read_info(str(path))["features"],
                      "file_bytes": path.stat().st_size}
        path.unlink()
print(json.dumps(out))
"""


def test_a_pull_streams_page_by_page(dept_url: str) -> None:
    with psycopg.connect(dept_url, autocommit=True) as dept:
        for table, rows in (("mo_ta_nho", PAGE), ("mo_ta_lon", ROWS)):
            dept.execute(f"DROP TABLE IF EXISTS so_cong_thuong.{table}")
            dept.execute(
                f"CREATE TABLE so_cong_thuong.{table} AS SELECT 'R-' || i AS ma, "
                f"repeat(md5(i::text), {WIDTH // 32}) AS mo_ta, ST_SetSRID(ST_MakePoint("
                f"106.8 + i * 1e-6, 10.9), 4326)::geometry(Point, 4326) AS geom "
                f"FROM generate_series(1, {rows}) i")
    user, password = dept_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=600,
        env={**os.environ, "SRC_URL": "postgresql://" + dept_url.split("@", 1)[1],
             "SRC_USER": user, "SRC_PASSWORD": password, "SRC_PAGE": str(PAGE)})
    assert done.returncode == 0, done.stderr[-2000:]
    pulled = json.loads(done.stdout.strip().splitlines()[-1])
    big = pulled["so_cong_thuong.mo_ta_lon"]
    assert big["features"] == ROWS and big["file_bytes"] > ROWS * WIDTH * 0.9  # all of it, on disk
    assert big["growth"] < ROWS * WIDTH / 3, pulled  # a whole-table read would hold 60 MB
