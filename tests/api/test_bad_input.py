"""Every kind of bad input of the issue: a 4xx with an OGC exception body saying what to fix,
and nothing reaching the database as text."""

from __future__ import annotations

import json
import math
import unicodedata

import httpx
import pytest

from . import ogc_fixtures

ITEMS = "/collections/emergency.incidents/items"
SQL = "1;DROP TABLE emergency.incidents;--"


def assert_ogc_error(response: httpx.Response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] and body["description"]
    for word in words:
        assert word in body["description"], body["description"]
    return body


@pytest.mark.parametrize("path, params, words", [
    ("/collections/no.such_layer", {}, ["unknown layer"]),
    ("/collections/no.such_layer/items", {}, ["unknown layer"]),
    ("/collections/'; DROP TABLE x; --/items", {}, ["unknown layer"]),
])
def test_unknown_collection_is_404(ogc: httpx.Client, path: str, params: dict, words: list[str]) -> None:
    assert_ogc_error(ogc.get(path, params=params), 404, *words)


@pytest.mark.parametrize("params, words", [
    # unknown property, sortby field, CRS
    ({"colour": "red"}, ["unknown parameter 'colour'"]),
    ({"properties": "kind,colour"}, ["unknown property 'colour'"]),
    ({"sortby": "colour"}, ["unknown property 'colour'", "sortby"]),
    ({"sortby": "-" + SQL}, ["unknown property"]),
    ({"crs": "EPSG:9999"}, ["unsupported coordinate system"]),
    ({"crs": "http://www.opengis.net/def/crs/EPSG/0/2154"}, ["unsupported coordinate system"]),
    ({"bbox": "106,10,107,11", "bbox-crs": "EPSG:27700"}, ["unsupported coordinate system"]),
    ({"bbox-crs": "EPSG:3405"}, ["without bbox"]),
    # malformed bbox
    ({"bbox": "106,10,107"}, ["3 numbers"]),
    ({"bbox": "106,10,181,11"}, ["longitude 181"]),
    ({"bbox": "107,10,106,11"}, ["minimum is above its maximum"]),
    ({"bbox": "106,a,107,11"}, ["not a number"]),
    ({"bbox": "106,10,107,nan"}, ["finite"]),
    ({"bbox": "106,10,107,11", "bbox-crs": "EPSG:4326"}, ["latitude", "outside -90..90"]),
    # limit and offset
    ({"limit": "0"}, ["limit=0 is out of range"]),
    ({"limit": "-5"}, ["out of range"]),
    ({"limit": str(10**9)}, ["limit=1000000000 is out of range"]),
    ({"limit": "ten"}, ["not a whole number"]),
    ({"offset": "-1"}, ["out of range"]),
    ({"limit": SQL}, ["not a whole number"]),
    ({"limit": "10", "offset": "1"} | {"offset": "2"}, []),  # (a valid one, kept as a control)
    # datetime and other typed parameters
    ({"datetime": "yesterday"}, ["RFC 3339"]),
    ({"datetime": "2025-08-01/2025-07-01"}, ["starts after it ends"]),
    ({"skipGeometry": SQL}, ["true or false"]),
    ({"severity": SQL}, ["not a valid integer"]),
    ({"resulttype": "everything"}, ["resulttype"]),
    ({"filter-lang": "sql"}, ["filter-lang"]),
    ({"filter-crs": "EPSG:3405"}, ["without a filter"]),
    ({"cursor": SQL}, ["not a whole number"]),
    # CQL2 that does not parse or names unknown properties
    ({"filter": "kind = "}, ["not valid CQL2 text", "column"]),
    ({"filter": "kind == 'chay'"}, ["not valid CQL2 text"]),
    ({"filter": "colour = 'red'"}, ["unknown property 'colour'"]),
    ({"filter": "commune_code = 72301"}, ["cannot compare"]),
    ({"filter": "severity LIKE 'a%'"}, ["LIKE needs text"]),
    ({"filter": f"kind = 'chay' OR 1=1; {SQL}"}, ["not valid CQL2 text"]),
    ({"filter": "kind = 'x'') OR TRUE --"}, ["not valid CQL2 text"]),
    ({"filter": "DWITHIN(geometry, POINT(106.8 10.9), 500, parsecs)"}, ["not valid CQL2 text"]),
    ({"filter": "DWITHIN(geometry, POINT(106.8 10.9), -5, meters)"}, ["out of range"]),
    ({"filter": "S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 0 0)))"}, ["malformed"]),
    ({"filter": "S_INTERSECTS(geometry, POINT(500 10))"}, ["outside longitude"]),
    ({"filter": "S_INTERSECTS(kind, POINT(106 10))"}, ["not a geometry"]),
    ({"filter": "T_AFTER(kind, TIMESTAMP('2025-01-01T00:00:00Z'))"}, ["not one"]),
    ({"filter": "reported_at > TIMESTAMP('2025-13-45T00:00:00Z')"}, ["not a valid timestamp"]),
    ({"filter": "ACCENTI(title) = 'a'"}, ["unsupported function"]),
    ({"filter": "pg_sleep(10) = 1"}, ["unsupported function"]),
    ({"filter": '{"op": "=", "args": [{"property": "kind"}]}', "filter-lang": "cql2-json"},
     ["takes 2 argument"]),
    ({"filter": "{not json", "filter-lang": "cql2-json"}, ["not JSON"]),
    ({"filter": "NOT (" * 2000 + "kind = 'a'" + ")" * 2000}, ["nested too deeply"]),
    ({"filter": " OR ".join(["kind = 'a'"] * 700)}, ["more than 1000 terms"]),
])
def test_bad_items_parameters_are_400(ogc: httpx.Client, params: dict, words: list[str]) -> None:
    response = ogc.get(ITEMS, params=params)
    if not words:
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.text[:300]
    body = assert_ogc_error(response, 400, *words)
    assert body.get("hint"), "the body says what to do"


