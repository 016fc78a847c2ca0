"""Approval before going live: an import of a group that needs approval stops at pending with
its quality report and a diff against the live layer (added, removed, changed with the
changed fields); a data steward of the group approves (the swap) or rejects with a reason;
both audited; four eyes; one pending import per layer; expiry; a stale diff is made again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import shapely
from psycopg import sql
from pydantic import ValidationError

from iocgis.errors import Forbidden, ImportFailed, InvalidInput
from iocgis.importers import ImportOptions, ImportReport, diff, import_path, review
from iocgis.importers.review import Reviewer
from iocgis.importers.settings import ImportSettings
from iocgis.layers import get_registry
from iocgis.settings import Settings

from .conftest import review_tables
from .importer_fixtures import BIEN_HOA, parcels, places, write_vector

LAND_STEWARD = Reviewer(name="steward_land", approves=True, groups=frozenset({"land"}))
BASE_STEWARD = Reviewer(name="steward_base", approves=True, groups=frozenset({"base"}))


@pytest.fixture(autouse=True)
def no_pending_left(imp_conn):  # noqa: ANN001, ANN201
    """A failed test leaves no pending import to block the next one's layer."""
    yield
    for left in review.listing(imp_conn):
        review.reject(imp_conn, get_registry(), left["import_id"], Reviewer.operator("pytest"),
                      "left by a test")


def submit(url: str, settings: Settings, path: Path, layer: str, **options: Any) -> ImportReport:
    """An import on a platform where approval applies (no auto-approve)."""
    options.setdefault("user", "officer_a")
    return import_path(path, layer, ImportOptions(**options), url=url, settings=settings)


def changed_parcels(tmp_path: Path) -> Path:
    """Parcels 1-3 and 6-7 of 26041: 2 gets another land use, 3 another shape, 1 the same
    shape listed from another vertex; 4 and 5 are gone."""
    geoms, fields = parcels(5)
    live = list(geoms)
    x, y = BIEN_HOA[0] + 10 * 0.0003, BIEN_HOA[1]
    new = [shapely.Polygon(list(live[0].exterior.coords)[2:-1] + list(live[0].exterior.coords)[:3]),
           live[1], shapely.box(*live[2].bounds).buffer(0.00005, join_style="mitre"),
           shapely.box(x, y, x + 0.0002, y + 0.0002),
           shapely.box(x + 0.0003, y, x + 0.0005, y + 0.0002)]
    fields = {k: [v[i] for i in (0, 1, 2, 0, 0)] for k, v in fields.items()}
    fields["parcel_no"] = [1, 2, 3, 6, 7]
    fields["land_use"] = ["ODT", "TMD", "ODT", "ODT", "ONT"]
    return write_vector(tmp_path / "thua_moi.gpkg", new, fields)


@pytest.fixture
def live_parcels(run, state, tmp_path: Path):  # noqa: ANN001, ANN201
    geoms, fields = parcels(5)
    run(write_vector(tmp_path / "thua_cu.gpkg", geoms, fields), "land.parcels")
    return state("land.parcels")


def test_pending_import_has_a_diff_and_changes_nothing_live(imp_url, review_settings, state,
                                                            imp_conn, live_parcels,
                                                            tmp_path: Path) -> None:
    report = submit(imp_url, review_settings, changed_parcels(tmp_path), "land.parcels")
    assert report.status == "pending"
    assert state("land.parcels") == live_parcels  # nothing went live
    row = imp_conn.execute("SELECT status FROM meta.imports WHERE id = %s",
                           (report.import_id,)).fetchone()
    assert row[0] == "pending"
    got = review.get(imp_conn, report.import_id)
    assert got["status"] == "pending" and got["submitted_by"] == "officer_a"
    summary = got["diff"]
    assert (summary["added"], summary["removed"], summary["changed"], summary["unchanged"]) == (
        2, 2, 2, 1)
    assert summary["fields"] == {"geometry": 1, "land_use": 1}
    assert report.as_dict()["extra"]["review"]["diff"]["added"] == 2
    layer = get_registry().get("land.parcels")
    columns = ("commune_code", "sheet_no", "parcel_no", "land_use", "area_m2")
    changed = review.changes(imp_conn, layer, report.import_id, "changed", columns=columns)
    by_parcel = {r["key"]["parcel_no"]: r for r in changed["rows"]}
    assert by_parcel[2]["fields"] == ["land_use"]
    assert by_parcel[2]["before"] == {"land_use": "ODT"} and by_parcel[2]["after"] == {
        "land_use": "TMD"}
    assert by_parcel[3]["fields"] == ["geometry"]
    removed = review.changes(imp_conn, layer, report.import_id, "removed", columns=columns)
    assert sorted(r["key"]["parcel_no"] for r in removed["rows"]) == [4, 5]
    assert "holder_name" not in removed["rows"][0]["before"]  # only the reader's fields
    added = review.changes(imp_conn, layer, report.import_id, "added", columns=columns)
    assert {r["after"]["parcel_no"]: r["after"]["land_use"] for r in added["rows"]} == {
        6: "ODT", 7: "ONT"}
    with pytest.raises(InvalidInput):
        review.changes(imp_conn, layer, report.import_id, "moved", columns=columns)
    review.reject(imp_conn, get_registry(), report.import_id, LAND_STEWARD, "thử")


