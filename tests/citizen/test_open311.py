"""Open311 GeoReport v2 with hand-written requests shaped like the spec's examples
(https://wiki.open311.org/GeoReport_v2): services, POST a request with an api_key, GET the
requests and one request; errors as the spec's array of {code, description}."""

from __future__ import annotations

import httpx

from .citizen_fixtures import IN_COMMUNE, IN_WARD, REPORTER, SECRETS

SPEC_SERVICE_KEYS = {"service_code", "service_name", "description", "metadata", "type",
                     "keywords", "group"}
SPEC_REQUEST_KEYS = {"service_request_id", "status", "status_notes", "service_name",
                     "service_code", "description", "agency_responsible", "service_notice",
                     "requested_datetime", "updated_datetime", "expected_datetime", "address",
                     "address_id", "zipcode", "lat", "long", "media_url"}


def _post(client: httpx.Client, **fields: str) -> httpx.Response:
    # The spec's POST: application/x-www-form-urlencoded fields.
    return client.post("/open311/v2/requests.json", data=fields)


def test_services_list_every_category_in_vietnamese_and_english(clients) -> None:  # noqa: ANN001
    anonymous = clients["anonymous"]
    services = anonymous.get("/open311/v2/services.json").json()
    assert {s["service_code"] for s in services} >= {"ha_tang", "moi_truong", "an_ninh"}
    for service in services:
        assert set(service) == SPEC_SERVICE_KEYS
        assert service["metadata"] is False and service["type"] == "realtime"
    roads = next(s for s in services if s["service_code"] == "ha_tang")
    assert roads["service_name"] == "Hạ tầng giao thông" and roads["group"] == "Giao thông"
    english = anonymous.get("/open311/v2/services.json", params={"lang": "en"}).json()
    assert next(s for s in english if s["service_code"] == "ha_tang")["service_name"] == \
        "Transport infrastructure"
    definition = anonymous.get("/open311/v2/services/ha_tang.json").json()
    assert definition == {"service_code": "ha_tang", "attributes": []}
    missing = anonymous.get("/open311/v2/services/nope.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404 and missing.json()[0]["description"]


def test_post_needs_an_api_key(clients) -> None:  # noqa: ANN001
    lon, lat = IN_WARD
    response = _post(clients["anonymous"], service_code="ha_tang", lat=str(lat), long=str(lon),
                     description="Ổ gà lớn giữa đường, xe máy dễ ngã.")
    assert response.status_code == 401
    assert response.json()[0]["code"] == 401
    bad = _post(clients["anonymous"], api_key="iocgis_notakey", service_code="ha_tang",
                lat=str(lat), long=str(lon), description="Ổ gà lớn giữa đường.")
    assert bad.status_code == 401


def test_post_then_get_as_the_spec_shows(clients, keys) -> None:  # noqa: ANN001
    lon, lat = IN_COMMUNE
    created = _post(clients["anonymous"], api_key=keys["app"], service_code="moi_truong",
                    lat=str(lat), long=str(lon), address_string="Ấp 3, Xã Long Hưng",
                    email=REPORTER["email"], first_name="Nguyễn Thị", last_name="Bí Mật",
                    phone=REPORTER["phone"],
                    description="Rác thải đổ trộm ven đường, bốc mùi hôi nhiều ngày.")
    assert created.status_code == 200, created.text
    body = created.json()
    assert isinstance(body, list) and len(body) == 1
    request_id = body[0]["service_request_id"]
    assert request_id.startswith("PA-") and body[0]["account_id"] is None
    assert body[0]["service_notice"]
    one = clients["anonymous"].get(f"/open311/v2/requests/{request_id}.json")
    assert one.status_code == 200
    (found,) = one.json()
    assert set(found) == SPEC_REQUEST_KEYS
    assert found["status"] == "open" and found["service_code"] == "moi_truong"
    assert found["agency_responsible"] == "Sở Nông nghiệp và Môi trường"
    assert found["description"] is None  # not moderated yet: the text is not public
    assert found["address"] is None  # the address as sent stays internal
    # generalised: not the point sent, but within ~100 m of it
    assert (found["lat"], found["long"]) != (lat, lon)
    assert abs(found["lat"] - lat) < 0.001 and abs(found["long"] - lon) < 0.001
    listing = clients["anonymous"].get("/open311/v2/requests.json",
                                       params={"service_code": "moi_truong", "status": "open"})
    assert request_id in {r["service_request_id"] for r in listing.json()}
    closed = clients["anonymous"].get("/open311/v2/requests.json", params={"status": "closed"})
    assert request_id not in {r["service_request_id"] for r in closed.json()}
    by_id = clients["anonymous"].get("/open311/v2/requests.json",
                                     params={"service_request_id": request_id})
    assert [r["service_request_id"] for r in by_id.json()] == [request_id]
    for answer in (one, listing, by_id):
        assert not any(secret in answer.text for secret in SECRETS)


def test_bad_requests_are_spec_errors(clients, keys) -> None:  # noqa: ANN001
    lon, lat = IN_WARD
    cases = [
        {"service_code": "nope", "lat": str(lat), "long": str(lon), "description": "x" * 20},
        {"service_code": "ha_tang", "address_string": "12 Nguyễn Ái Quốc",
         "description": "x" * 20},
        {"service_code": "ha_tang", "lat": "10.95", "long": "106.95", "description": "x" * 20},
        {"service_code": "ha_tang", "lat": str(lat), "long": str(lon), "description": "ngắn"},
    ]
    for fields in cases:
        response = _post(clients["anonymous"], api_key=keys["app"], **fields)
        assert response.status_code == 400, (fields, response.text)
        error = response.json()[0]
        assert error["code"] == 400 and error["description"]
    wrong = clients["anonymous"].get("/open311/v2/requests.json", params={"status": "pending"})
    assert wrong.status_code == 400