def _json_filter(size: int) -> bytes:
    return json.dumps({"op": "=", "args": [{"property": "kind"}, "x" * size]}).encode()


def test_a_megabyte_filter_is_refused_before_parsing(ogc: httpx.Client) -> None:
    json_header = {"content-type": "application/json"}
    response = ogc.post(ITEMS, content=_json_filter(1024 * 1024), headers=json_header)
    assert response.status_code == 413 and response.json()["code"] == "PayloadTooLarge"
    assert_ogc_error(ogc.post(ITEMS, content=_json_filter(100_000), headers=json_header),
                     413, "characters")
    # a long but legitimate filter passes: a 40 kB polygon (2,000 vertices) through GET
    ring = [(106.82 + 0.01 * math.cos(2 * math.pi * i / 2000),
             10.95 + 0.01 * math.sin(2 * math.pi * i / 2000)) for i in range(2000)]
    wkt = ", ".join(f"{x:.7f} {y:.7f}" for x, y in [*ring, ring[0]])
    response = ogc.get(ITEMS, params={"filter": f"S_INTERSECTS(geometry, POLYGON(({wkt})))"})
    assert response.status_code == 200, response.text[:300]
    assert response.json()["numberMatched"] == 6  # within about 1.1 km of ORIGIN


def test_duplicate_parameters_are_refused(ogc: httpx.Client) -> None:
    assert_ogc_error(ogc.get(ITEMS + "?limit=1&limit=2"), 400, "more than once")


def test_sql_in_every_text_value_is_only_a_value(ogc: httpx.Client, ogc_conn) -> None:  # noqa: ANN001
    for params in ({"kind": SQL}, {"q": SQL}, {"filter": f"kind = '{SQL}'"},
                   {"filter": f"title LIKE '%{SQL}%'"}):
        response = ogc.get(ITEMS, params=params)
        assert response.status_code == 200, (params, response.text)
        assert response.json()["numberMatched"] == 0
    assert ogc_conn.execute("SELECT count(*) FROM emergency.incidents").fetchone()[0] > 0


def test_bad_single_item_and_page_parameters(ogc: httpx.Client) -> None:
    assert_ogc_error(ogc.get(ITEMS + "/1", params={"crs": "EPSG:1"}), 400, "unsupported")
    assert_ogc_error(ogc.get(ITEMS + "/1", params={"limit": "5"}), 400, "unknown parameter")
    assert_ogc_error(ogc.get("/collections", params={"bbox": "1,2,3,4"}), 400, "unknown parameter")
    assert ogc.get("/collections", params={"f": "pdf"}).status_code == 400
    assert ogc.get(ITEMS, params={"f": "pdf"}).status_code == 400
    assert ogc.post(ITEMS, content=b"kind = 'a'", headers={"content-type": "text/plain"}).status_code == 400


# --- issue 10: 500s that are now answers, and q=_ --------------------------------------------

def test_sortby_naming_a_field_twice_is_a_400(ogc: httpx.Client) -> None:
    for sortby in ("kind,kind", "kind,-kind", "-severity, severity"):
        body = assert_ogc_error(ogc.get(ITEMS, params={"sortby": sortby}), 400, "named twice")
        assert body["where"] == "sortby"


def test_q_searches_words_not_codes(ogc: httpx.Client) -> None:
    """``q=_`` matched almost every row: the LIKE escape was right, but q searched coded fields
    (``kind = 'dich_benh'``, ``status = 'da_xu_ly'``) whose machine codes hold underscores. q
    reads free text only; here the titles that spell a code (``Sự cố lu_lut tại …``)."""
    spelled = [code for code, _, kind, *_ in ogc_fixtures.INCIDENTS if "_" in kind]
    found = ogc.get(ITEMS, params={"q": "_", "limit": 100}).json()
    assert sorted(f["properties"]["incident_code"] for f in found["features"]) == sorted(spelled)
    assert found["numberMatched"] == len(spelled) < len(ogc_fixtures.INCIDENTS)
    assert ogc.get(ITEMS, params={"q": "%", "limit": 1}).json()["numberMatched"] == 0
    words = ogc.get(ITEMS, params={"q": "Ổ dịch", "resulttype": "hits"}).json()
    assert words["numberMatched"] == ogc_fixtures.EXTRA_INCIDENTS  # free text still searched


