"""pygeoapi through its supported seams: nothing of pygeoapi is replaced or written behind it.

What is left of pygeoapi-specific behaviour lives in ``iocgis.api.ogc.pygeoapi_seams``, pinned
to the version it was written for; these tests fail loudly when pygeoapi changes under it, when
our code replaces a pygeoapi function (at import or at start-up) and when it writes a private
attribute of a pygeoapi object while serving.
"""

from __future__ import annotations

import base64
import json
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pygeoapi
import pytest

from iocgis.access import ANONYMOUS, CURRENT_CALLER, Caller, level_caller
from iocgis.api.ogc import pygeoapi_seams
from iocgis.api.ogc.config import CATALOG_ID, pygeoapi_config
from iocgis.api.ogc.openapi import openapi_document, with_base_url
from iocgis.api.ogc.provider import LayerProvider
from iocgis.layers import get_registry

ROOT = Path(__file__).resolve().parents[2]
PYGEOAPI_DIR = str(Path(pygeoapi.__file__).resolve().parent)
INCIDENTS = "/collections/emergency.incidents/items"
# Paths that run every kind of pygeoapi handler and provider the server uses.
SERVED = ["/", "/?f=html", "/conformance", "/openapi", "/collections", "/collections?f=html",
          "/collections/emergency.incidents", "/collections/emergency.incidents/queryables",
          "/collections/emergency.incidents/schema", f"{INCIDENTS}?limit=2",
          f"{INCIDENTS}?limit=2&f=html", f"{INCIDENTS}?limit=2&f=csv",
          f"{INCIDENTS}?limit=2&f=jsonld", f"{INCIDENTS}?limit=2&offset=2&filter=kind%3D%27chay%27",
          f"{INCIDENTS}/1", f"{INCIDENTS}/1?f=html", f"{INCIDENTS}/999999",
          "/collections/catalog/items?limit=3", "/collections/catalog/items/emergency.incidents",
          "/TileMatrixSets", "/collections/admin.communes/tiles",
          "/collections/admin.communes/tiles/WebMercatorQuad/metadata",
          "/collections/admin.communes/tiles/WebMercatorQuad/10/480/815?f=mvt"]


def test_the_seams_were_written_for_the_installed_pygeoapi() -> None:
    assert pygeoapi.__version__ == pygeoapi_seams.WRITTEN_FOR, (
        f"pygeoapi {pygeoapi.__version__} is installed; iocgis.api.ogc.pygeoapi_seams was "
        f"written for {pygeoapi_seams.WRITTEN_FOR}: check each of its items against the new "
        "version (to_json's escaping, the order of an items page's links, the landing page, "
        "the conformance classes, the loggers), then set WRITTEN_FOR")


# Runs in a fresh interpreter: pygeoapi's modules are loaded and recorded before anything of
# iocgis is imported, then the real app is built, started under uvicorn and asked SERVED.
_NOTHING_REPLACED = r'''
import base64, importlib, json, logging, pickle, pkgutil, sys
logging.disable(logging.CRITICAL)
import pygeoapi

for info in pkgutil.walk_packages(pygeoapi.__path__, "pygeoapi."):
    try:
        importlib.import_module(info.name)
    except Exception:  # optional back ends this machine does not have
        pass


def functions():
    seen = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "pygeoapi" or name.startswith("pygeoapi.")):
            continue
        for attr, value in list(vars(module).items()):
            if callable(value):
                seen[f"{name}.{attr}"] = id(value)
            if isinstance(value, type) and value.__module__ == name:
                for member, inner in list(vars(value).items()):
                    if callable(inner) or isinstance(inner, (property, classmethod, staticmethod)):
                        seen[f"{name}.{attr}.{member}"] = id(inner)
    return seen


before = functions()
import httpx
from tests.conftest import LiveServer

settings = pickle.loads(base64.b64decode(sys.argv[1]))
server = LiveServer(settings).start()
try:
    statuses = {path: httpx.get(server.url + path, timeout=60).status_code
                for path in json.loads(sys.argv[2])}
finally:
    server.stop()
after = functions()
replaced = sorted(name for name, ident in before.items() if after.get(name) != ident)
print(json.dumps({"replaced": replaced, "statuses": statuses, "checked": len(before)}))
'''


