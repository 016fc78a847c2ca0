"""Every role × every registered path: allowed or denied, as the roles say.

The paths are discovered from the application as it is built now, so a route added later is
tested too: a path this file does not classify FAILS the test (add it to RULES below).
Denied means: 401 for an anonymous caller where sign-in is needed, 403 for a signed-in caller
without the right, and 404 for a layer the caller may not see (it never learns it exists).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from starlette.routing import Mount, Route

from iocgis.access import Caller, can_see
from iocgis.api.app import create_app
from iocgis.layers import get_registry

from .security_helpers import bearer, insert_sample, login

ROLES = ("anonymous", "viewer", "analyst", "gis_officer", "admin")
SAMPLE_LAYERS = {"public": "admin.communes", "internal": "land.parcels",
                 "restricted": "infra.substations"}
LON, LAT, ZOOM = 106.8243, 10.9447, 14


@dataclass(frozen=True)
class Rule:
    pattern: str  # regex over the route's path template
    kind: str  # open | layer | admin | import | auth
    rows: bool  # returns rows of layers: checked for commune-limited callers (test_commune_scope)
    missing_ok: bool = False  # a 404 for an allowed caller is fine (no such object exists)


# First match wins. Extend this table when a new kind of path appears; say whether it returns
# rows of layers (then test_commune_scope.asks() must ask it, or that test fails).
RULES: tuple[Rule, ...] = (
    Rule(r"^/(health|ready|openapi|conformance|favicon\.ico)?$", "open", rows=False),
    # Prometheus (iocgis/ops/http.py): the 'metrics' right, administrators only (their API key)
    Rule(r"^/metrics$", "admin", rows=False),
    Rule(r"^/TileMatrixSets(/\{tms\})?$", "open", rows=False),
    Rule(r"^/collections$", "open", rows=False),
    Rule(r"^/collections/\{collection_id\}/items(/\{item_id\})?$", "layer", rows=True),
    Rule(r"^/collections/\{collection_id\}/tiles/\{tms\}/\{z\}/", "layer", rows=True),
    Rule(r"^/collections/\{collection_id\}(/.*)?$", "layer", rows=False),
    Rule(r"^/tiles$", "open", rows=False),
    Rule(r"^/tiles/\{tileset\}\.json$", "layer", rows=False),
    Rule(r"^/tiles/\{tileset\}/", "layer", rows=True),
    Rule(r"^/styles/layers/\{layer\}\.qml$", "layer", rows=False),
    Rule(r"^/styles(/.*)?$", "open", rows=False, missing_ok=True),
    Rule(r"^/map(/.*)?$", "open", rows=False, missing_ok=True),
    Rule(r"^/query/rasters(/.*)?$", "open", rows=False, missing_ok=True),
    Rule(r"^/query/admin/\{code\}$", "open", rows=True, missing_ok=True),
    Rule(r"^/query/kpi(/.*)?$", "open", rows=True, missing_ok=True),
    Rule(r"^/query/(point|radius|region|admin)$", "open", rows=True),
    Rule(r"^/scenarios$", "open", rows=False),
    Rule(r"^/scenarios/\{name\}$", "open", rows=True, missing_ok=True),
    # Planning dossiers (planning_docs/): reads follow its rules (a draft is internal, 404 to
    # others), changes need the import right; the lookup returns parcel rows.
    Rule(r"^/planning/lookup$", "open", rows=True),
    Rule(r"^/planning/manage/", "import", rows=False, missing_ok=True),
    Rule(r"^/uploads/planning/", "import", rows=False, missing_ok=True),
    Rule(r"^/planning/(search|dossiers|upload)$", "open", rows=False),
    Rule(r"^/planning/(dossiers|documents|web)/\{(id|file)\}$", "open", rows=False,
         missing_ok=True),
    # A scan's map tiles (XYZ, TileJSON, OGC API - Tiles): the document's rule; not layer rows.
    Rule(r"^/planning/documents/\{id\}/(tiles\.json|tiles/.*|map/tiles.*)$", "open",
         rows=False, missing_ok=True),
    Rule(r"^/imports/review(/.*)?$", "open", rows=False, missing_ok=True),
    # Rows of an import under review, only to its submitter and its group's stewards, under
    # their plan (fields, communes): tests/importers/test_import_review_http.py.
    Rule(r"^/imports/\{id\}/(diff|approve|reject|tiles/.*)$", "import", rows=False,
         missing_ok=True),
    Rule(r"^/imports(/\{id\})?$", "import", rows=False, missing_ok=True),
    # Connectors (importers/connectors): the sources' state (no layer rows) for those who
    # import or approve, only sources of layers their plan shows; running one needs the
    # approve right (admin, a steward of the layer's group).
    Rule(r"^/sources/\{id\}/run$", "admin", rows=False, missing_ok=True),
    Rule(r"^/sources(/overview|/\{id\})?$", "import", rows=False, missing_ok=True),
    # Citizen reports (iocgis/citizen): Open311 and the public pages read the public layer
    # (POST requests.json authenticates the app by the api_key in its body, like a login);
    # officers' reads take the plan of citizen.reports (404 without it); handlers' actions need
    # the roles of imports (citizen/workflow.yaml handler_roles); identities the PII right.
    Rule(r"^/open311/v2/requests\.json$", "auth", rows=True),
    Rule(r"^/open311/v2/requests/\{id\}\.json$", "open", rows=True, missing_ok=True),
    Rule(r"^/open311/", "open", rows=False, missing_ok=True),
    Rule(r"^/citizen/cases/\{code\}/identity$", "admin", rows=True, missing_ok=True),
    Rule(r"^/citizen/(cases/\{code\}/(transitions|moderation)|sla/check)$", "import",
         rows=False, missing_ok=True),
    Rule(r"^/citizen/(queue|alerts|cases/\{code\}|stats|stats/kpi)$", "open", rows=True,
         missing_ok=True),
    Rule(r"^/(citizen|uploads/citizen)(/.*)?$", "open", rows=False, missing_ok=True),
    # Live data (live/): readings are written with a device key (like a login: no account),
    # read under the plan of iot.latest / iot.stations (communes); acting on alerts and
    # incidents needs the respond right (the import roles).
    Rule(r"^/live/observations$", "auth", rows=False),
    Rule(r"^/live/(alerts/\{id\}/ack|incidents/\{code\}/steps)$", "import", rows=False,
         missing_ok=True),
    Rule(r"^/live/incidents/\{code\}$", "open", rows=True, missing_ok=True),
    # reporting an incident (respond right; answers the new row under the caller's plan)
    Rule(r"^/live/incidents$", "import", rows=True, missing_ok=True),
    Rule(r"^/live/(latest|freshness|alerts|events|flood)$", "open", rows=True),
    Rule(r"^/live/rejections$", "open", rows=False),
    # OGC API - EDR over the stations' series (live/edr.py): iot.latest's and
    # iot.observations' plans (a commune-limited caller finds its communes' stations only)
    Rule(r"^/collections/iot\.timeseries$", "open", rows=False),
    Rule(r"^/collections/iot\.timeseries/items/\{station\}$", "open", rows=True,
         missing_ok=True),
    Rule(r"^/collections/iot\.timeseries/(position|area|items)$", "open", rows=True),
    # Reports and the dashboard (reports/): every route needs a signed-in caller (any role); a
    # record and its files are its generator's and the administrators' (another's is a 404).
    # A report's rows are read under its generator's plans when it is generated, so the files
    # serve no rows of their own (commune-limited generation: tests/reports).
    Rule(r"^/(dashboard|reports/page)$", "open", rows=False),
    Rule(r"^/dashboard/assets/\{file\}$", "open", rows=False, missing_ok=True),
    Rule(r"^/reports(/definitions|/jobs)?$", "signed_in", rows=False),
    Rule(r"^/reports/(jobs/\{id\}|\{id\}|\{id\}\.\{fmt\}|\{id\}/regenerate)$", "signed_in",
         rows=False, missing_ok=True),
    Rule(r"^/sta/v1\.1/(Observations|CreateObservations)$", "auth", rows=False),
    Rule(r"^/sta/v1\.1/Datastreams\(\{id\}\)/Observations$", "auth", rows=True,
         missing_ok=True),
    Rule(r"^/sta/v1\.1$", "open", rows=False),
    Rule(r"^/sta/v1\.1/(Things|Datastreams)(\(\{id\}\)(/Datastreams)?)?$", "open", rows=True,
         missing_ok=True),
    Rule(r"^/auth/(me)$", "open", rows=False),
    Rule(r"^/auth/(token|refresh|password|logout)$", "auth", rows=False),
    Rule(r"^/admin/", "admin", rows=False, missing_ok=True),
    # Open data (iocgis/sharing): the open layers' downloads as the anonymous caller, for
    # everyone alike (a commune limit does not apply: the files are public); the catalogue.
    Rule(r"^/open-data/catalog\.json$", "open", rows=False),
    Rule(r"^/open-data/\{dataset\}\.\{format\}$", "open", rows=True),
)


def _tile_xy(zoom: int) -> tuple[int, int]:
    n = 2 ** zoom
    x = int((LON + 180) / 360 * n)
    lat = math.radians(LAT)
    y = int((1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2 * n)
    return x, y


def discovered_paths(app) -> list[tuple[str, str]]:  # noqa: ANN001
    out = []

    def walk(routes, prefix: str = "") -> None:  # noqa: ANN001
        for route in routes:
            if isinstance(route, Mount):
                walk(route.routes or [], prefix + route.path)
            elif isinstance(route, Route):
                for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                    out.append((method, prefix + route.path))
            else:
                raise AssertionError(f"route of an unknown kind {route!r}: classify it")
    walk(app.routes)
    return out


def classify(path: str) -> Rule:
    for rule in RULES:
        if re.match(rule.pattern, path):
            return rule
    raise AssertionError(f"path {path!r} is not classified by the role x path matrix: add a "
                         "rule to RULES in tests/security/test_matrix.py")


def fill(path: str, layer_id: str | None, fids: dict[str, int]) -> str:
    x, y = _tile_xy(ZOOM)
    values = {
        "collection_id": layer_id, "tileset": layer_id, "layer": layer_id,
        "item_id": str(fids.get(layer_id or "", 1)), "tms": "WebMercatorQuad",
        "z": str(ZOOM), "x": str(x), "y": str(y), "row": str(y), "col": str(x), "fmt": "pbf",
        "name": "no-such-name", "code": "26041", "id": "999999999", "fontstack": "Noto Sans Regular",
        "range": "0-255", "file": "no-such-file", "file:path": "no-such-file",
        "key_id:int": "999999999", "agreement:int": "999999999",
        "dataset": "admin.communes", "format": "geojson",
        "action": "lock", "station": "TV-NONE",
    }

    def sub(match: re.Match) -> str:
        key = match.group(1)
        if key not in values or values[key] is None:
            raise AssertionError(f"no sample value for the parameter {{{key}}} of {path}: add "
                                 "one to fill() in tests/security/test_matrix.py")
        return values[key]
    return re.sub(r"\{([^}]+)\}", sub, path)


def expected(kind: str, role: str, layer_id: str | None) -> str:
    """'allow' or the denial status."""
    if kind in ("open", "auth"):
        return "allow"
    if kind == "signed_in":
        return "401" if role == "anonymous" else "allow"
    if kind == "admin":
        return "allow" if role == "admin" else ("401" if role == "anonymous" else "403")
    if kind == "import":
        return "allow" if role in ("gis_officer", "admin") else (
            "401" if role == "anonymous" else "403")
    caller = Caller(roles=frozenset({"public" if role == "anonymous" else role}))
    return "allow" if can_see(caller, get_registry().get(layer_id)) else "404"


@pytest.fixture(scope="module")
def sample_fids(db_url) -> dict[str, int]:  # noqa: ANN001
    with psycopg.connect(db_url, autocommit=True) as conn:
        # the parcel carries a holder's name: the personal-data checks below look for it
        return {layer_id: insert_sample(conn, layer_id, **(
            {"sheet_no": 9100, "holder_name": "Nguyễn Văn Mẫu"}
            if layer_id == "land.parcels" else {}))
            for layer_id in SAMPLE_LAYERS.values()}


def test_every_path_is_classified(settings) -> None:  # noqa: ANN001
    paths = discovered_paths(create_app(settings))
    assert any(p.startswith("/admin/") for _, p in paths)
    for _, path in paths:
        classify(path)


def test_role_path_matrix(live_server, role_headers, role_accounts, sample_fids, settings,
                          db_url) -> None:  # noqa: ANN001
    paths = discovered_paths(create_app(settings))
    # A fresh admin session: admin sessions end after 5 idle minutes.
    headers = {**role_headers, "admin": bearer(login(live_server.url, role_accounts["admin"],
                                                     db_url)["access_token"])}
    failures: list[str] = []
    checked = 0
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        for method, template in paths:
            rule = classify(template)
            layers = list(SAMPLE_LAYERS.values()) if rule.kind == "layer" else [None]
            for layer_id in layers:
                url = fill(template, layer_id, sample_fids)
                if "/tiles/{tms}/{z}/" in template:
                    url += "?f=mvt"  # pygeoapi's tile route answers 400 without a format named
                for role in ROLES:
                    want = expected(rule.kind, role, layer_id)
                    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
                    # Login endpoints take credentials in the body: sent without a token (a
                    # logout with the admin's token would end the session the matrix uses).
                    sent = {} if rule.kind == "auth" else headers[role]
                    response = client.request(method, url, headers=sent, **kwargs)
                    got = response.status_code
                    checked += 1
                    if got >= 500:
                        failures.append(f"{role:11} {method} {url}: {got} (server error) "
                                        f"{response.text[:300]}")
                    elif rule.kind == "auth":
                        pass  # 400/401 without credentials: only a 5xx is wrong here
                    elif want == "allow":
                        refused = {401, 403} | (set() if rule.missing_ok else {404})
                        # a layer route needs no parameter: a 400 there is a refusal too
                        if rule.kind == "layer" and method == "GET":
                            refused.add(400)
                        if got in refused:
                            failures.append(f"{role:11} {method} {url}: {got}, expected allowed")
                    elif str(got) != want:
                        failures.append(f"{role:11} {method} {url}: {got}, expected {want}")
                    if want == "404" and layer_id and layer_id.split(".")[1] in response.text \
                            and "unknown" not in response.text:
                        failures.append(f"{role:11} {method} {url}: the refusal names the layer")
    assert checked > 100
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", [
    "/query/point?lon=106.8243&lat=10.9447&layers=infra.substations",
    "/query/radius?lon=106.8243&lat=10.9447&radius=500&layers=infra.substations",
    "/collections/infra.substations/items?f=json",
    "/collections/infra%2Esubstations/items",
    "/collections/INFRA.SUBSTATIONS/items",
    "/collections/infra.substations/../land.parcels/items",
    "/tiles/infra.substations.json",
    "/styles/layers/infra.substations.qml",
    "/collections/land.parcels/items?properties=holder_name",
    "/query/point?lon=106.8243&lat=10.9447&layers=land.parcels&group_by=holder_name",
])
def test_path_tricks_do_not_reach_hidden_layers_or_personal_fields(
        live_server, role_headers, role_accounts, sample_fids, db_url, path) -> None:  # noqa: ANN001
    # the name is there to be found: an admin's TOTP session reads it
    admin = bearer(login(live_server.url, role_accounts["admin"], db_url)["access_token"])
    named = httpx.get(f"{live_server.url}/collections/land.parcels/items",
                      params={"sheet_no": 9100}, headers=admin, timeout=60)
    assert "Nguyễn Văn Mẫu" in named.text
    for role in ("anonymous", "viewer", "analyst"):
        response = httpx.get(live_server.url + path, headers=role_headers[role], timeout=60)
        assert response.status_code < 500, (role, path, response.status_code, response.text[:300])
        body = response.text
        assert "Nguyễn" not in body and "holder_name\":\"" not in body.replace(" ", ""), (role, path)
        if "substations" in str(response.url):  # ("..": the client asks for land.parcels)
            assert response.status_code in (400, 404), (role, path, response.status_code)