def test_decomposed_vietnamese_matches(ogc: httpx.Client) -> None:
    """Query text typed in NFD (macOS, some Vietnamese keyboards) matches the stored NFC."""
    def nfd(text: str) -> str:
        return unicodedata.normalize("NFD", text)

    title = "Sự cố chay tại phường Trấn Biên (SC-001)"
    assert nfd(title) != title
    for params in ({"filter": nfd("title LIKE '%Trấn Biên%'")},
                   {"filter": nfd(f"title = '{title}'")},
                   {"filter": json.dumps({"op": "=", "args": [{"property": "title"}, nfd(title)]}),
                    "filter-lang": "cql2-json"},
                   {"q": nfd("trấn biên")}, {"title": nfd(title)}):
        body = ogc.get(ITEMS, params={**params, "resulttype": "hits"}).json()
        expected = len(ogc_fixtures.INCIDENTS) if "%" in params.get("filter", "") or "q" in params \
            else 1
        assert body["numberMatched"] == expected, params


def test_bbox_on_a_collection_without_geometry_matches_every_row(ogc: httpx.Client) -> None:
    """Part 1 /req/core/fc-bbox-response C (documented in the README): all rows, not a 400."""
    response = ogc.get("/collections/kpi.indicators/items", params={"bbox": "106,10,107,11"})
    assert response.status_code == 200 and response.json()["numberMatched"] == 1
    assert ogc.get("/collections/kpi.indicators/items",
                   params={"bbox": "106,10,107"}).status_code == 400  # still checked
    undated = ogc.get("/collections/admin.communes/items", params={"datetime": "2025-07-01"})
    assert undated.status_code == 200 and undated.json()["numberMatched"] == 2


@pytest.fixture(scope="module")
def analyst_key(ogc_db_url: str, ogc_settings) -> str:  # noqa: ANN001
    from tests.security.security_helpers import _create, api_key_for, run_async

    run_async(_create(ogc_db_url, ogc_settings, "ogc_html_analyst", ["analyst"]))
    return api_key_for(ogc_db_url, "ogc_html_analyst")


def test_html_pages_of_internal_collections_for_a_signed_in_caller(
        ogc: httpx.Client, analyst_key: str, ogc_conn) -> None:  # noqa: ANN001
    """Were a jinja UndefinedError (pygeoapi caches the template configuration of the first
    level it renders, here the public one) and a ``truncate`` of an integer label (a parcel's
    ``parcel_no``): both 500s."""
    assert ogc.get("/collections/emergency.incidents", params={"f": "html"}).status_code == 200
    signed_in = {"X-API-Key": analyst_key}
    fid = ogc_conn.execute("SELECT min(fid) FROM land.parcels").fetchone()[0]
    for path in ("/collections/housing.houses", "/collections/land.parcels",
                 "/collections/citizen.reports", "/collections/land.parcels/items",
                 f"/collections/land.parcels/items/{fid}"):
        response = ogc.get(path, params={"f": "html"}, headers=signed_in)
        assert response.status_code == 200, (path, response.text[:300])
        assert response.headers["content-type"].startswith("text/html")
    parcel = ogc.get(f"/collections/land.parcels/items/{fid}", params={"f": "html"},
                     headers=signed_in).text
    assert "Nguyễn Văn A" not in parcel  # still no personal data without the right
    assert ogc.get("/collections/land.parcels", params={"f": "html"}).status_code == 404


def test_a_statement_over_its_time_limit_outside_the_runner_is_a_503_with_retry_after(
        ogc_settings) -> None:  # noqa: ANN001
    """A capability's own statement stopped by PostgreSQL's time limit gets the statement
    runner's answer from the one error table (not the database-away answer, not a 500)."""
    from starlette.routing import Route

    from iocgis.api.app import create_app

    from ..conftest import LiveServer

    async def over_limit(request):  # noqa: ANN001, ANN202 - a route of this test only
        async with request.app.state.iocgis.pool.connection() as conn, conn.transaction():
            await conn.execute("SET LOCAL statement_timeout = 1")
            await conn.execute("SELECT pg_sleep(1)")

    app = create_app(ogc_settings)
    app.router.routes.insert(0, Route("/test/over-limit", over_limit))
    server = LiveServer(ogc_settings, app=app).start()
    try:
        response = httpx.get(f"{server.url}/test/over-limit", timeout=30)
    finally:
        server.stop()
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "TemporarilyUnavailable"
    assert "time limit" in response.json()["description"]
    assert int(response.headers["retry-after"]) >= 1
