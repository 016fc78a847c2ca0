"""Each kind of source against a real server on loopback: the first run loads, an unchanged
second run changes nothing (no new data version), a changed source gives the right diff, and a
broken source leaves the layer live, backs off, and after its cadence makes the layer stale
with one alert for its owner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from iocgis.importers.connectors import status
from iocgis.importers.connectors.run import Connectors, run_source, state_of
from iocgis.importers.staleness import stale_layers

from .conftest import CSV_STATIONS as CSV
from .conftest import TOKEN, data_version, layer_rows, put_commune, put_incident


def _broken(connectors: Connectors, source_id: str, **changes: Any) -> Connectors:
    """The same platform with one source's definition changed (a wrong address, say)."""
    source = connectors.source(source_id).model_copy(update=changes)
    return replace(connectors, sources={**connectors.sources, source_id: source})


def _alerts(conn: psycopg.Connection, source_id: str) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT owner, message, cleared_at FROM connectors.alerts WHERE "
                        "source_id = %s ORDER BY id", (source_id,)).fetchall()


def _audit(conn: psycopg.Connection, action: str, layer: str) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT actor, target, details FROM audit.events WHERE action = %s AND "
                        "layer = %s ORDER BY seq", (action, layer)).fetchall()


def _fails_then_stale(connectors: Connectors, broken: Connectors, source_id: str,
                      platform: psycopg.Connection, table: str, key: str,
                      mend: Callable[[], None] = lambda: None) -> None:
    """A broken source: the layer stays live, the next try backs off, and once the source has
    failed for longer than its cadence the layer is stale with one alert; a good run clears it."""
    source = connectors.source(source_id)
    before = layer_rows(platform, table, key)
    version = data_version(platform, source.layer)
    last_ok = state_of(platform, source_id)["last_success_at"]
    first = run_source(broken, source_id, now=last_ok + timedelta(minutes=1))
    assert first["status"] == "failed" and first["error"]
    state = state_of(platform, source_id)
    assert state["failures"] == 1 and state["last_error"] == first["error"]
    assert state["next_run_at"] == last_ok + timedelta(minutes=2)  # back-off: 1 min
    run_source(broken, source_id, now=last_ok + timedelta(minutes=3))
    assert state_of(platform, source_id)["next_run_at"] == last_ok + timedelta(minutes=5)
    assert layer_rows(platform, table, key) == before  # live and whole
    assert data_version(platform, source.layer) == version
    assert not _alerts(platform, source_id)  # not yet past its cadence
    assert source.layer not in {r["id"] for r in stale_layers(url=connectors.url)}
    late = last_ok + source.cadence + timedelta(hours=1)
    run_source(broken, source_id, now=late)
    run_source(broken, source_id, now=late + timedelta(minutes=30))
    alerts = _alerts(platform, source_id)
    assert len(alerts) == 1 and alerts[0][0] == source.owner and alerts[0][2] is None
    assert source.layer in alerts[0][1] and "stale" in alerts[0][1]
    stale = [a for a in _audit(platform, "source.stale", source.layer)
             if a[2]["source"] == source_id]
    assert len(stale) == 1 and stale[0][1] == source.owner
    stale_now = {r["id"]: r for r in stale_layers(url=connectors.url,
                                                  now=datetime.now(UTC) + source.cadence
                                                  + timedelta(hours=1))}
    assert stale_now[source.layer]["fed_by_source"]
    shown = {r["id"]: r for r in status.listing(platform, connectors)}  # the API's and page's
    assert shown[source_id]["stale_alert"]["owner"] == source.owner
    assert shown[source_id]["failures"] == 4 and shown[source_id]["last_error"]
    assert layer_rows(platform, table, key) == before
    mend()
    recovered = run_source(connectors, source_id, now=late + timedelta(hours=1))
    assert recovered["status"] == "unchanged", recovered
    assert _alerts(platform, source_id)[0][2] is not None  # cleared
    assert next(r for r in status.listing(platform, connectors)
                if r["id"] == source_id)["stale_alert"] is None
    assert state_of(platform, source_id)["failures"] == 0


