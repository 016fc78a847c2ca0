"""Review over HTTP, on a real server where approval applies: an officer's upload lands as
pending; GET /imports?status=pending, the diff and the map preview are for the submitter and
the stewards of the group only (404 for anyone else, 401/403 without an account or right);
the steward approves (the layer changes) or rejects with a reason, and the officer sees the
outcome; the review page does all of it in headless Chromium."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import psycopg
import pytest

from iocgis.importers import review
from iocgis.security import accounts, login
from iocgis.security.accounts import Actor
from iocgis.security.settings import SecuritySettings
from iocgis.settings import Settings
from iocgis.tiles.grid import TileAddress, lonlat_to_tile, mercator_to_lonlat

from ..conftest import LiveServer
from ..tiles.browser import chromium, new_page
from .importer_fixtures import BIEN_HOA, parcels, write_vector
from .test_import_derived import SURVEY, mapping_file, survey_zip
from .test_import_footprints import GEOD, expected_position, survey_point

PASSWORD = "Duyet-Du-Lieu-Nhap-2026!"


@dataclass(frozen=True)
class Person:
    name: str
    key: str


async def _person(url: str, name: str, roles: list[str], *, stewards: list[str] = (),
                  communes: tuple[str, ...] = ()) -> Person:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await accounts.create(conn, SecuritySettings(), Actor("pytest"), name=name, roles=roles,
                              password=PASSWORD, communes=communes)
        await conn.execute("UPDATE security.accounts SET must_change_password = false, "
                           "steward_groups = %s WHERE name = %s", (list(stewards), name))
        key, _ = await login.create_api_key(conn, Actor("pytest"), name, networks=["127.0.0.0/8"])
    return Person(name, key)


@pytest.fixture(scope="module")
def people(imp_url: str) -> dict[str, Person]:
    tag = str(int(time.time() * 1000) % 10_000_000)
    specs = {"officer": (["gis_officer"], [], ()),
             "steward": (["data_steward"], ["land"], ()),
             "other_steward": (["data_steward"], ["base"], ()),
             "housing_steward": (["data_steward"], ["housing"], ()),
             "local_steward": (["data_steward"], ["land"], ("26068",)),
             "viewer": (["viewer"], [], ())}
    return {role: asyncio.run(_person(imp_url, f"rv_{role}_{tag}", roles, stewards=groups,
                                      communes=communes))
            for role, (roles, groups, communes) in specs.items()}


@pytest.fixture(scope="module")
def server(review_settings: Settings) -> Iterator[LiveServer]:
    running = LiveServer(review_settings).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def no_pending_left(imp_conn):  # noqa: ANN001, ANN201
    yield
    from iocgis.layers import get_registry

    for left in review.listing(imp_conn):
        review.reject(imp_conn, get_registry(), left["import_id"],
                      review.Reviewer.operator("pytest"), "left by a test")


def _get(server: LiveServer, path: str, person: Person | None, **params: Any) -> httpx.Response:
    headers = {"X-API-Key": person.key} if person else {}
    return httpx.get(server.url + path, headers=headers, params=params, timeout=60)


def _post(server: LiveServer, path: str, person: Person | None, **body: Any) -> httpx.Response:
    headers = {"X-API-Key": person.key} if person else {}
    return httpx.post(server.url + path, headers=headers, json=body, timeout=60)


def _upload(server: LiveServer, path: Path, layer: str, person: Person,
            mapping: Path | None = None) -> dict[str, Any]:
    with ExitStack() as files:
        parts = {"file": (path.name, files.enter_context(path.open("rb")))}
        if mapping is not None:
            parts["mapping"] = (mapping.name, files.enter_context(mapping.open("rb")))
        answer = httpx.post(server.url + "/imports", headers={"X-API-Key": person.key},
                            data={"layer": layer}, files=parts, timeout=60)
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = _get(server, f"/imports/{answer.json()['id']}", person).json()
        if body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.2)
    raise AssertionError("the upload did not finish")


@pytest.fixture
def pending_parcels(run, server, people, tmp_path: Path) -> dict[str, Any]:
    """Five live parcels of 26041; an officer's upload: 2 changed, 1 added in 26068."""
    geoms, fields = parcels(5)
    run(write_vector(tmp_path / "cu.gpkg", geoms, fields), "land.parcels")
    geoms, fields = parcels(6)
    fields["commune_code"] = ["26041"] * 5 + ["26068"]
    fields["parcel_no"] = [1, 2, 3, 4, 5, 1]
    fields["land_use"] = ["ODT", "TMD", "TMD", "ODT", "ODT", "ONT"]
    fields["holder_name"] = ["Nguyễn Văn Ánh"] * 4 + ["Trần Thị Bé", "Lê Văn Cường"]
    done = _upload(server, write_vector(tmp_path / "moi.gpkg", geoms, fields), "land.parcels",
                   people["officer"])
    assert done["status"] == "pending", done
    return done


