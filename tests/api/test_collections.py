"""Landing page, conformance, collections: what the anonymous caller may see, from the registry."""

from __future__ import annotations

import httpx
import pytest

from iocgis.access import ANONYMOUS, visible_layers
from iocgis.layers import get_registry

from . import ogc_fixtures

HIDDEN = ("land.parcels", "housing.houses", "citizen.reports", "infra.substations")


def test_landing_page_links_to_the_api_parts(ogc: httpx.Client) -> None:
    body = ogc.get("/").json()
    rels = {link["rel"] for link in body["links"]}
    assert {"service-desc", "conformance", "data"} <= rels
    assert all(link["href"].startswith(str(ogc.base_url).rstrip("/")) for link in body["links"]
               if link["rel"] in ("data", "conformance"))
    assert "IOC" in body["title"]


def test_conformance_declares_features_crs_filter_and_records(ogc: httpx.Client) -> None:
    classes = set(ogc.get("/conformance").json()["conformsTo"])
    for expected in ("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                     "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
                     "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
                     "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
                     "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
                     "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
                     "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/core"):
        assert expected in classes
    assert not any("create-replace-delete" in c for c in classes)  # nothing is editable


def test_anonymous_sees_exactly_the_public_layers(ogc: httpx.Client) -> None:
    ids = {c["id"] for c in ogc.get("/collections").json()["collections"]}
    public = {layer.id for layer in visible_layers(ANONYMOUS)}
    # beside the layers: the catalogue and the EDR time series (iocgis.live.edr, of public
    # layers)
    assert ids == public | {"catalog", "iot.timeseries"}
    assert all(get_registry().get(i).sensitivity == "public"
               for i in ids - {"catalog", "iot.timeseries"})
    assert not ids & set(HIDDEN)


@pytest.mark.parametrize("layer_id", HIDDEN)
@pytest.mark.parametrize("suffix", ["", "/items", "/items/1", "/queryables", "/schema", "/tiles"])
def test_hidden_layers_are_404_everywhere(ogc: httpx.Client, layer_id: str, suffix: str) -> None:
    response = ogc.get(f"/collections/{layer_id}{suffix}")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "NotFound"


def test_hidden_layers_do_not_leak_into_openapi_or_html(ogc: httpx.Client) -> None:
    openapi = ogc.get("/openapi", params={"f": "json"}).text
    html = ogc.get("/collections", params={"f": "html"}).text
    for layer_id in HIDDEN:
        assert layer_id not in openapi
        assert layer_id not in html
    assert "reporter_phone" not in openapi


def test_collection_has_vietnamese_title_english_description_and_data_extents(ogc: httpx.Client) -> None:
    body = ogc.get("/collections/emergency.incidents").json()
    layer = get_registry().get("emergency.incidents")
    assert body["title"] == layer.title.vi
    assert body["description"] == layer.description.en
    assert "khẩn cấp" in body["keywords"]
    (x1, y1, x2, y2), = body["extent"]["spatial"]["bbox"]
    lons = [ogc_fixtures.incident_position(metres)[0] for _, metres, *_ in ogc_fixtures.INCIDENTS]
    assert x1 == pytest.approx(min(lons), abs=1e-6)
    assert x2 >= max(lons) and y1 <= ogc_fixtures.ORIGIN[1] <= y2
    interval = body["extent"]["temporal"]["interval"][0]
    assert interval[0].startswith("2025-0") and interval[1].startswith("2025-07-15")
    assert "http://www.opengis.net/def/crs/EPSG/0/5899" in body["crs"]
    assert body["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    english = ogc.get("/collections/emergency.incidents", params={"lang": "en"}).json()
    assert english["title"] == layer.title.en


def test_queryables_come_from_the_registry_without_personal_data(ogc: httpx.Client) -> None:
    response = ogc.get("/collections/emergency.incidents/queryables")
    assert response.status_code == 200
    properties = response.json()["properties"]
    layer = get_registry().get("emergency.incidents")
    assert set(properties) == {f.name for f in layer.fields if not f.pii} | {"geometry"}
    assert properties["kind"]["enum"][:2] == ["chay", "lu_lut"]
    assert properties["reported_at"]["format"] == "date-time"
    schema = ogc.get("/collections/emergency.incidents/schema").json()
    assert schema["properties"]["kind"]["title"] == "Loại sự cố"
    assert "reporter_phone" not in schema["properties"]


def test_non_spatial_layer_is_a_collection_too(ogc: httpx.Client) -> None:
    body = ogc.get("/collections/kpi.indicators/items").json()
    assert body["numberMatched"] == 1
    assert body["features"][0]["geometry"] is None
    assert body["features"][0]["properties"]["name"] == "Tăng trưởng GRDP"


def test_every_link_of_the_landing_page_answers(ogc: httpx.Client, ogc_server) -> None:  # noqa: ANN001
    links = ogc.get("/", params={"f": "json"}).json()["links"]
    assert {"service-desc", "conformance", "data"} <= {link["rel"] for link in links}
    for link in links:
        href = link["href"]
        assert href.startswith(ogc_server.url), href  # nothing points off the server
        response = ogc.get(href[len(ogc_server.url):] or "/")
        assert response.status_code == 200, (link["rel"], href, response.status_code)