def test_ogcapi_source_reads_another_platform(connectors: Connectors, platform, dept_url,
                                              dept_ogc) -> None:
    """admin.communes from the platform's own OGC API on another database; the admin group
    needs no approval, so changes go live at once."""
    first = run_source(connectors, "so_nv_xa_phuong")
    assert first["status"] == "loaded", first["error"]
    rows = layer_rows(platform, "admin.communes", "code")
    assert rows["26041"]["name"] == "Phường Trấn Biên" and len(rows) == 3
    version = data_version(platform, "admin.communes")

    again = run_source(connectors, "so_nv_xa_phuong")
    assert again["status"] == "unchanged", again
    assert again["diff"] == {"added": 0, "removed": 0, "changed": 0}
    assert data_version(platform, "admin.communes") == version  # tile caches stay warm
    status = platform.execute("SELECT status FROM meta.imports WHERE id = %s",
                              (again["import_id"],)).fetchone()[0]
    assert status == "unchanged"

    with psycopg.connect(dept_url, autocommit=True) as dept:
        put_commune(dept, "26068", "Phường Tam Hiệp (mới)", 106.83, population=2000)
        put_commune(dept, "26090", "Phường Hố Nai", 106.89)
        dept.execute("DELETE FROM admin.communes WHERE code = '26080'")
        dept.execute("UPDATE meta.layers SET data_version = data_version + 1 "
                     "WHERE id = 'admin.communes'")
    changed = run_source(connectors, "so_nv_xa_phuong")
    assert changed["status"] == "loaded", changed
    assert {k: changed["diff"][k] for k in ("added", "removed", "changed")} == \
        {"added": 1, "removed": 1, "changed": 1}
    assert data_version(platform, "admin.communes") == version + 1
    rows = layer_rows(platform, "admin.communes", "code")
    assert set(rows) == {"26041", "26068", "26090"}
    assert rows["26068"]["name"] == "Phường Tam Hiệp (mới)" and rows["26068"]["population"] == 2000

    _fails_then_stale(connectors, _broken(connectors, "so_nv_xa_phuong",
                                          url="http://127.0.0.1:9"),
                      "so_nv_xa_phuong", platform, "admin.communes", "code")


def test_wfs_source_pages_and_waits_for_approval(connectors: Connectors, platform, dept_data,
                                                 approve_run) -> None:
    dept_data.outlets[:] = [{"ma_cua_xa": f"CX-{i}", "nguon_tiep_nhan": "Sông Đồng Nai",
                             "co_cua_phai": i % 2 == 0, "lon": 106.82 + 0.002 * i,
                             "lat": 10.95} for i in range(1, 6)]
    first = run_source(connectors, "so_xd_cua_xa")
    assert first["status"] == "pending", first  # infra needs a steward's approval
    assert first["diff"]["added"] == 5
    assert not layer_rows(platform, "infra.drainage_outlets", "outlet_id")
    pages = [r for r in dept_data.requests if "GetFeature" in r and "STARTINDEX" in r]
    assert {p.split("STARTINDEX=")[1].split("&")[0] for p in pages} >= {"0", "2", "4"}
    approve_run(first)
    rows = layer_rows(platform, "infra.drainage_outlets", "outlet_id",
                      "outlet_id, receiving_water, has_gate, ST_X(geom) AS lon")
    assert len(rows) == 5 and rows["CX-2"]["has_gate"] is True
    assert rows["CX-3"]["lon"] == pytest.approx(106.826)  # lon/lat, not the GML's lat/lon
    version = data_version(platform, "infra.drainage_outlets")

    assert run_source(connectors, "so_xd_cua_xa")["status"] == "unchanged"
    assert data_version(platform, "infra.drainage_outlets") == version
    dept_data.flaky["wfs"] = 1  # busy once: GDAL's WFS driver asks again inside the run
    try:
        retried = run_source(_broken(connectors, "so_xd_cua_xa", http_retries=1), "so_xd_cua_xa")
        assert retried["status"] == "unchanged", retried["error"]
        assert dept_data.flaky["wfs"] == 0
    finally:
        dept_data.flaky.pop("wfs", None)

    dept_data.outlets[0]["nguon_tiep_nhan"] = "Sông Cái"
    del dept_data.outlets[4]
    changed = run_source(connectors, "so_xd_cua_xa")
    assert changed["status"] == "pending"
    assert {k: changed["diff"][k] for k in ("added", "removed", "changed")} == \
        {"added": 0, "removed": 1, "changed": 1}
    assert changed["diff"]["fields"] == {"receiving_water": 1}
    assert run_source(connectors, "so_xd_cua_xa")["status"] == "waiting"  # one pending at a time
    approve_run(changed)
    rows = layer_rows(platform, "infra.drainage_outlets", "outlet_id")
    assert set(rows) == {"CX-1", "CX-2", "CX-3", "CX-4"}
    assert rows["CX-1"]["receiving_water"] == "Sông Cái"

    dept_data.broken.add("wfs")
    try:
        _fails_then_stale(connectors, connectors, "so_xd_cua_xa", platform,
                          "infra.drainage_outlets", "outlet_id",
                          mend=lambda: dept_data.broken.discard("wfs"))
    finally:
        dept_data.broken.discard("wfs")