def test_who_sees_a_pending_import(server, people, pending_parcels) -> None:
    import_id = pending_parcels["import_id"]
    path = f"/imports/{import_id}/diff"
    assert _get(server, "/imports", None).status_code == 401
    assert _get(server, "/imports", people["viewer"]).status_code == 403
    for who in ("officer", "steward"):
        listed = _get(server, "/imports", people[who], status="pending").json()["imports"]
        assert [e["import_id"] for e in listed] == [import_id], who
    mine = _get(server, "/imports", people["officer"]).json()["imports"][0]
    assert (mine["may_decide"], mine["may_withdraw"]) == (False, True)
    theirs = _get(server, "/imports", people["steward"]).json()["imports"][0]
    assert (theirs["may_decide"], theirs["may_withdraw"]) == (True, False)
    assert theirs["diff"]["changed"] == 3 and theirs["diff"]["added"] == 1
    assert theirs["findings"] is not None
    assert _get(server, "/imports", people["other_steward"]).json()["imports"] == []
    refused = _get(server, path, people["other_steward"])
    assert refused.status_code == 404 and "under review" in refused.json()["description"]
    assert _get(server, "/imports/999999/diff", people["steward"]).status_code == 404
    assert _get(server, "/imports/review", None).status_code == 200  # the page itself


def test_the_diff_and_the_preview_follow_the_readers_plan(server, people,
                                                          pending_parcels) -> None:
    import_id = pending_parcels["import_id"]
    changed = _get(server, f"/imports/{import_id}/diff", people["steward"],
                   change="changed").json()["changes"]
    assert changed["total"] == 3
    by_parcel = {r["key"]["parcel_no"]: r for r in changed["rows"]}
    assert by_parcel[2]["fields"] == ["land_use"] and by_parcel[2]["after"] == {"land_use": "TMD"}
    # holder_name changed on parcel 5: personal data, not the steward's to see
    assert by_parcel[5]["fields"] == [] and by_parcel[5]["hidden_fields"] == 1
    assert "Trần Thị Bé" not in str(changed)
    local = _get(server, f"/imports/{import_id}/diff", people["local_steward"],
                 change="added").json()["changes"]
    assert [r["after"]["commune_code"] for r in local["rows"]] == ["26068"]
    assert _get(server, f"/imports/{import_id}/diff", people["local_steward"],
                change="changed").json()["changes"]["total"] == 0
    tile = lonlat_to_tile(*BIEN_HOA, 15)
    url = f"/imports/{import_id}/tiles/{tile.z}/{tile.x}/{tile.y}.mvt"
    shown = _get(server, url, people["steward"])
    assert shown.status_code == 200 and shown.headers["content-encoding"] == "gzip"
    features = mapbox_vector_tile.decode(shown.content)["land.parcels"]["features"]
    assert len(features) == 6  # the staged rows, not the five live ones
    assert not any("holder_name" in f["properties"] for f in features)
    assert _get(server, url, people["other_steward"]).status_code == 404
    assert _get(server, url, people["viewer"]).status_code == 403


def test_approve_and_reject_over_http(server, people, pending_parcels, imp_conn, run,
                                      tmp_path: Path) -> None:
    import_id = pending_parcels["import_id"]
    refused = _post(server, f"/imports/{import_id}/approve", people["officer"])
    assert refused.status_code == 403 and "approve right" in refused.json()["description"]
    local = _post(server, f"/imports/{import_id}/approve", people["local_steward"])
    assert local.status_code == 403 and "outside your communes" in local.json()["description"]
    approved = _post(server, f"/imports/{import_id}/approve", people["steward"])
    assert approved.status_code == 200, approved.text
    assert approved.json()["decided_by"] == people["steward"].name
    uses = dict(imp_conn.execute("SELECT parcel_no, land_use FROM land.parcels "
                                 "WHERE commune_code = '26041'").fetchall())
    assert uses[2] == "TMD" and uses[3] == "TMD"
    seen = _get(server, f"/imports/{import_id}", people["officer"]).json()
    assert seen["status"] == "loaded"
    assert seen["report"]["extra"]["review"]["decided_by"] == people["steward"].name
    # a second one, rejected with a reason the officer reads
    geoms, fields = parcels(2)
    second = _upload(server, write_vector(tmp_path / "lan2.gpkg", geoms, fields), "land.parcels",
                     people["officer"])
    assert _post(server, f"/imports/{second['import_id']}/reject", people["steward"]
                 ).status_code == 400  # no reason
    rejected = _post(server, f"/imports/{second['import_id']}/reject", people["steward"],
                     reason="Thiếu 4 thửa của tờ 1")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    outcome = _get(server, f"/imports/{second['import_id']}", people["officer"]).json()
    assert outcome["status"] == "rejected" and "Thiếu 4 thửa của tờ 1" in outcome["error"][
        "description"]
    listed = _get(server, "/imports", people["officer"], status="rejected").json()["imports"]
    assert listed[0]["reason"] == "Thiếu 4 thửa của tờ 1"
    assert imp_conn.execute("SELECT count(*) FROM land.parcels").fetchone()[0] == 6


