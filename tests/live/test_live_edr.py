"""OGC API - EDR over the stations' time series (live/edr.py): position, area and items queries
with datetime and parameter-name, CoverageJSON and GeoJSON, over real HTTP; bad input named;
a commune-limited caller sees its communes' stations only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from .conftest import A, LiveWorld

EDR = "/collections/iot.timeseries"
DAY = datetime(2026, 11, 10, tzinfo=UTC)  # a day no other live test writes
# (station, parameter) -> the value at hour h of DAY; below every alarm level (no alert)
SERIES = {("TV-A", "water_level"): lambda h: 0.5 + h / 10,
          ("TV-B", "water_level"): lambda h: 0.2 + h / 10,
          ("KK-A", "aqi"): lambda h: 40.0 + h}
UNITS = {"water_level": "m", "aqi": ""}
WINDOW = "2026-11-10T01:00:00Z/2026-11-10T03:00:00Z"


def _at(hour: int) -> str:
    return (DAY + timedelta(hours=hour)).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def series(world: LiveWorld) -> None:
    """Six hourly readings of each datastream on DAY, then a current one (so that no
    datastream is left with an old latest reading: nothing turns silent)."""
    now = datetime.now(UTC) - timedelta(minutes=30)
    batch = [{"station": s, "parameter": p, "time": _at(h), "value": f(h), "unit": UNITS[p]}
             for (s, p), f in SERIES.items() for h in range(6)]
    batch += [{"station": s, "parameter": p, "time": now.isoformat(), "value": f(0),
               "unit": UNITS[p]} for (s, p), f in SERIES.items()]
    answer = httpx.post(f"{world.server.url}/live/observations", json=batch, timeout=30,
                        headers={"X-Device-Key": world.keys["gw-http"]})
    assert answer.status_code == 200, answer.text
    assert not answer.json()["rejected"], answer.text


def _get(world: LiveWorld, path: str, as_: str | None = None, **params: str) -> httpx.Response:
    headers = {"X-API-Key": world.api_keys[as_]} if as_ else {}
    return httpx.get(f"{world.server.url}{EDR}{path}", params=params, headers=headers,
                     timeout=30)


def _coverages(answer: httpx.Response) -> dict[str, dict]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.cov+json")
    document = answer.json()
    assert document["type"] == "CoverageCollection"
    return {c["id"]: c for c in document["coverages"]}


def test_the_collection_names_its_queries_and_parameters(world: LiveWorld, series) -> None:
    document = _get(world, "").json()
    assert set(document["data_queries"]) == {"position", "area", "items"}
    assert {"water_level", "aqi", "rainfall"} <= set(document["parameter_names"])
    assert document["parameter_names"]["water_level"]["observedProperty"]["label"]["vi"] == \
        "Mực nước"


def test_position_gives_the_nearest_stations_readings_in_the_window(world: LiveWorld,
                                                                      series) -> None:
    near_a = "POINT(106.831 10.951)"  # TV-A is 150 m away, KK-A 1.5 km
    coverages = _coverages(_get(world, "/position", coords=near_a, datetime=WINDOW,
                                **{"parameter-name": "water_level"}))
    assert list(coverages) == ["TV-A"]
    coverage = coverages["TV-A"]
    assert coverage["domain"]["domainType"] == "PointSeries"
    assert coverage["domain"]["axes"]["t"]["values"] == [_at(1), _at(2), _at(3)]
    assert coverage["domain"]["axes"]["x"]["values"] == [106.83]
    assert coverage["ranges"]["water_level"]["values"] == pytest.approx([0.6, 0.7, 0.8])
    assert coverage["parameters"]["water_level"]["unit"]["symbol"] == "m"
    # the nearest station that has the parameter: KK-A for aqi
    coverages = _coverages(_get(world, "/position", coords=near_a, datetime=WINDOW,
                                **{"parameter-name": "aqi"}))
    assert list(coverages) == ["KK-A"]
    assert coverages["KK-A"]["ranges"]["aqi"]["values"] == [41.0, 42.0, 43.0]
    geojson = _get(world, "/position", coords=near_a, datetime=WINDOW, f="GeoJSON",
                   **{"parameter-name": "water_level"})
    assert geojson.headers["content-type"].startswith("application/geo+json")
    features = geojson.json()["features"]
    assert [(f["properties"]["observed_at"], f["properties"]["value"]) for f in features] == [
        (_at(1), pytest.approx(0.6)), (_at(2), pytest.approx(0.7)), (_at(3), pytest.approx(0.8))]
    assert features[0]["geometry"]["coordinates"] == [106.83, 10.95]


def test_area_gives_every_station_inside(world: LiveWorld, series) -> None:
    commune_a = "POLYGON((106.8 10.9,106.9 10.9,106.9 11,106.8 11,106.8 10.9))"
    coverages = _coverages(_get(world, "/area", coords=commune_a, datetime=_at(2),
                                **{"parameter-name": "water_level,aqi"}))
    assert set(coverages) == {"TV-A", "KK-A"}
    assert set(coverages["TV-A"]["ranges"]) == {"water_level"}
    assert coverages["KK-A"]["ranges"]["aqi"]["values"] == [42.0]
    assert coverages["TV-A"]["domain"]["axes"]["t"]["values"] == [_at(2)]


def test_items_list_the_stations_and_give_one_series(world: LiveWorld, series) -> None:
    listing = _get(world, "/items", **{"parameter-name": "water_level"})
    assert listing.status_code == 200, listing.text
    assert [f["id"] for f in listing.json()["features"]] == ["TV-A", "TV-B"]
    coverages = _coverages(_get(world, "/items/TV-B", datetime=f"{_at(4)}/..",
                                **{"parameter-name": "water_level"}))
    values = coverages["TV-B"]["ranges"]["water_level"]["values"]
    assert values[:2] == pytest.approx([0.6, 0.7])  # hours 4 and 5 (then the current one)
    assert _get(world, "/items/NO-SUCH").status_code == 404


@pytest.mark.parametrize(("params", "where", "named"), [
    ({"parameter-name": "temperature", "coords": "POINT(106.83 10.95)"}, "parameter-name",
     "temperature"),
    ({"parameter-name": "water_level"}, "coords", "coords is required"),
    ({"coords": "POINT(106.83)"}, "coords", "is not WKT"),
    ({"coords": "LINESTRING(106 10,107 11)"}, "coords", "takes a Point"),
    ({"coords": "POINT(106.83 10.95)", "datetime": "yesterday"}, "datetime", "yesterday"),
    ({"coords": "POINT(106.83 10.95)", "f": "xml"}, "f", "xml"),
    ({"coords": "POINT(106.83 10.95)", "parameter_name": "aqi"}, "parameter_name", "unknown"),
])
def test_bad_input_is_a_400_that_says_what(world: LiveWorld, series, params, where,
                                           named) -> None:
    answer = _get(world, "/position", **params)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["where"] == where and named in body["description"]
    if where == "parameter-name":
        assert "water_level" in body["hint"]  # what to give instead


def test_a_commune_scoped_caller_sees_only_its_communes(world: LiveWorld, series) -> None:
    province = "POLYGON((106 10,108 10,108 12,106 12,106 10))"
    everyone = _coverages(_get(world, "/area", coords=province, datetime=WINDOW,
                               **{"parameter-name": "water_level"}))
    assert set(everyone) == {"TV-A", "TV-B"}
    scoped = _coverages(_get(world, "/area", "l_scoped", coords=province, datetime=WINDOW,
                             **{"parameter-name": "water_level"}))
    assert set(scoped) == {"TV-A"}
    assert scoped["TV-A"]["properties"]["commune_code"] == A
    # next to TV-B: the nearest station this caller may see is TV-A
    near_b = _coverages(_get(world, "/position", "l_scoped", coords="POINT(106.95 10.80)",
                             datetime=WINDOW, **{"parameter-name": "water_level"}))
    assert list(near_b) == ["TV-A"]
    assert _get(world, "/items/TV-B", "l_scoped").status_code == 404
    listing = _get(world, "/items", "l_scoped").json()["features"]
    assert {f["id"] for f in listing} == {"TV-A", "KK-A"}


def test_the_collection_is_in_collections_for_an_independent_client(world: LiveWorld,
                                                                    series) -> None:
    from owslib.ogcapi.edr import EnvironmentalDataRetrieval

    listing = httpx.get(f"{world.server.url}/collections", params={"f": "json"}, timeout=30)
    assert listing.status_code == 200, listing.text
    entry = next(c for c in listing.json()["collections"] if c["id"] == "iot.timeseries")
    assert set(entry["data_queries"]) == {"position", "area", "items"}
    assert "water_level" in entry["parameter_names"]
    assert {link["href"].rsplit("/", 1)[-1] for link in entry["links"]
            if link["rel"] == "data"} == {"position", "area", "items"}
    # OWSLib finds EDR collections by their data links, then queries one
    client = EnvironmentalDataRetrieval(world.server.url, timeout=30)
    assert "iot.timeseries" in client.data()
    answer = client.query_data("iot.timeseries", "position", coords="POINT(106.831 10.951)",
                               datetime_=WINDOW)
    assert answer["type"] == "CoverageCollection"
    assert [c["id"] for c in answer["coverages"]] == ["TV-A"]
    assert answer["coverages"][0]["ranges"]["water_level"]["values"] == pytest.approx(
        [0.6, 0.7, 0.8])


def test_the_served_openapi_has_the_edr_paths_and_is_valid(world: LiveWorld) -> None:
    import jsonschema
    from schemathesis.specs.openapi.definitions import OPENAPI_30

    document = httpx.get(f"{world.server.url}/openapi", params={"f": "json"},
                         timeout=30).json()
    for query in ("", "/position", "/area", "/items", "/items/{station}"):
        assert f"{EDR}{query}" in document["paths"], query
    position = document["paths"][f"{EDR}/position"]["get"]
    assert {p["name"] for p in position["parameters"]} == {"coords", "datetime",
                                                           "parameter-name", "f"}
    names = next(p for p in position["parameters"] if p["name"] == "parameter-name")
    assert "water_level" in names["schema"]["pattern"]
    # the EDR paths against the OpenAPI 3.0 schema, in the served document's frame (the rest of
    # the document is the OGC module's: tests/api)
    ours = {**document, "paths": {p: v for p, v in document["paths"].items()
                                  if p.startswith(EDR)}}
    jsonschema.Draft4Validator(OPENAPI_30).validate(ours)


def test_a_caller_not_shown_the_layers_is_not_shown_the_collection(world: LiveWorld) -> None:
    from iocgis.access import Caller
    from iocgis.access.rules import Narrowing
    from iocgis.layers import get_registry
    from iocgis.live.edr import visible

    registry = get_registry()
    only_latest = Caller(name="agency", roles=frozenset({"analyst"}), narrowing=Narrowing(
        1, (("iot.latest", frozenset({"value"})),)))
    both = Caller(name="agency", roles=frozenset({"analyst"}), narrowing=Narrowing(
        1, (("iot.latest", frozenset({"value"})), ("iot.observations", frozenset({"value"})))))
    assert not visible(only_latest, registry) and visible(both, registry)