def test_arcgis_source_pages_incrementally_with_a_token(connectors: Connectors, platform,
                                                        dept_data, approve_run) -> None:
    def edited(day: int) -> int:
        return int(datetime(2026, 1, day, tzinfo=UTC).timestamp() * 1000)

    dept_data.trees[:] = [{"OBJECTID": i, "MA_CAY": f"CAY-{i:03d}", "LOAI_CAY": "Dầu rái",
                           "CHIEU_CAO": 10.0 + i, "NAM_TRONG": 2000 + i, "EditDate": edited(i),
                           "x": 106.82 + 0.001 * i, "y": 10.95} for i in range(1, 6)]
    first = run_source(connectors, "so_xd_cay_xanh")
    assert first["status"] == "pending" and first["diff"]["added"] == 5, first
    assert first["incremental_since"] is None  # the first pull is whole
    approve_run(first)
    assert len(layer_rows(platform, "infra.trees", "tree_id")) == 5
    queries = [r for r in dept_data.requests if r.startswith("/arcgis") and "query" in r]
    assert any("resultOffset=4" in q for q in queries)  # paged by resultRecordCount=2
    assert all("token=" in q for q in queries)  # from the secrets file (refused without)
    assert state_of(platform, "so_xd_cay_xanh")["high_water"].startswith("2026-01-05")
    version = data_version(platform, "infra.trees")

    again = run_source(connectors, "so_xd_cay_xanh")
    assert again["status"] == "unchanged" and again["incremental_since"].startswith("2026-01-05")
    assert "TIMESTAMP" in dept_data.requests[-1]
    assert data_version(platform, "infra.trees") == version

    dept_data.trees[1].update(CHIEU_CAO=25.5, EditDate=edited(20))
    dept_data.trees.append({"OBJECTID": 6, "MA_CAY": "CAY-006", "LOAI_CAY": "Sao đen",
                            "CHIEU_CAO": 8.0, "NAM_TRONG": 2020, "EditDate": edited(21),
                            "x": 106.83, "y": 10.96})
    changed = run_source(connectors, "so_xd_cay_xanh")
    assert changed["status"] == "pending", changed
    assert {k: changed["diff"][k] for k in ("added", "removed", "changed")} == \
        {"added": 1, "removed": 0, "changed": 1}  # an upsert of the two edited rows
    approve_run(changed)
    rows = layer_rows(platform, "infra.trees", "tree_id")
    assert len(rows) == 6 and float(rows["CAY-002"]["height_m"]) == 25.5

    dept_data.broken.add("arcgis")
    try:
        broken = run_source(connectors, "so_xd_cay_xanh",
                            now=datetime.now(UTC) + timedelta(minutes=1))
        assert broken["status"] == "failed" and TOKEN not in broken["error"]
    finally:
        dept_data.broken.discard("arcgis")
    dept_data.token = "another"  # a revoked token: the service refuses, the layer stays
    try:
        refused = run_source(connectors, "so_xd_cay_xanh",
                             now=datetime.now(UTC) + timedelta(minutes=5))
        assert refused["status"] == "failed" and TOKEN not in refused["error"]
    finally:
        dept_data.token = TOKEN
    assert len(layer_rows(platform, "infra.trees", "tree_id")) == 6
    dept_data.flaky["arcgis"] = 1  # busy once: GDAL asks again inside the run
    try:
        retried = run_source(_broken(connectors, "so_xd_cay_xanh", http_retries=1),
                             "so_xd_cay_xanh", now=datetime.now(UTC) + timedelta(minutes=10))
        assert retried["status"] == "unchanged", retried["error"]
        assert dept_data.flaky["arcgis"] == 0
    finally:
        dept_data.flaky.pop("arcgis", None)