def _tile_points(tile: TileAddress, body: bytes, layer: str) -> list[tuple[float, float]]:
    """The points of a layer in an MVT tile, back in lon/lat (to a tile pixel)."""
    xmin, ymin, xmax, ymax = tile.bounds_3857()
    features = mapbox_vector_tile.decode(body)[layer]
    extent = features["extent"]
    points = []
    for feature in features["features"]:
        assert feature["geometry"]["type"] == "Point", feature["geometry"]
        gx, gy = feature["geometry"]["coordinates"]
        points.append(mercator_to_lonlat(xmin + gx / extent * (xmax - xmin),
                                         ymin + gy / extent * (ymax - ymin)))
    return points


def test_the_communes_housing_survey_pending_previewed_and_approved(
        server, people, run, imp_conn, communes, state, tmp_path: Path) -> None:
    """The issue's file as the commune's officer uploads it (zipped Shapefile of house points,
    TCVN3 DBF without .cpg, VN-2000 / UTM 48N .prj without TOWGS84, TEN_CHU, DIA_CHI,
    LOAI_NHA, HO_NGHEO, no house id, no commune code) with a mapping naming only its fields:
    pending with the right diff and a preview of the staged points, live only once a steward
    of housing approves it on the review page."""
    mapping = mapping_file(tmp_path)
    run(survey_zip(tmp_path / "nam_truoc", SURVEY[:3], shape=survey_point), "housing.houses",
        mapping=mapping)  # last year's survey, live
    live = state("housing.houses")
    # this year's: Nguyễn Văn Minh is poor now, Lê Văn Đức is gone, Phạm Thị Hoa is new
    minh = ("Nguyễn Văn Minh", *SURVEY[0][1:3], "Có", SURVEY[0][4])
    hoa = ("Phạm Thị Hoa", "Khu phố 4, phường Trấn Biên", "Kiên cố", "Không", (106.85, 10.93))
    survey = (minh, SURVEY[1], hoa)
    archive = survey_zip(tmp_path / "nam_nay", survey, shape=survey_point)
    officer, steward = people["officer"], people["housing_steward"]
    done = _upload(server, archive, "housing.houses", officer, mapping=mapping)
    assert done["status"] == "pending", done
    import_id = done["import_id"]
    report = done["report"]
    assert (report["source"]["encoding"], report["source"]["crs"][:9]) == ("tcvn3", "EPSG:3405")
    assert {f: d["how"] for f, d in report["derived"].items()} == {
        "commune_code": "commune_from_location", "house_id": "key_hash"}
    assert state("housing.houses") == live  # nothing live yet

    (listed,) = _get(server, "/imports", steward, status="pending").json()["imports"]
    assert listed["import_id"] == import_id and listed["may_decide"] is True
    summary = listed["diff"]
    assert (summary["added"], summary["removed"], summary["changed"], summary["unchanged"]) == (
        1, 1, 1, 1)
    assert summary["fields"] == {"is_poor": 1}
    diff_path = f"/imports/{import_id}/diff"
    (changed,) = _get(server, diff_path, steward, change="changed").json()["changes"]["rows"]
    assert changed["fields"] == ["is_poor"]
    assert (changed["before"], changed["after"]) == ({"is_poor": False}, {"is_poor": True})
    (added,) = _get(server, diff_path, steward, change="added").json()["changes"]["rows"]
    assert added["after"]["commune_code"] == "26041" and added["after"]["is_poor"] is False
    assert "household_head" not in added["after"]  # personal data: not the steward's right
    (removed,) = _get(server, diff_path, steward, change="removed").json()["changes"]["rows"]
    assert removed["before"]["address"] == SURVEY[2][1]  # Lê Văn Đức's house

    # the map preview: the staged points through the tile path, where the file puts them
    tile = lonlat_to_tile(106.83, 10.94, 12)
    staged = [expected_position(*where) for *_, where in survey]
    assert all(lonlat_to_tile(*where, 12) == tile for where in staged)
    for who in (officer, steward):
        shown = _get(server, f"/imports/{import_id}/tiles/{tile}.mvt", who)
        assert shown.status_code == 200
        drawn = _tile_points(tile, shown.content, "housing.houses")
        assert len(drawn) == 3
        for where in staged:  # each within a tile pixel (about 10 m at zoom 12)
            assert min(GEOD.inv(*where, *point)[2] for point in drawn) < 10
    assert _get(server, f"/imports/{import_id}/tiles/{tile}.mvt",
                people["other_steward"]).status_code == 404

    refused = _post(server, f"/imports/{import_id}/approve", officer)
    assert refused.status_code == 403 and state("housing.houses") == live
    with chromium() as browser, new_page(browser) as page:  # the steward decides on the page
        _open_pending(page, server, steward, import_id)
        kinds = _until(page, "() => window.review.map.queryRenderedFeatures()"
                             ".filter(f => f.source === 'staged').map(f => f.geometry.type)")
        assert set(kinds) == {"Point"}  # the positions, drawn as circles
        page.click("#tabs button[data-kind='changed']")
        _until(page, "() => window.review.shown && window.review.shown.kind === 'changed'")
        assert page.locator("#diff tbody tr").count() == 1 and "is_poor" in page.inner_text(
            "#diff")
        assert state("housing.houses") == live
        page.click("#approve")
        assert _until(page, "() => window.review.outcome")["status"] == "approved"
    outcome = _get(server, f"/imports/{import_id}", officer).json()
    assert outcome["status"] == "loaded"
    assert outcome["report"]["extra"]["review"]["decided_by"] == steward.name
    rows = {r[0]: r[1:] for r in imp_conn.execute(
        "SELECT household_head, commune_code, is_poor, ST_X(geom), ST_Y(geom), "
        "footprint IS NULL FROM housing.houses")}
    assert set(rows) == {"Nguyễn Văn Minh", "Trần Thị Bích", "Phạm Thị Hoa"}
    assert rows["Nguyễn Văn Minh"][:2] == ("26068", True)
    assert rows["Phạm Thị Hoa"][:2] == ("26041", False)
    for head, *_, where in survey:
        *_, lon, lat, no_footprint = rows[head]
        assert GEOD.inv(lon, lat, *expected_position(*where))[2] < 0.1 and no_footprint