def test_no_pygeoapi_function_is_replaced_at_import_or_while_serving(ogc_settings) -> None:  # noqa: ANN001
    settings = base64.b64encode(pickle.dumps(ogc_settings)).decode()
    done = subprocess.run([sys.executable, "-c", _NOTHING_REPLACED, settings, json.dumps(SERVED)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["checked"] > 1000  # pygeoapi's modules were loaded before the app
    assert result["replaced"] == []
    assert all(status < 500 for status in result["statuses"].values()), result["statuses"]


def _pygeoapi_classes() -> list[type]:
    classes = []
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("pygeoapi"):
            continue
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == name and \
                    value.__setattr__ is object.__setattr__:
                classes.append(value)
    return classes


@pytest.fixture
def private_writes() -> Iterator[list[str]]:
    """Every write of a ``_private`` attribute of a pygeoapi object (our subclasses too) by code
    outside pygeoapi, while the test runs (the live server runs in this process)."""
    writes: list[str] = []

    def watched(obj: Any, name: str, value: Any) -> None:
        if name.startswith("_"):
            caller = sys._getframe(1).f_code.co_filename
            if not str(Path(caller).resolve()).startswith(PYGEOAPI_DIR):
                writes.append(f"{type(obj).__name__}.{name} written by {caller}")
        object.__setattr__(obj, name, value)

    classes = _pygeoapi_classes()
    assert any(c.__name__ == "APIRequest" for c in classes)
    for cls in classes:
        cls.__setattr__ = watched  # type: ignore[method-assign,assignment]
    try:
        yield writes
    finally:
        for cls in classes:
            del cls.__setattr__


def test_no_private_attribute_of_pygeoapi_is_written_while_serving(
        ogc: httpx.Client, private_writes: list[str]) -> None:
    statuses = {path: ogc.get(path).status_code for path in SERVED}
    statuses["POST items"] = ogc.post(INCIDENTS, content=b'{"op":"=","args":[{"property":"kind"},'
                                      b'"chay"]}', headers={"content-type": "application/json"}
                                      ).status_code
    assert statuses[f"{INCIDENTS}?limit=2"] == 200 and statuses["POST items"] == 200, statuses
    assert statuses[f"{INCIDENTS}/999999"] == 404
    assert private_writes == []


def test_each_host_name_gets_its_own_links(ogc: httpx.Client) -> None:
    """pygeoapi writes links from ``server.url``: the API object of each base URL has its own."""
    for host in ("iocgis.example.vn", "10.1.2.3:8443"):
        page = ogc.get(INCIDENTS, params={"limit": 1}, headers={"host": host})
        hrefs = [link["href"] for link in page.json()["links"]]
        assert hrefs and all(href.startswith(f"http://{host}/") for href in hrefs), hrefs
        assert f"<http://{host}/collections/emergency.incidents" in page.headers["link"]
        landing = ogc.get("/", headers={"host": host}).json()
        assert all(link["href"].startswith(f"http://{host}") for link in landing["links"])
        document = ogc.get("/openapi", headers={"host": host}).json()
        assert document["servers"][0]["url"] == f"http://{host}"


def test_the_openapi_document_of_another_base_url_is_the_generated_one() -> None:
    """``with_base_url`` sets what ``get_oas`` derives from the URLs (checked afresh)."""
    def config(base: str) -> dict[str, Any]:
        full = pygeoapi_config(get_registry(), {}, level="public", pool="test", base_url=base)
        keep = (CATALOG_ID, "emergency.incidents", "admin.communes")
        return {**full, "resources": {k: v for k, v in full["resources"].items() if k in keep}}

    token = CURRENT_CALLER.set(level_caller("public", "test"))
    try:
        first = openapi_document(config("http://a.example:8000"))
        second = openapi_document(config("https://ioc.dongnai.gov.vn/gis"))
    finally:
        CURRENT_CALLER.reset(token)
    assert with_base_url(first, config("https://ioc.dongnai.gov.vn/gis")) == second
    assert "a.example" not in json.dumps(with_base_url(first, config("https://x.vn")))


def test_a_provider_called_without_the_adapter_checks_with_the_same_parser(ogc_server) -> None:  # noqa: ANN001
    """pygeoapi's own arguments (its CQL2 parse tree too) go through the project's parser."""
    from pygeoapi.provider.base import ProviderInvalidQueryError
    from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

    definition = ogc_server.app.state.ogc.api_for(ANONYMOUS).config["resources"][
        "emergency.incidents"]["providers"][0]
    token = CURRENT_CALLER.set(Caller(name="admin", roles=frozenset({"admin"})))
    try:
        provider = LayerProvider(definition)
        page = provider.query(limit=100, filterq=parse_cql2_text("kind = 'chay'"),
                              sortby=[{"property": "incident_code", "order": "-"}])
        kinds = {f["properties"]["kind"] for f in page["features"]}
        assert kinds == {"chay"}
        codes = [f["properties"]["incident_code"] for f in page["features"]]
        assert codes == sorted(codes, reverse=True)
        with pytest.raises(ProviderInvalidQueryError):
            provider.query(limit=10, sortby=[{"property": "no_such_field", "order": "+"}])
    finally:
        CURRENT_CALLER.reset(token)


def test_pygeoapi_json_becomes_utf8_with_its_escaping_undone() -> None:
    from pygeoapi.util import to_json

    value = {"name": "Trường THCS (> 500 học sinh) <b>", "emoji": "😀 \\u0041 \" \n \x01",
             "Đồng Nai": [1.5, None, True]}
    text = pygeoapi_seams.utf8_json(to_json(value))
    assert json.loads(text) == value
    assert "Trường THCS (> 500 học sinh) <b>" in text and "😀" in text and "\\u00" in text