def test_postgis_source_streams_a_remote_table(connectors: Connectors, platform, dept_url,
                                               approve_run) -> None:
    first = run_source(connectors, "so_ct_tram")
    assert first["status"] == "pending" and first["diff"]["added"] == 5, first
    approve_run(first)
    rows = layer_rows(platform, "infra.substations", "substation_id",
                      "substation_id, name, capacity_mva, ST_X(geom) AS lon, ST_Y(geom) AS lat")
    assert rows["TBA-01"]["name"] == "Trạm biến áp Biên Hòa 1"
    # VN-2000 / TM-3 107°45' through the official shift: the Biên Hòa check point
    assert rows["TBA-01"]["lon"] == pytest.approx(106.82432, abs=2e-6)
    assert rows["TBA-01"]["lat"] == pytest.approx(10.94469, abs=2e-6)
    version = data_version(platform, "infra.substations")

    again = run_source(connectors, "so_ct_tram")
    assert again["status"] == "unchanged", again
    assert data_version(platform, "infra.substations") == version

    with psycopg.connect(dept_url, autocommit=True) as dept:
        dept.execute("UPDATE so_cong_thuong.tram_bien_ap SET cong_suat = 63, cap_nhat = "
                     "'2026-03-01T00:00:00Z' WHERE ma_tram = 'TBA-03'")
    changed = run_source(connectors, "so_ct_tram")
    assert changed["status"] == "pending"
    assert changed["diff"]["changed"] == 1 and changed["diff"]["fields"] == {"capacity_mva": 1}
    assert changed["rows_in"] == 1  # only the edited row was pulled
    approve_run(changed)
    assert float(layer_rows(platform, "infra.substations",
                            "substation_id")["TBA-03"]["capacity_mva"]) == 63

    _fails_then_stale(connectors, _broken(connectors, "so_ct_tram",
                                          table="so_cong_thuong.khong_co"),
                      "so_ct_tram", platform, "infra.substations", "substation_id")


def test_file_url_source(connectors: Connectors, platform, dept_data, approve_run) -> None:
    dept_data.files["ben_tram.csv"] = CSV.encode("utf-8")
    first = run_source(connectors, "so_gt_ben_tram")
    assert first["status"] == "pending" and first["diff"]["added"] == 3, first
    approve_run(first)
    assert layer_rows(platform, "infra.public_stations", "station_id")["BT-2"]["name"] == \
        "Trạm xe buýt số 2"
    version = data_version(platform, "infra.public_stations")
    assert run_source(connectors, "so_gt_ben_tram")["status"] == "unchanged"
    assert data_version(platform, "infra.public_stations") == version

    dept_data.files["ben_tram.csv"] = (CSV.replace("Trạm xe buýt số 1,tram_xe_buyt",
                                                   "Bến xe Biên Hòa,ben_xe")
                                       + "BT-9,Trạm sạc Hố Nai,tram_sac,106.9,10.97\n"
                                       ).encode("utf-8")
    changed = run_source(connectors, "so_gt_ben_tram")
    assert {k: changed["diff"][k] for k in ("added", "removed", "changed")} == \
        {"added": 1, "removed": 0, "changed": 1}
    assert changed["diff"]["fields"] == {"kind": 1, "name": 1}
    approve_run(changed)

    dept_data.files["ben_tram.csv"] = CSV.encode("utf-8") * 400  # over max_bytes (20 000)
    too_big = run_source(connectors, "so_gt_ben_tram",
                         now=datetime.now(UTC) + timedelta(minutes=1))
    assert too_big["status"] == "failed" and "20,000 bytes" in too_big["error"]
    del dept_data.files["ben_tram.csv"]
    missing = run_source(connectors, "so_gt_ben_tram", now=datetime.now(UTC) + timedelta(minutes=3))
    assert missing["status"] == "failed" and "404" in missing["error"]
    assert len(layer_rows(platform, "infra.public_stations", "station_id")) == 4