def test_a_steward_approves_and_the_swap_happens_audited(imp_url, review_settings, state,
                                                          imp_conn, live_parcels,
                                                          tmp_path: Path) -> None:
    report = submit(imp_url, review_settings, changed_parcels(tmp_path), "land.parcels")
    registry = get_registry()
    with pytest.raises(Forbidden, match="needs the approve right"):
        review.approve(imp_conn, registry, report.import_id, BASE_STEWARD)
    with pytest.raises(Forbidden, match="four eyes"):
        review.approve(imp_conn, registry, report.import_id,
                       Reviewer(name="officer_a", approves=True, groups=None))
    assert state("land.parcels") == live_parcels
    done = review.approve(imp_conn, registry, report.import_id, LAND_STEWARD)
    assert done["status"] == "approved"
    rows = dict(imp_conn.execute("SELECT parcel_no, land_use FROM land.parcels").fetchall())
    assert rows == {1: "ODT", 2: "TMD", 3: "ODT", 6: "ODT", 7: "ONT"}
    count, _, version = state("land.parcels")
    assert count == 5 and version == live_parcels[2] + 1
    got = review.get(imp_conn, report.import_id)
    assert got["status"] == "approved" and got["decided_by"] == "steward_land"
    assert got["decided_at"] is not None and got["import_status"] == "loaded"
    assert got["report"]["extra"]["review"]["decided_by"] == "steward_land"
    assert review_tables(imp_conn, report.import_id) == (False, False)  # staging became the layer
    events = imp_conn.execute(
        "SELECT action, actor FROM audit.events WHERE target = %s AND action LIKE 'import.%%' "
        "ORDER BY seq", (str(report.import_id),)).fetchall()
    assert events == [("import.submit", "officer_a"), ("import.approve", "steward_land")]
    with pytest.raises(ImportFailed, match="is approved by steward_land"):
        review.approve(imp_conn, registry, report.import_id, LAND_STEWARD)


def test_reject_with_a_reason_and_one_pending_import_per_layer(imp_url, review_settings, state,
                                                               imp_conn, run, tmp_path: Path
                                                               ) -> None:
    geoms, fields = places(3)
    run(write_vector(tmp_path / "p.gpkg", geoms, fields), "base.places")
    before = state("base.places")
    geoms, fields = places(4, offset=0.02)
    path = write_vector(tmp_path / "p2.gpkg", geoms, fields)
    first = submit(imp_url, review_settings, path, "base.places")
    assert first.status == "pending"
    with pytest.raises(ImportFailed, match=f"import {first.import_id} of base.places .* is "
                                           "waiting for approval") as refused:
        submit(imp_url, review_settings, path, "base.places", user="officer_b")
    assert "iocgis imports show" in str(refused.value)
    with pytest.raises(ImportFailed, match="waiting for approval"):  # auto-approve too
        run(path, "base.places")
    dry = submit(imp_url, review_settings, path, "base.places", dry_run=True)
    assert dry.status == "dry_run"  # a dry run changes nothing: allowed meanwhile
    with pytest.raises(InvalidInput, match="needs a reason"):
        review.reject(imp_conn, get_registry(), first.import_id, BASE_STEWARD, "  ")
    done = review.reject(imp_conn, get_registry(), first.import_id, BASE_STEWARD,
                         "Thiếu điểm Khu dân cư số 5")
    assert done["status"] == "rejected"
    assert state("base.places") == before
    got = review.get(imp_conn, first.import_id)
    assert got["reason"] == "Thiếu điểm Khu dân cư số 5" and got["import_status"] == "rejected"
    assert review_tables(imp_conn, first.import_id) == (False, False)
    actor = imp_conn.execute("SELECT actor, details->>'reason' FROM audit.events WHERE target = %s "
                             "AND action = 'import.reject'", (str(first.import_id),)).fetchone()
    assert actor == ("steward_base", "Thiếu điểm Khu dân cư số 5")
    # the layer is free again; the submitter may withdraw their own
    second = submit(imp_url, review_settings, path, "base.places", user="officer_b")
    withdrawn = review.reject(imp_conn, get_registry(), second.import_id,
                              Reviewer(name="officer_b"), "gửi nhầm tệp")
    assert withdrawn["status"] == "withdrawn"