def _open_pending(page, server, steward, import_id: int) -> None:  # noqa: ANN001
    """The steward signs in on the review page, finds the one pending import and opens it."""
    page.goto(server.url + "/imports/review")
    page.fill("#username", steward.name)
    page.fill("#password", PASSWORD)
    page.click("#sign-in-submit")
    assert _until(page, "() => window.review.listed") == [import_id]
    page.click(f"#imports tbody tr[data-id='{import_id}']")
    _until(page, "() => window.review.selected !== null && window.review.mapReady")


def _until(page, script: str, timeout: float = 90) -> Any:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script)
        errors = page.evaluate("() => window.review ? window.review.errors : []")
        assert not errors, errors
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        time.sleep(0.2)


def test_the_review_page_in_headless_chromium(server, people, pending_parcels, imp_conn,
                                              artifacts_dir: Path) -> None:
    import_id = pending_parcels["import_id"]
    steward = people["steward"]
    with chromium() as browser, new_page(browser) as page:
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text)
                if "Content Security Policy" in m.text else None)
        _open_pending(page, server, steward, import_id)
        drawn = _until(page, "() => window.review.map.queryRenderedFeatures()"
                             ".filter(f => f.source === 'staged').length")
        assert drawn >= 1
        assert page.locator("#diff tbody tr").count() == 1  # one parcel added (26068)
        assert page.locator("#findings tbody tr").count() >= 1
        page.click("#tabs button[data-kind='changed']")
        _until(page, "() => window.review.shown && window.review.shown.kind === 'changed'")
        assert page.locator("#diff tbody tr").count() == 3
        assert "land_use" in page.inner_text("#diff")
        page.screenshot(path=str(artifacts_dir / "import_review_page.png"), full_page=True)
        page.click("#approve")
        outcome = _until(page, "() => window.review.outcome")
        assert outcome["status"] == "approved", outcome
        assert "approved" in page.inner_text("#outcome")
        assert not blocked, blocked
    assert review.get(imp_conn, import_id)["decided_by"] == steward.name
    assert imp_conn.execute("SELECT count(*) FROM land.parcels").fetchone()[0] == 6