def test_ogcapi_source_pulls_incrementally_by_datetime(connectors: Connectors, platform,
                                                        dept_url, approve_run) -> None:
    """An OGC API collection with a temporal property: after a whole first pull, a run asks
    only ``datetime=<newest seen>/..`` and upserts what comes; a whole pull (``--full``)
    brings what the interval cannot see (an older row's edit)."""
    with psycopg.connect(dept_url, autocommit=True) as dept:
        for day in (1, 2, 3):
            put_incident(dept, f"SC-{day}", day)
    first = run_source(connectors, "so_pccc_su_co")
    assert first["status"] == "pending" and first["diff"]["added"] == 3, first
    assert first["incremental_since"] is None
    approve_run(first)
    assert state_of(platform, "so_pccc_su_co")["high_water"].startswith("2026-11-03T08:00")
    version = data_version(platform, "emergency.incidents")

    again = run_source(connectors, "so_pccc_su_co")
    assert again["status"] == "unchanged", again
    assert again["incremental_since"].startswith("2026-11-03T08:00")
    assert again["rows_in"] == 1  # the server filtered: only the newest second came again
    assert data_version(platform, "emergency.incidents") == version

    with psycopg.connect(dept_url, autocommit=True) as dept:
        put_incident(dept, "SC-5", 5)
        put_incident(dept, "SC-1", 1, status="da_xu_ly")  # older than the interval
        dept.execute("UPDATE meta.layers SET data_version = data_version + 1 "
                     "WHERE id = 'emergency.incidents'")
    newer = run_source(connectors, "so_pccc_su_co")
    assert newer["status"] == "pending" and newer["rows_in"] == 2, newer
    assert {k: newer["diff"][k] for k in ("added", "removed", "changed")} == \
        {"added": 1, "removed": 0, "changed": 0}
    approve_run(newer)
    rows = layer_rows(platform, "emergency.incidents", "incident_code")
    assert set(rows) == {"SC-1", "SC-2", "SC-3", "SC-5"} and rows["SC-1"]["status"] == "moi"
    assert state_of(platform, "so_pccc_su_co")["high_water"].startswith("2026-11-05T08:00")

    whole = run_source(connectors, "so_pccc_su_co", full=True)
    assert whole["incremental_since"] is None and whole["rows_in"] == 4, whole
    assert {k: whole["diff"][k] for k in ("added", "removed", "changed")} == \
        {"added": 0, "removed": 0, "changed": 1}
    approve_run(whole)
    assert layer_rows(platform, "emergency.incidents",
                      "incident_code")["SC-1"]["status"] == "da_xu_ly"


def test_wfs_source_pulls_incrementally_with_a_filter(connectors: Connectors, platform,
                                                      dept_data, approve_run) -> None:
    """After a whole pull, the WFS is asked only for features edited after the newest edit
    seen: a FES ``PropertyIsGreaterThan`` the server applies (it refuses any other filter)."""
    live = layer_rows(platform, "infra.drainage_outlets", "outlet_id",
                      "outlet_id, receiving_water, has_gate, ST_X(geom) AS lon, "
                      "ST_Y(geom) AS lat")
    saved = list(dept_data.outlets)
    dept_data.outlets[:] = [{"ma_cua_xa": r["outlet_id"], "nguon_tiep_nhan": r["receiving_water"],
                             "co_cua_phai": r["has_gate"], "lon": r["lon"], "lat": r["lat"],
                             "ngay_sua": f"2026-02-0{i}T08:00:00Z"}
                            for i, r in enumerate(sorted(live.values(),
                                                         key=lambda r: r["outlet_id"]), 1)]
    try:
        first = run_source(connectors, "so_xd_cua_xa_sua")
        assert first["status"] == "unchanged", first  # the same outlets as the layer holds
        assert first["incremental_since"] is None
        newest = f"2026-02-0{len(live)}T08:00"
        assert state_of(platform, "so_xd_cua_xa_sua")["high_water"].startswith(newest)

        dept_data.outlets[1].update(nguon_tiep_nhan="Sông Buông", ngay_sua="2026-03-01T08:00:00Z")
        dept_data.outlets.append({"ma_cua_xa": "CX-7", "nguon_tiep_nhan": "Suối Linh",
                                  "co_cua_phai": False, "lon": 106.84, "lat": 10.96,
                                  "ngay_sua": "2026-03-02T08:00:00Z"})
        dept_data.requests.clear()
        changed = run_source(connectors, "so_xd_cua_xa_sua")
        assert changed["status"] == "pending" and changed["rows_in"] == 2, changed
        assert changed["incremental_since"].startswith(newest)
        assert {k: changed["diff"][k] for k in ("added", "removed", "changed")} == \
            {"added": 1, "removed": 0, "changed": 1}
        features = [r for r in dept_data.requests if "GetFeature" in r]
        assert features and all("PropertyIsGreaterThan" in r for r in features), features
        approve_run(changed)
        rows = layer_rows(platform, "infra.drainage_outlets", "outlet_id")
        assert rows["CX-7"]["receiving_water"] == "Suối Linh" and len(rows) == len(live) + 1
        assert state_of(platform, "so_xd_cua_xa_sua")["high_water"].startswith(
            "2026-03-02T08:00")
    finally:
        dept_data.outlets[:] = saved