def test_a_pending_import_expires(imp_url, review_settings, imp_conn, run, state,
                                  tmp_path: Path) -> None:
    geoms, fields = places(2, offset=0.03)
    path = write_vector(tmp_path / "het_han.gpkg", geoms, fields)
    before = state("base.places")
    pending = submit(imp_url, review_settings, path, "base.places")
    assert review.get(imp_conn, pending.import_id)["expires_at"] > \
        review.get(imp_conn, pending.import_id)["submitted_at"]
    imp_conn.execute("UPDATE import_review.reviews SET expires_at = now() - interval '1 second' "
                     "WHERE import_id = %s", (pending.import_id,))
    assert pending.import_id not in [r["import_id"] for r in review.listing(imp_conn)]
    got = review.get(imp_conn, pending.import_id)
    assert got["status"] == "expired" and got["import_status"] == "expired"
    assert review_tables(imp_conn, pending.import_id) == (False, False)
    assert state("base.places") == before
    with pytest.raises(ImportFailed, match="is expired"):
        review.approve(imp_conn, get_registry(), pending.import_id, BASE_STEWARD)
    assert submit(imp_url, review_settings, path, "base.places").status == "pending"
    review.reject(imp_conn, get_registry(), review.listing(imp_conn, layer_id="base.places")[0][
        "import_id"], BASE_STEWARD, "dọn dẹp")


