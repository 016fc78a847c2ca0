"""Callers limited to a commune, with and without the personal-data right, on every route that
returns rows, in every output format; and PostgreSQL returning nothing to a statement that
forgets the plan.

The routes come from the application (``test_matrix.discovered_paths``); each rule of the
matrix says whether its routes return rows. A rows route without requests below FAILS, so a
new endpoint cannot skip this check. Two parcels, two houses and two indicator values are
loaded here, one in the caller's commune (A) and one next to it in another commune (B), with
markers that appear in no other row: A's must come back, B's never.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass

import httpx
import mapbox_vector_tile
import psycopg
import pytest

from iocgis.api.app import create_app

from .security_helpers import api_key_for, insert_sample
from .test_matrix import LAT, LON, classify, discovered_paths

A, B = "26041", "26068"
NEAR = (f"POINT({LON} {LAT})", f"POINT({LON + 0.0004} {LAT + 0.0003})")
SQUARE = ("MULTIPOLYGON((({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0})))")


def _square(lon: float, lat: float, d: float = 0.0002) -> str:
    return SQUARE.format(x0=lon - d, y0=lat - d, x1=lon + d, y1=lat + d)


@dataclass(frozen=True)
class Marks:
    """What identifies the rows of one commune in any answer."""

    plain: tuple[str, ...]  # values any reader of the row sees
    personal: tuple[str, ...]  # personal data: only with the right
    fids: dict[str, int]


@pytest.fixture(scope="module")
def scoped_rows(db_url: str) -> dict[str, Marks]:
    marks = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        for commune, (lon, lat), sheet, area, holder, head in (
                (A, (LON, LAT), 8801, 1234.5, "Phạm Trong Xã", "Hồ Trong Xã"),
                (B, (LON + 0.0004, LAT + 0.0003), 8802, 6789.25, "Phạm Ngoài Xã",
                 "Hồ Ngoài Xã")):
            parcel = insert_sample(conn, "land.parcels", commune_code=commune, sheet_no=sheet,
                                   parcel_no=1, area_m2=area, holder_name=holder,
                                   address=f"Số {sheet} đường Phạm Vi",
                                   geom=_square(lon, lat))
            house = insert_sample(conn, "housing.houses", commune_code=commune,
                                  house_id=f"SCOPE-{sheet}", household_head=head,
                                  footprint=_square(lon, lat, 0.0001))
            conn.execute("INSERT INTO kpi.values (indicator_code, admin_code, period, value) "
                         "VALUES ('SCOPE_IND', %s, '2026-Q3', %s)", (commune, sheet / 100))
            # a station with a reading (live/edr.py finds stations in iot.latest)
            station = {"code": f"SCOPE-{sheet}-TRAM", "commune": commune, "x": lon, "y": lat}
            conn.execute("INSERT INTO iot.latest (station_code, parameter, value, unit, "
                         "observed_at, commune_code, geom) VALUES (%(code)s, 'water_level', "
                         "1.5, 'm', now(), %(commune)s, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), "
                         "4326))", station)
            conn.execute("INSERT INTO iot.observations (station_code, parameter, observed_at, "
                         "value, unit) VALUES (%(code)s, 'water_level', now(), 1.5, 'm')",
                         station)
            marks[commune] = Marks(plain=(str(sheet), f"SCOPE-{sheet}", str(area)),
                                   personal=(holder, head),
                                   fids={"land.parcels": parcel, "housing.houses": house})
        conn.execute("INSERT INTO kpi.indicators (code, name, sector, target, direction) VALUES "
                     "('SCOPE_IND', 'Chỉ tiêu phạm vi', 'kinh_te_xa_hoi', 100, 'higher_better')")
    return marks


@pytest.fixture(scope="module")
def scoped_keys(db_url: str, make_account) -> dict[str, str]:  # noqa: ANN001
    plain = make_account("analyst", communes=(A,), prefix="scopedplain")
    personal = make_account("analyst", pii=True, communes=(A,), prefix="scopedpii")
    return {"plain": api_key_for(db_url, plain.name), "pii": api_key_for(db_url, personal.name)}


def _tile(z: int, lon: float, lat: float) -> tuple[int, int, int]:
    import math

    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    r = math.radians(lat)
    y = int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
    return z, x, y


REGION = {"type": "Polygon", "coordinates": [[
    [LON - 0.01, LAT - 0.01], [LON + 0.01, LAT - 0.01], [LON + 0.01, LAT + 0.01],
    [LON - 0.01, LAT + 0.01], [LON - 0.01, LAT - 0.01]]]}
AT = {"lon": LON, "lat": LAT}
Z, X, Y = _tile(16, LON, LAT)


@dataclass(frozen=True)
class Ask:
    """One request of a rows route: what it returns rows of, and how to read them."""

    method: str
    path: str
    params: dict | None = None
    body: dict | None = None
    layer: str = "land.parcels"
    mvt: bool = False  # the answer is a vector tile: compare feature ids
    personal: bool = True  # the answer may carry personal fields (features, not totals)


def _formats(path: str, formats: tuple[str, ...], layer: str = "land.parcels",
             **params: object) -> list[Ask]:
    return [Ask("GET", path, {**params, "f": f}, layer=layer) for f in formats]


def asks(fids: dict[str, int]) -> dict[tuple[str, str], list[Ask]]:
    """Requests per rows route (method, template)."""
    parcels = "/collections/land.parcels"
    item = f"{parcels}/items/{fids['land.parcels']}"
    radius = {"lon": LON, "lat": LAT, "radius_m": 300}
    return {
        ("GET", "/collections/{collection_id}/items"):
            _formats(f"{parcels}/items", ("json", "html", "csv", "jsonld"))
            + _formats("/collections/housing.houses/items", ("json", "csv"), "housing.houses"),
        ("POST", "/collections/{collection_id}/items"): [
            Ask("POST", f"{parcels}/items", body={"op": ">", "args": [{"property": "sheet_no"},
                                                                       8800]})],
        ("GET", "/collections/{collection_id}/items/{item_id}"):
            _formats(item, ("json", "html", "jsonld")),
        ("GET", "/collections/{collection_id}/tiles/{tms}/{z}/{row}/{col}"): [
            Ask("GET", f"{parcels}/tiles/WebMercatorQuad/{Z}/{Y}/{X}", {"f": "mvt"}, mvt=True)],
        ("GET", "/tiles/{tileset}/{z}/{x}/{y}.{fmt}"): [
            Ask("GET", f"/tiles/land/{Z}/{X}/{Y}.mvt", mvt=True),
            Ask("GET", f"/tiles/housing/{Z}/{X}/{Y}.mvt", layer="housing.houses", mvt=True)],
        ("GET", "/query/point"): [
            Ask("GET", "/query/point", {**AT, "layers": "land.parcels", "tolerance_m": 200,
                                        "f": f}) for f in ("json", "csv", "geojson")],
        ("GET", "/query/radius"): [
            Ask("GET", "/query/radius", {**radius, "layers": "land.parcels,housing.houses",
                                         "group_by": "commune_code", "f": f})
            for f in ("json", "csv", "geojson")],
        ("POST", "/query/region"): [
            Ask("POST", "/query/region", {"layers": "land.parcels", "f": f}, body=REGION)
            for f in ("json", "csv", "geojson")],
        ("GET", "/query/admin/{code}"): [
            Ask("GET", "/query/admin/75", {"layers": "land.parcels", "f": f})
            for f in ("json", "csv", "geojson")],
        ("GET", "/query/admin"): [
            Ask("GET", "/query/admin", {"layer": "land.parcels", "agg": "count,sum:area_m2",
                                        "f": f}, personal=False)
            for f in ("json", "csv", "geojson")],
        ("GET", "/query/kpi"): [
            Ask("GET", "/query/kpi", {"admin": B, "f": f}, layer="kpi.values", personal=False)
            for f in ("json", "csv")],
        ("GET", "/query/kpi/alerts"): [
            Ask("GET", "/query/kpi/alerts", {"period": "2026-Q3", "f": f}, layer="kpi.values",
                personal=False) for f in ("json", "csv")],
        # Citizen reports: their own commune scope is tested in tests/citizen (reports in two
        # communes); here, that none of these answers carries the other commune's rows.
        ("GET", "/open311/v2/requests.json"): [Ask("GET", "/open311/v2/requests.json")],
        ("POST", "/open311/v2/requests.json"): [
            Ask("POST", "/open311/v2/requests.json", body={"service_code": "khac"})],
        ("GET", "/open311/v2/requests/{id}.json"): [
            Ask("GET", "/open311/v2/requests/PA-2026-000001.json")],
        ("GET", "/citizen/queue"): [Ask("GET", "/citizen/queue", {"unit": f"ubnd_{B}"})],
        ("GET", "/citizen/alerts"): [Ask("GET", "/citizen/alerts")],
        ("GET", "/citizen/cases/{code}"): [Ask("GET", "/citizen/cases/PA-2026-000001")],
        ("GET", "/citizen/cases/{code}/identity"): [
            Ask("GET", "/citizen/cases/PA-2026-000001/identity", {"purpose": "kiểm tra phạm vi"})],
        ("GET", "/citizen/stats"): [Ask("GET", "/citizen/stats", {"by": by}, personal=False)
                                    for by in ("unit", "commune")],
        ("GET", "/citizen/stats/kpi"): [
            Ask("GET", "/citizen/stats/kpi", {"period": "2026"}, personal=False)],
        **{("GET", path): [Ask("GET", path.replace("{code}", "SC-NONE").replace("{id}", "'TV'"),
                                {"state": "all"} if path == "/live/alerts" else None,
                                personal=False)]
           for path in ("/live/latest", "/live/freshness", "/live/alerts", "/live/events",
                        "/live/flood", "/live/incidents/{code}", "/sta/v1.1/Things",
                        "/sta/v1.1/Things({id})", "/sta/v1.1/Things({id})/Datastreams",
                        "/sta/v1.1/Datastreams")},
        **{("GET", f"/collections/iot.timeseries{tail}"): [
            Ask("GET", f"/collections/iot.timeseries{tail.replace('{station}', 'TV-NONE')}",
                {**params, "f": f}, personal=False)
            for f in (("GeoJSON",) if tail == "/items" else ("CoverageJSON", "GeoJSON"))]
           for tail, params in (
               ("/position", {"coords": f"POINT({LON} {LAT})"}),
               ("/area", {"coords": f"POLYGON(({LON - 0.01} {LAT - 0.01},{LON + 0.01} "
                                    f"{LAT - 0.01},{LON + 0.01} {LAT + 0.01},{LON - 0.01} "
                                    f"{LAT + 0.01},{LON - 0.01} {LAT - 0.01}))"}),
               ("/items", {}), ("/items/{station}", {}))},
        ("POST", "/live/incidents"): [
            Ask("POST", "/live/incidents", body={"kind": "chay", "title": "Cháy thử phạm vi",
                                                 "lon": LON, "lat": LAT}, personal=False)],
        **{(method, f"/sta/v1.1/Datastreams({{id}}){tail}"): [
            Ask(method, f"/sta/v1.1/Datastreams(1){tail}", body={} if method == "POST" else None,
                personal=False)]
           for method, tail in (("GET", ""), ("GET", "/Observations"),
                                ("POST", "/Observations"))},
        ("GET", "/scenarios/{name}"): [
            Ask("GET", "/scenarios/land", {"commune": B}, personal=False),
            Ask("GET", "/scenarios/planning_check",
                {"parcel": f"{B}/8802/1"}, personal=False),
            Ask("GET", "/scenarios/planning_lookup", {"parcel": f"{B}/8802/1"}, personal=False)],
        ("GET", "/planning/lookup"): [
            *(Ask("GET", "/planning/lookup", {"parcel": f"{B}/8802/1", "f": f}, personal=False)
              for f in ("json", "geojson")),
            Ask("GET", "/planning/lookup", {"parcel": f"{A}/8801/1"}),
            Ask("GET", "/planning/lookup", {"point": f"{LON},{LAT}", "f": "geojson"},
                personal=False)],
        # Open data: the same public file for every caller; the parcels are never in it.
        ("GET", "/open-data/{dataset}.{format}"): [
            Ask("GET", f"/open-data/{dataset}.{fmt}", personal=False)
            for dataset in ("admin.communes", "land.parcels") for fmt in ("csv", "geojson")],
        ("POST", "/planning/lookup"): [
            Ask("POST", "/planning/lookup", {"f": f}, body=REGION, personal=False)
            for f in ("json", "geojson")],
    }


def test_every_rows_route_is_asked_for(settings, scoped_rows) -> None:  # noqa: ANN001
    """Derived from the route list: a route whose rule says it returns rows must be here."""
    known = asks(scoped_rows[A].fids)
    missing = [f"{m} {p}" for m, p in discovered_paths(create_app(settings))
               if classify(p).rows and (m, p) not in known]
    assert not missing, ("routes returning rows without a commune-scope check: add requests "
                         f"to asks() in {__file__}: {missing}")


def _mvt_fids(body: bytes, layer: str) -> set[int]:
    raw = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
    decoded = mapbox_vector_tile.decode(raw)
    names = [n for n in decoded if n == layer or n == "default"]
    return {f["id"] for n in names for f in decoded[n]["features"]}


@pytest.mark.parametrize("who", ["plain", "pii"])
def test_a_commune_limited_caller_reads_only_its_commune_everywhere(
        live_server, scoped_rows, scoped_keys, who) -> None:  # noqa: ANN001
    mine, theirs = scoped_rows[A], scoped_rows[B]
    failures: list[str] = []
    checked = 0
    headers = {"X-API-Key": scoped_keys[who]}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=60) as client:
        for (method, _template), requests in asks(mine.fids).items():
            for ask in requests:
                response = client.request(ask.method, ask.path, params=ask.params,
                                          content=json.dumps(ask.body) if ask.body else None,
                                          headers={"Content-Type": "application/json"}
                                          if ask.body else None)
                label = f"{who} {method} {ask.path} {ask.params or ''}"
                checked += 1
                if response.status_code >= 500:
                    failures.append(f"{label}: {response.status_code} {response.text[:200]}")
                    continue
                if ask.mvt:
                    got = _mvt_fids(response.content, ask.layer) if response.content else set()
                    if theirs.fids[ask.layer] in got:
                        failures.append(f"{label}: the other commune's feature is in the tile")
                    if mine.fids[ask.layer] not in got:
                        failures.append(f"{label}: the caller's own feature is missing")
                    continue
                text = response.text
                for given in (ask.params or {}).values():  # an echo of the caller's own input
                    text = text.replace(str(given), "")
                leaked = [m for m in (*theirs.plain, *theirs.personal) if m in text]
                if leaked:
                    failures.append(f"{label}: the other commune's rows leaked: {leaked}")
                if ask.personal and who == "plain" and any(m in text for m in mine.personal):
                    failures.append(f"{label}: personal data without the right")
    assert checked >= 30
    assert not failures, "\n".join(failures)


def test_the_caller_sees_its_own_commune(live_server, scoped_rows, scoped_keys) -> None:  # noqa: ANN001
    """The other side of the check above: the caller's rows do come back (the test could
    otherwise pass on empty answers), with personal data only with the right."""
    mine = scoped_rows[A]
    for who in ("plain", "pii"):
        headers = {"X-API-Key": scoped_keys[who]}
        items = httpx.get(f"{live_server.url}/collections/land.parcels/items",
                          params={"sheet_no": 8801}, headers=headers, timeout=60)
        assert items.status_code == 200 and "8801" in items.text, items.text[:300]
        assert ("Phạm Trong Xã" in items.text) is (who == "pii")
        radius = httpx.get(f"{live_server.url}/query/radius", headers=headers, timeout=60,
                           params={"lon": LON, "lat": LAT, "radius_m": 300,
                                   "layers": "housing.houses"})
        assert "SCOPE-8801" in radius.text
        area = httpx.get(f"{live_server.url}/collections/iot.timeseries/area", headers=headers,
                         params={"coords": f"POLYGON(({LON - 0.01} {LAT - 0.01},{LON + 0.01} "
                                           f"{LAT - 0.01},{LON + 0.01} {LAT + 0.01},"
                                           f"{LON - 0.01} {LAT + 0.01},{LON - 0.01} "
                                           f"{LAT - 0.01}))"}, timeout=60)
        assert [c["id"] for c in area.json()["coverages"]] == ["SCOPE-8801-TRAM"], area.text
        other = httpx.get(f"{live_server.url}/collections/land.parcels/items/"
                          f"{scoped_rows[B].fids['land.parcels']}", headers=headers, timeout=60)
        assert other.status_code == 404  # as if it did not exist
        missing = httpx.get(f"{live_server.url}/collections/land.parcels/items/999999999",
                            headers=headers, timeout=60)
        assert missing.status_code == 404 and missing.json()["code"] == other.json()["code"]
        lookup = httpx.get(f"{live_server.url}/scenarios/planning_check", headers=headers,
                           params={"parcel": f"{B}/8802/1"}, timeout=60)
        absent = httpx.get(f"{live_server.url}/scenarios/planning_check", headers=headers,
                           params={"parcel": f"{B}/8899/1"}, timeout=60)
        assert lookup.status_code == absent.status_code == 404  # no existence oracle
        assert mine.fids["land.parcels"]


def test_a_statement_without_the_plan_returns_no_row(db_url: str, scoped_rows) -> None:  # noqa: ANN001
    """The serving role holds SELECT but no policy: forgetting the plan reads nothing."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        owner = conn.execute("SELECT count(*) FROM land.parcels").fetchone()[0]
        conn.execute("SET ROLE iocgis_api")
        forgot = conn.execute("SELECT count(*) FROM land.parcels").fetchone()[0]
        houses = conn.execute("SELECT count(*) FROM housing.houses").fetchone()[0]
        conn.execute("BEGIN")
        conn.execute("SELECT set_config('role', 'iocgis_analyst', true), "
                     "set_config('iocgis.communes', %s, true)", (A,))
        scoped = {r[0] for r in conn.execute("SELECT commune_code FROM land.parcels")}
        conn.execute("COMMIT")
    assert owner >= 2 and forgot == 0 and houses == 0
    assert scoped == {A}
