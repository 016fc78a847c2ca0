"""Sharing agreements end to end: created by the CLI and the admin API, read with the agency's
key over HTTP (features, tiles, queries), narrowed by the access plan to the agreement's layers,
fields and communes; refused at once when ended or revoked; counted exactly in the usage report."""

from __future__ import annotations

import gzip
import json
import math
import time
from datetime import date, timedelta

import httpx
import mapbox_vector_tile
import psycopg
import pytest

from ..security.security_helpers import bearer, cli, login
from .conftest import LAT, LON, A, B

PARCEL_FIELDS = ["commune_code", "sheet_no", "parcel_no", "area_m2", "holder_name"]


def _tile(z: int) -> tuple[int, int, int]:
    n = 2 ** z
    r = math.radians(LAT)
    return z, int((LON + 180) / 360 * n), int((1 - math.log(math.tan(r) + 1 / math.cos(r))
                                                / math.pi) / 2 * n)


def _create_by_cli(db_url: str, *extra: str) -> dict:
    today = date.today()
    done = cli(db_url, "sharing", "agreements", "create", "--agency", "Cục Thuế tỉnh Đồng Nai",
               "--purpose", "đối chiếu nghĩa vụ tài chính về đất đai",
               "--legal-basis", "Quy chế chia sẻ dữ liệu số 12/QC-UBND",
               "--starts", str(today - timedelta(days=1)),
               "--ends", str(today + timedelta(days=30)), "--json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def tax(sharing_db_url: str, sharing_server) -> dict:  # noqa: ANN001
    """The tax office's agreement: parcels of commune A with the holder's name, nothing else."""
    return _create_by_cli(sharing_db_url, "--layer", "land.parcels:" + ",".join(PARCEL_FIELDS),
                          "--commune", A)


@pytest.fixture(scope="module")
def admin_headers(sharing_server, sharing_admin, sharing_db_url) -> dict[str, str]:  # noqa: ANN001
    return bearer(login(sharing_server.url, sharing_admin, sharing_db_url)["access_token"])


def test_the_agreements_key_reads_only_its_layers_fields_and_communes(
        sharing_server, tax, parcel_fids) -> None:  # noqa: ANN001
    key = {"X-API-Key": tax["api_key"]}
    with httpx.Client(base_url=sharing_server.url, headers=key, timeout=60) as client:
        items = client.get("/collections/land.parcels/items", params={"f": "json"}).json()
        assert {f["properties"]["sheet_no"] for f in items["features"]} == {7701}
        props = items["features"][0]["properties"]
        assert sorted(props) == sorted(PARCEL_FIELDS)  # no land_use, address, certificate_no
        assert props["holder_name"] == "Lê Được Chia"  # personal data: the agreement grants it
        assert "Đường Chia Sẻ".lower() not in json.dumps(items, ensure_ascii=False).lower()
        assert client.get(f"/collections/land.parcels/items/{parcel_fids[B]}").status_code == 404
        mine = client.get(f"/collections/land.parcels/items/{parcel_fids[A]}", params={"f": "json"})
        assert mine.status_code == 200 and mine.json()["properties"]["sheet_no"] == 7701
        refused = client.get("/collections/land.parcels/items", params={"properties": "land_use"})
        assert refused.status_code == 400  # a field the agreement does not name does not exist
        for hidden in ("/collections/housing.houses/items", "/collections/housing.houses",
                       "/collections/admin.communes/items"):
            assert client.get(hidden).status_code == 404, hidden
        listed = {c["id"] for c in client.get("/collections", params={"f": "json"}).json()[
            "collections"]}
        assert "land.parcels" in listed and not listed & {"housing.houses", "admin.communes"}
        query = client.get("/query/radius", params={"lon": LON, "lat": LAT, "radius_m": 300,
                                                    "layers": "land.parcels", "f": "geojson"})
        assert query.status_code == 200, query.text
        found = query.json()["features"]
        assert {f["properties"]["sheet_no"] for f in found} == {7701}
        assert "land_use" not in found[0]["properties"]
        assert client.get("/query/radius", params={"lon": LON, "lat": LAT, "radius_m": 300,
                                                   "layers": "housing.houses"}).status_code == 404
        z, x, y = _tile(16)
        tile = client.get(f"/tiles/land/{z}/{x}/{y}.mvt")
        assert tile.status_code == 200
        raw = gzip.decompress(tile.content) if tile.content[:2] == b"\x1f\x8b" else tile.content
        features = mapbox_vector_tile.decode(raw)["land.parcels"]["features"]
        assert {f["id"] for f in features} == {parcel_fids[A]}
        assert set(features[0]["properties"]) <= {"sheet_no", "parcel_no", "area_m2"}
        assert "land_use" not in features[0]["properties"]  # a tile attribute not agreed
        # an agreement reads; it never imports, whatever its account's role
        assert client.post("/imports", json={}).status_code == 403
        assert client.get("/admin/accounts").status_code == 403


def test_personal_data_only_where_granted(sharing_server, admin_headers) -> None:  # noqa: ANN001
    today = date.today()
    body = {"agency": "Sở Xây dựng", "purpose": "quy hoạch", "legal_basis": "Điều 3.9",
            "starts_on": str(today), "ends_on": str(today + timedelta(days=5)),
            "layers": {"land.parcels": None}}
    with httpx.Client(base_url=sharing_server.url, timeout=60) as client:
        made = client.post("/admin/sharing/agreements", json=body, headers=admin_headers)
        assert made.status_code == 201, made.text
        key = {"X-API-Key": made.json()["api_key"]}
        items = client.get("/collections/land.parcels/items", headers=key).json()
        assert {f["properties"]["sheet_no"] for f in items["features"]} == {7701, 7702}
        assert "Lê" not in json.dumps(items, ensure_ascii=False)  # no field named: no PII
        assert client.get("/collections/land.parcels/items", headers=key,
                          params={"properties": "holder_name"}).status_code == 400
        # a layer whose personal data the registry does not allow to share: refused, clearly
        refused = client.post("/admin/sharing/agreements", headers=admin_headers, json={
            **body, "layers": {"housing.houses": ["house_id", "household_head"]}})
        assert refused.status_code == 400
        assert "household_head" in refused.json()["description"]
        for bad in ({"layers": {"no.such": None}}, {"ends_on": str(today - timedelta(days=2))},
                    {"layers": {"land.parcels": ["nope"]}}, {"agency": ""}):
            answer = client.post("/admin/sharing/agreements", headers=admin_headers,
                                 json={**body, **bad})
            assert answer.status_code == 400, (bad, answer.text)
        # API keys cannot administer sharing (a TOTP session is needed)
        assert client.get("/admin/sharing/agreements", headers=key).status_code == 403
        listed = client.get("/admin/sharing/agreements", headers=admin_headers).json()
        assert made.json()["agreement"]["id"] in [a["id"] for a in listed["agreements"]]


def _create_by_api(sharing_server, admin_headers, layers: dict) -> dict:  # noqa: ANN001
    today = date.today()
    made = httpx.post(f"{sharing_server.url}/admin/sharing/agreements", headers=admin_headers,
                      json={"agency": "Công an tỉnh", "purpose": "phòng cháy",
                            "legal_basis": "Điều 3.9", "starts_on": str(today),
                            "ends_on": str(today + timedelta(days=3)), "layers": layers})
    assert made.status_code == 201, made.text
    return {**made.json()["agreement"], "api_key": made.json()["api_key"]}


def test_an_ended_or_revoked_agreements_key_is_refused_at_once(
        sharing_server, sharing_db_url, admin_headers) -> None:  # noqa: ANN001
    ended, revoked = (_create_by_api(sharing_server, admin_headers,
                                     {"land.parcels": ["sheet_no"]}) for _ in range(2))
    url = f"{sharing_server.url}/collections/land.parcels/items"
    for made in (ended, revoked):
        assert httpx.get(url, headers={"X-API-Key": made["api_key"]}).status_code == 200
    with psycopg.connect(sharing_db_url, autocommit=True) as conn:
        conn.execute("UPDATE sharing.agreements SET starts_on = current_date - 10, "
                     "ends_on = current_date - 1 WHERE id = %s", (ended["id"],))
    answer = httpx.post(f"{sharing_server.url}/admin/sharing/agreements/{revoked['id']}/revoke",
                        json={"reason": "hết nhu cầu"}, headers=admin_headers)
    assert answer.status_code == 200 and answer.json()["agreement"]["status"] == "revoked"
    for made in (ended, revoked):
        refused = httpx.get(url, headers={"X-API-Key": made["api_key"]})
        assert refused.status_code == 401, refused.text
        assert f"agreement {made['id']}" in refused.json()["description"]
    # its account cannot sign in with a password instead
    with psycopg.connect(sharing_db_url, autocommit=True) as conn:
        shown = conn.execute("SELECT status FROM security.accounts WHERE name = %s",
                             (ended["account"],)).fetchone()
    assert shown == ("active",)  # the agreement decides, not the account
    listing = httpx.get(f"{sharing_server.url}/admin/sharing/agreements", headers=admin_headers)
    statuses = {a["id"]: a["status"] for a in listing.json()["agreements"]}
    assert statuses[ended["id"]] == "ended" and statuses[revoked["id"]] == "revoked"


def _usage(sharing_server, admin_headers, agreement: int, requests: int) -> dict:  # noqa: ANN001
    """The report once the trail holds ``requests`` reads (the middleware writes each record
    after the answer has gone out)."""
    for _ in range(100):
        report = httpx.get(f"{sharing_server.url}/admin/sharing/agreements/{agreement}/usage",
                           headers=admin_headers).json()
        if report["totals"]["requests"] >= requests:
            return report
        time.sleep(0.05)
    return report


def test_the_usage_report_counts_exactly_what_was_read(
        sharing_server, sharing_db_url, admin_headers) -> None:  # noqa: ANN001
    made = _create_by_api(sharing_server, admin_headers, {"land.parcels": ["sheet_no",
                                                                          "parcel_no"]})
    key = {"X-API-Key": made["api_key"]}
    with httpx.Client(base_url=sharing_server.url, headers=key, timeout=60) as client:
        assert client.get("/collections/land.parcels/items").json()["numberReturned"] == 2
        assert client.get("/collections/land.parcels/items",
                          params={"sheet_no": 7701}).json()["numberReturned"] == 1
        for zoom in (16, 16, 17):
            tz, tx, ty = _tile(zoom)
            assert client.get(f"/tiles/land/{tz}/{tx}/{ty}.mvt").status_code == 200
        assert client.get("/collections/housing.houses/items").status_code == 404
    report = _usage(sharing_server, admin_headers, made["id"], 5)
    assert report["totals"] == {"requests": 5, "rows": 3, "tiles": 3}, report
    (parcels,) = report["layers"]
    assert parcels["layer"] == "land.parcels" and parcels["first_read"] <= parcels["last_read"]
    assert parcels["fields"] == ["sheet_no", "parcel_no"]  # what was shared, as agreed
    assert report["terms"]["layers"] == {"land.parcels": ["sheet_no", "parcel_no"]}
    assert report["terms"]["purpose"] == "phòng cháy" and report["terms"]["communes"] == []
    assert report["terms"]["legal_basis"] == "Điều 3.9"
    assert sum(day["requests"] for day in report["days"]) == 5
    shown = cli(sharing_db_url, "sharing", "agreements", "usage", str(made["id"]), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["totals"] == report["totals"]
    table = cli(sharing_db_url, "sharing", "agreements", "usage", str(made["id"]))
    assert table.returncode == 0, table.stderr
    assert "sheet_no, parcel_no" in table.stdout and "phòng cháy" in table.stdout
    with psycopg.connect(sharing_db_url, autocommit=True) as conn:
        trail = conn.execute("SELECT actor, details->>'agreement', layer FROM audit.events "
                             "WHERE action = 'data.read_shared' AND details->>'agreement' = %s",
                             (str(made["id"]),)).fetchall()
    assert len(trail) == 5 and {t[0] for t in trail} == {made["account"]}
    assert {t[2] for t in trail} == {"land.parcels"}
