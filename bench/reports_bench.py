"""Reports: generation time per definition, and the server's map render per map against a raw
Chromium screenshot of the same style page, in one run.

    .venv/bin/python bench/reports_bench.py [--repeat 5] [--no-write]

Data: the report tests' small province (tests/reports/reports_fixtures.py: three communes,
indicators for three periods, houses, incidents, citizen reports, an alert) in its own database
``iocgis_bench_reports``, made fresh each run (seconds; the demo's timings are in the README).

- generation: ``ReportsService.run`` in-process as an analyst (the administrator for the
  operation report): data, maps, PDF and XLSX written (in the service's writer process), the
  files stored and the record written; median of ``--repeat`` after one warm-up.
- regeneration: the quarterly report regenerated while its versions are live, then from the
  kept houses version after a new one is imported (by turns with the report generated from the
  live data), and a housing map drawn from the kept version (uncached tiles) against the live.
- maps: ``MapRenderer.render`` (a warm page of the pool, style and tiles answered in-process)
  of the quarterly report's map, 170 × 110 mm at 150 dpi (643 × 416 CSS px at pixel ratio
  1.56: 1,004 × 650 pixels),
  against the peer: the same style (``/styles/basemap.json``) in the ``/map`` page of our own
  server (uvicorn in its own process) opened in a new Chromium page at the same size and pixel
  ratio, screenshot once MapLibre is idle; and the peer with a browser launched per map.
Prints ratios and rewrites the ``reports`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import common  # noqa: F401  (puts the checkout on sys.path)
import psycopg
from common import ROOT, Timing, ratio, write_results_section
from psycopg import sql
from queries_bench import Server

NAME = "iocgis_bench_reports"


def make_database() -> str:
    from iocgis import migrate
    from iocgis.db import database_url
    from iocgis.settings import get_settings

    sys.path.insert(0, str(ROOT))
    from tests.reports.reports_fixtures import load_report_data

    server = database_url(get_settings())
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
            sql.Identifier(NAME)))
    url = server.rsplit("/", 1)[0] + "/" + NAME
    migrate.upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        load_report_data(conn)
    return url


async def ours(url: str, repeat: int, tmp: str) -> dict[str, Timing]:
    from iocgis.access import Caller
    from iocgis.api.state import AppState
    from iocgis.reports.generate import Order
    from iocgis.reports.maps import CallerResources, MapSpec
    from iocgis.reports.service import ReportsService, ReportsSettings
    from iocgis.settings import Settings

    state = AppState.build(Settings(database_url=url))
    await state.open()
    service = ReportsService(state, ReportsSettings(dir=tmp))
    analyst = Caller(name="bench.analyst", roles=frozenset({"analyst"}))
    admin = Caller(name="bench.admin", roles=frozenset({"admin"}), auth="console", mfa=True)
    orders = {"kinh_te_xa_hoi_quy": (analyst, Order("kinh_te_xa_hoi_quy", "2025-Q3")),
              "ngap_lut_xa": (analyst, Order("ngap_lut_xa", "2025-Q3", "26041")),
              "van_hanh_ioc": (admin, Order("van_hanh_ioc", "2025-H2"))}
    out: dict[str, Timing] = {}
    try:
        for name, (caller, order) in orders.items():
            await service.run(caller, order)  # warm-up (browser, writer process, caches)
            timing = Timing()
            for _ in range(repeat):
                started = time.perf_counter()
                await service.run(caller, order)
                timing.samples.append(time.perf_counter() - started)
            out[name] = timing
        out |= await regenerations(service, state, analyst, url, repeat, tmp)
        spec = MapSpec("basemap", (106.80, 10.86, 106.92, 10.98), 170, 110, 150)
        await service.maps.render(spec, CallerResources(state, analyst))
        timing = Timing()
        for _ in range(repeat * 2):
            started = time.perf_counter()
            await service.maps.render(spec, CallerResources(state, analyst))
            timing.samples.append(time.perf_counter() - started)
        out["map"] = timing
    finally:
        await service.close()
        await state.close()
    return out


async def regenerations(service, state, analyst, url: str, repeat: int,  # noqa: ANN001
                        tmp: str) -> dict[str, Timing]:
    """The quarterly report regenerated while its versions are live, then (a new houses
    version imported) from the kept table, by turns with a report of the same data read live;
    and the housing theme's map of 26041 drawn from the kept table (uncached tiles) against
    the same map from the live one (the tile cache warm)."""
    from pathlib import Path

    from iocgis.importers.options import ImportOptions
    from iocgis.importers.pipeline import import_path
    from iocgis.reports.generate import Order
    from iocgis.reports.maps import CallerResources, MapSpec
    from iocgis.reports.versions import registry_at
    from tests.reports.reports_fixtures import new_houses_file

    order = Order("kinh_te_xa_hoi_quy", "2025-Q3")
    record = await service.run(analyst, order)
    out = {"regen_live": Timing(), "regen_kept": Timing(), "fresh": Timing(),
           "map_kept": Timing(), "map_live": Timing()}
    for _ in range(repeat):
        started = time.perf_counter()
        assert (await service.regenerate(analyst, str(record["id"])))["identical"]
        out["regen_live"].samples.append(time.perf_counter() - started)
    await asyncio.to_thread(import_path, new_houses_file(Path(tmp)), "housing.houses",
                            ImportOptions(mode="append", approval="auto"), url=url)
    for _ in range(repeat):
        started = time.perf_counter()
        again = await service.regenerate(analyst, str(record["id"]))
        assert again["identical"] and again["read_from_history"], again
        out["regen_kept"].samples.append(time.perf_counter() - started)
        started = time.perf_counter()
        await service.run(analyst, order)
        out["fresh"].samples.append(time.perf_counter() - started)
    kept = await registry_at(state.registry, service.owner, record["versions"])
    spec = MapSpec("housing", (106.809, 10.946, 106.827, 10.954), 170, 110, 150)
    await service.maps.render(spec, CallerResources(state, analyst))
    for _ in range(repeat):
        for name, registry in (("map_kept", kept), ("map_live", state.registry)):
            started = time.perf_counter()
            await service.maps.render(spec, CallerResources(state, analyst, registry))
            out[name].samples.append(time.perf_counter() - started)
    return out


def peer(server_url: str, repeat: int, spec_pixels: tuple[int, int, float]) -> dict[str, Timing]:
    from playwright.sync_api import sync_playwright

    from iocgis.reports.maps import CHROMIUM, FLAGS

    width, height, ratio_px = spec_pixels
    url = f"{server_url}/map?theme=basemap"

    def shot(browser) -> bytes:  # noqa: ANN001
        context = browser.new_context(viewport={"width": width, "height": height},
                                      device_scale_factor=ratio_px)
        page = context.new_page()
        page.goto(url)
        deadline = time.monotonic() + 60
        while not page.evaluate("() => window.iocgis && window.iocgis.ready"):
            assert time.monotonic() < deadline, "the map page did not get ready"
            time.sleep(0.05)
        png = page.screenshot()
        context.close()
        return png

    out = {"page": Timing(), "browser": Timing()}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        shot(browser)
        for _ in range(repeat * 2):
            started = time.perf_counter()
            shot(browser)
            out["page"].samples.append(time.perf_counter() - started)
        browser.close()
        for _ in range(repeat):
            started = time.perf_counter()
            fresh = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            shot(fresh)
            fresh.close()
            out["browser"].samples.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    import tempfile

    from iocgis.reports.maps import MapSpec

    url = make_database()
    with tempfile.TemporaryDirectory() as tmp:
        mine = asyncio.run(ours(url, args.repeat, tmp))
    server = Server(url)
    try:
        theirs = peer(server.url, args.repeat, MapSpec("basemap", (0, 0, 0, 0)).pixels)
    finally:
        server.stop()
    rows = ["| what | ours (median) | peer (median) | ratio |", "| --- | --- | --- | --- |"]
    for name in ("kinh_te_xa_hoi_quy", "ngap_lut_xa", "van_hanh_ioc"):
        rows.append(f"| generate {name} (PDF + XLSX, maps, stored) | "
                    f"{mine[name].median:.2f} s | | |")
    rows.append(f"| regenerate kinh_te_xa_hoi_quy, its versions live | "
                f"{mine['regen_live'].median:.2f} s | | |")
    rows.append(f"| regenerate it from the kept houses version (a newer one imported) | "
                f"{mine['regen_kept'].median:.2f} s | {mine['fresh'].median:.2f} s (the same "
                f"report generated from the live data, by turns) | "
                f"{ratio(mine['regen_kept'].median, mine['fresh'].median)} |")
    rows.append(f"| housing map of 26041 (3D theme) from the kept version, tiles uncached | "
                f"{mine['map_kept'].median * 1000:.0f} ms | {mine['map_live'].median * 1000:.0f}"
                f" ms (from the live version, tile cache warm, by turns) | "
                f"{ratio(mine['map_kept'].median, mine['map_live'].median)} |")
    rows.append(f"| one map, 170 × 110 mm at 150 dpi, warm pool | {mine['map'].median * 1000:.0f} ms"
                f" | {theirs['page'].median * 1000:.0f} ms (new page of a running Chromium, "
                f"/map page screenshot) | {ratio(mine['map'].median, theirs['page'].median)} |")
    rows.append(f"| the same map | {mine['map'].median * 1000:.0f} ms | "
                f"{theirs['browser'].median * 1000:.0f} ms (Chromium launched per map) | "
                f"{ratio(mine['map'].median, theirs['browser'].median)} |")
    load = os.getloadavg()[0]
    text = ("Reports (`bench/reports_bench.py`, small province of the report tests, "
            f"{args.repeat} runs each, 2-core machine, load average {load:.1f} at the end: "
            "other work was running):\n\n" + "\n".join(rows)
            + "\n\nThe map is the quarterly report's (basemap theme over three communes). Ours "
            "answers style and tiles in-process from a warm pool page; the peer loads the /map "
            "page of a server in another process over HTTP. Data: the report tests' small "
            "province (the small demo's timings from the CLI are in the README). A regeneration "
            "from a kept version reads the kept houses table through the same plans (the other "
            "layers live); the kept map's tiles are rendered for each map, never cached (a kept "
            "version's tiles must not meet the live cache).")
    print(text)
    if not args.no_write:
        write_results_section("reports", text)


if __name__ == "__main__":
    main()