def test_the_expiry_is_configured(imp_url, review_settings, imp_conn, state,
                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """IOCGIS_IMPORTS_PENDING_EXPIRY (ISO 8601 or seconds) sets how long an import waits; a
    time shorter than the wait for the next look expires it there, audited."""
    monkeypatch.setenv("IOCGIS_IMPORTS_PENDING_EXPIRY", "PT3H")
    assert ImportSettings().pending_expiry == timedelta(hours=3)
    monkeypatch.setenv("IOCGIS_IMPORTS_PENDING_EXPIRY", "90")
    assert ImportSettings().pending_expiry == timedelta(seconds=90)
    monkeypatch.setenv("IOCGIS_IMPORTS_PENDING_EXPIRY", "0")
    with pytest.raises(ValidationError, match="pending_expiry"):
        ImportSettings()
    monkeypatch.delenv("IOCGIS_IMPORTS_PENDING_EXPIRY")

    geoms, fields = places(2, offset=0.04)
    path = write_vector(tmp_path / "ba_gio.gpkg", geoms, fields)
    three_hours = review_settings.model_copy(update={
        "imports": ImportSettings(pending_expiry=timedelta(hours=3))})
    pending = review.get(imp_conn, submit(imp_url, three_hours, path, "base.places").import_id)
    assert pending["expires_at"] - pending["submitted_at"] == timedelta(hours=3)
    review.reject(imp_conn, get_registry(), pending["import_id"], BASE_STEWARD, "thử")

    before = state("base.places")
    at_once = review_settings.model_copy(update={
        "imports": ImportSettings(pending_expiry=timedelta(microseconds=1))})
    gone = submit(imp_url, at_once, path, "base.places")
    assert gone.status == "pending"
    assert review.listing(imp_conn, layer_id="base.places") == []  # the next look expires it
    assert review.get(imp_conn, gone.import_id)["status"] == "expired"
    assert state("base.places") == before
    assert imp_conn.execute("SELECT actor, details->>'reason' FROM audit.events WHERE target = %s "
                            "AND action = 'import.expire'", (str(gone.import_id),)).fetchone() == (
        "iocgis", "not decided in time")


def test_a_diff_the_live_layer_moved_away_from_is_made_again(imp_url, review_settings, imp_conn,
                                                              run, state, tmp_path: Path) -> None:
    geoms, fields = places(3)
    run(write_vector(tmp_path / "goc.gpkg", geoms, fields), "base.places")
    fields["name"] = ["Khu dân cư số 1", "Tên mới", "Khu dân cư số 3"]
    pending = submit(imp_url, review_settings, write_vector(tmp_path / "moi.gpkg", geoms, fields),
                     "base.places")
    assert review.get(imp_conn, pending.import_id)["diff"]["changed"] == 1
    # someone changed the live layer meanwhile (as a rollback would)
    imp_conn.execute("UPDATE base.places SET name = 'Sửa tay' WHERE place_id = 'P1'")
    imp_conn.execute("UPDATE meta.layers SET data_version = data_version + 1 "
                     "WHERE id = 'base.places'")
    with pytest.raises(ImportFailed, match="the diff was made again"):
        review.approve(imp_conn, get_registry(), pending.import_id, BASE_STEWARD)
    assert review.get(imp_conn, pending.import_id)["diff"]["changed"] == 2
    assert state("base.places")[0] == 3
    review.approve(imp_conn, get_registry(), pending.import_id, BASE_STEWARD)
    names = dict(imp_conn.execute("SELECT place_id, name FROM base.places").fetchall())
    assert names == {"P1": "Khu dân cư số 1", "P2": "Tên mới", "P3": "Khu dân cư số 3"}


def test_a_steward_limited_to_communes_decides_only_on_their_rows(imp_url, review_settings,
                                                                   imp_conn, live_parcels,
                                                                   tmp_path: Path) -> None:
    geoms, fields = parcels(6)
    fields["commune_code"] = ["26041"] * 5 + ["26068"]
    fields["parcel_no"] = [1, 2, 3, 4, 5, 1]
    pending = submit(imp_url, review_settings, write_vector(tmp_path / "hai_xa.gpkg", geoms,
                                                            fields), "land.parcels")
    local = Reviewer(name="steward_26041", approves=True, groups=frozenset({"land"}),
                     communes=frozenset({"26041"}))
    with pytest.raises(Forbidden, match="1 rows outside your communes"):
        review.approve(imp_conn, get_registry(), pending.import_id, local)
    layer = get_registry().get("land.parcels")
    page = review.changes(imp_conn, layer, pending.import_id, "added",
                          columns=("commune_code", "parcel_no"), communes=("26041",))
    assert page["total"] == 0  # the other commune's new parcel is not theirs to see
    review.reject(imp_conn, get_registry(), pending.import_id, LAND_STEWARD, "hai xã")


def test_submit_and_auto_stop_or_publish_whatever_the_group(imp_url, review_settings, imp_conn,
                                                            imp_settings, state,
                                                            tmp_path: Path) -> None:
    geoms, fields = [shapely.MultiPolygon([shapely.box(106.8, 10.9, 106.9, 11.0)])], {
        "code": ["75"], "name": ["Tỉnh Đồng Nai"]}
    path = write_vector(tmp_path / "tinh.gpkg", geoms, fields)
    asked = submit(imp_url, review_settings, path, "admin.provinces", approval="submit")
    assert asked.status == "pending"  # admin needs no approval, but it was asked for
    review.reject(imp_conn, get_registry(), asked.import_id, Reviewer.operator("cli:root"), "thử")
    geoms, fields = places(2)
    auto = submit(imp_url, review_settings, write_vector(tmp_path / "a.gpkg", geoms, fields),
                  "base.places", approval="auto")
    assert auto.status == "loaded"
    installed = import_path(write_vector(tmp_path / "b.gpkg", geoms, fields), "base.places",
                            ImportOptions(), url=imp_url, settings=imp_settings)
    assert installed.status == "loaded"  # IOCGIS_IMPORTS_AUTO_APPROVE


def test_a_layer_without_a_key_is_compared_row_by_row(imp_conn) -> None:
    layer = get_registry().get("base.places").model_copy(update={"key": ()})
    imp_conn.execute("CREATE TEMP TABLE l_keyless (LIKE base.places INCLUDING DEFAULTS)")
    imp_conn.execute("CREATE TEMP TABLE s_keyless (LIKE base.places INCLUDING DEFAULTS)")
    rows = [(1, "P1", "A", "khu_dan_cu"), (2, "P2", "B", "khu_dan_cu"),
            (3, "P2", "B", "khu_dan_cu")]
    for table, picked in (("l_keyless", rows), ("s_keyless", [rows[0], rows[1],
                                                              (9, "P9", "C", "khu_dan_cu")])):
        for fid, pid, name, kind in picked:
            imp_conn.execute(sql.SQL("INSERT INTO {} (fid, place_id, name, kind, geom) VALUES "
                                     "(%s, %s, %s, %s, ST_Point(106.8, 10.9, 4326))").format(
                sql.Identifier(table)), (fid, pid, name, kind))
    summary = diff.compute(imp_conn, layer, sql.Identifier("l_keyless"),
                           sql.Identifier("s_keyless"), sql.Identifier("c_keyless"), "replace")
    assert (summary.added, summary.removed, summary.changed, summary.by_key) == (1, 1, 0, False)
    removed = imp_conn.execute("SELECT before->>'place_id' FROM c_keyless WHERE kind = 'removed'"
                               ).fetchone()
    assert removed == ("P2",)  # the second of two identical rows
    imp_conn.execute("DROP TABLE c_keyless")
