"""Prometheus metrics and JSON logs against the real server: who may scrape, route kinds (never
raw paths), tile cache hits, import counts, pool gauges, the database probe; several processes
summed through PROMETHEUS_MULTIPROC_DIR; one JSON access line per request without personal data.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from iocgis.errors import ConfigError, IocgisError
from iocgis.importers import ImportOptions, import_path
from iocgis.ops.logs import JsonFormatter
from iocgis.settings import get_settings

from ..security.security_helpers import _create, api_key_for, run_async

ROOT = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition: (name, labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def keys(db_url, settings) -> dict[str, str]:  # noqa: ANN001
    tag = f"{os.getpid()}m"
    run_async(_create(db_url, settings, f"monitor{tag}", ["admin"], totp=True))
    run_async(_create(db_url, settings, f"viewer{tag}", ["viewer"]))
    return {"admin": api_key_for(db_url, f"monitor{tag}"),
            "viewer": api_key_for(db_url, f"viewer{tag}")}


@pytest.fixture(scope="module")
def scrape(live_server, keys):  # noqa: ANN001, ANN201
    def get() -> dict:
        response = httpx.get(live_server.url + "/metrics", headers={"X-API-Key": keys["admin"]},
                             timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=")
        return samples(response.text)
    return get


def test_only_the_metrics_right_scrapes(live_server, keys) -> None:  # noqa: ANN001
    anonymous = httpx.get(live_server.url + "/metrics", timeout=30)
    assert anonymous.status_code == 401 and "metrics right" in anonymous.text
    viewer = httpx.get(live_server.url + "/metrics", headers={"X-API-Key": keys["viewer"]},
                       timeout=30)
    assert viewer.status_code == 403 and "metrics" in viewer.text


def test_route_kinds_statuses_tiles_imports_pool_and_database(
        live_server, scrape, settings, tmp_path) -> None:  # noqa: ANN001
    before = scrape()
    x, y = random.randrange(13_000, 13_100), random.randrange(7_000, 7_100)  # a tile no one asked
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        for _ in range(3):
            assert client.get("/collections/admin.communes/items?limit=1").status_code == 200
        for path in ("/collections/no.such.layer/items", "/collections/x1/items",
                     "/collections/x2/items"):
            assert client.get(path).status_code == 404
        assert client.get("/no/such/route/8f3a").status_code == 404
        for _ in range(2):
            assert client.get(f"/tiles/basemap/14/{x}/{y}.mvt").status_code in (200, 204)
    with pytest.raises(IocgisError):  # a missing file: the run records 'aborted'
        import_path(tmp_path / "missing.gpkg", "admin.communes", ImportOptions(),
                    url=settings.database_url, settings=settings)
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("iocgis_http_responses_total", kind="ogc", status="200") == 3
    # the three 404s are one series: the layer names never become labels
    assert delta("iocgis_http_responses_total", kind="ogc", status="404") >= 3
    assert delta("iocgis_http_request_duration_seconds_count", kind="ogc", method="GET") >= 6
    assert delta("iocgis_http_responses_total", kind="tiles", status="200") \
        + delta("iocgis_http_responses_total", kind="tiles", status="204") == 2
    assert delta("iocgis_tile_cache_total", result="miss") == 1
    assert delta("iocgis_tile_cache_total", result="hit") == 1
    assert delta("iocgis_imports_total", status="aborted") == 1
    assert delta("iocgis_import_duration_seconds_count") == 1
    assert delta("iocgis_http_responses_total", kind="ops", status="200") == 1  # the 1st scrape
    labels = {dict(k[1]).get(name) for k in after for name in ("kind", "status") if k[1]}
    assert not any(label and ("/" in label or "admin.communes" in label) for label in labels)
    assert value(after, "iocgis_database_up") == 1
    assert value(after, "iocgis_database_probe_seconds") > 0
    assert value(after, "iocgis_pool_max_connections", pool="iocgis-requests") == 16
    assert value(after, "iocgis_pool_connections", pool="iocgis-requests", state="open") >= 1


def test_request_ids_and_json_access_lines(live_server) -> None:  # noqa: ANN001
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("iocgis.requests")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        sent = httpx.get(live_server.url + "/collections/admin.communes/items?name=Biên+Hòa",
                         headers={"X-Request-Id": "a1b2c3d4e5f60718"}, timeout=30)
        made = httpx.get(live_server.url + "/health", headers={"X-Request-Id": "bad id <x>"},
                         timeout=30)
    finally:
        logger.removeHandler(handler)
    assert sent.headers["x-request-id"] == "a1b2c3d4e5f60718"
    assert made.headers["x-request-id"] != "bad id <x>" and len(made.headers["x-request-id"]) == 32
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_id = {line.get("request_id"): line for line in lines}
    items = by_id["a1b2c3d4e5f60718"]
    assert items["route_kind"] == "ogc" and items["status"] == sent.status_code
    assert items["route"] == "/collections/{collection_id}/items"
    assert items["level"] == "info" and items["logger"] == "iocgis.requests"
    assert items["duration_ms"] >= 0 and items["time"].endswith("+00:00")
    health = by_id[made.headers["x-request-id"]]
    assert health["route_kind"] == "ops" and health["status"] == 200
    text = stream.getvalue()
    assert "127.0.0.1" not in text and "Biên" not in text and "name=" not in text


WORKER = """
import os, sys
from iocgis.ops import metrics
metrics.observe_response("tiles", "GET", 200, 0.02)
metrics.tile_cache(hit=True)
metrics.pool_usage("iocgis-requests", {"pool_size": 3, "pool_available": 1, "pool_max": 16})
print(os.getpid())
"""


@pytest.fixture
def multiproc_dir(tmp_path) -> Iterator[Path]:  # noqa: ANN001
    folder = tmp_path / "prometheus"
    folder.mkdir()
    yield folder


def _python(code: str, folder: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, cwd=ROOT, check=True)
    return done.stdout.strip()


def test_several_processes_summed_in_one_scrape(multiproc_dir) -> None:  # noqa: ANN001
    pids = [int(_python(WORKER, multiproc_dir)) for _ in range(2)]
    scrape = "from iocgis.ops import metrics; import sys; " \
             "sys.stdout.write(metrics.exposition().decode())"
    both = samples(_python(scrape, multiproc_dir))
    assert value(both, "iocgis_http_responses_total", kind="tiles", status="200") == 2
    assert value(both, "iocgis_http_request_duration_seconds_count", kind="tiles",
                 method="GET") == 2
    assert value(both, "iocgis_tile_cache_total", result="hit") == 2
    # a process that has not exited in the store's eyes still counts in the live sums
    assert value(both, "iocgis_pool_connections", pool="iocgis-requests", state="in_use") == 4
    _python(f"from iocgis.ops import metrics; metrics.worker_exited({pids[0]})", multiproc_dir)
    one = samples(_python(scrape, multiproc_dir))
    assert value(one, "iocgis_pool_connections", pool="iocgis-requests", state="in_use") == 2
    assert value(one, "iocgis_tile_cache_total", result="hit") == 2  # counters stay


def test_a_wrong_log_format_is_named(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("IOCGIS_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError) as refused:
        get_settings.__wrapped__()  # the settings as a fresh process builds them
    assert refused.value.where == "IOCGIS_LOG_FORMAT"
    assert "IOCGIS_LOG_FORMAT" in refused.value.hint
