"""The audit trail: append-only for everyone, hash-chained, tampering detected, exports,
"who accessed this layer", reads of restricted layers and personal data recorded."""

from __future__ import annotations

import json
import re

import httpx
import psycopg
import pytest

from iocgis.layers import get_registry
from iocgis.roles import dbroles
from iocgis.security import audit

from .security_helpers import api_key_for, audit_actions, bearer, cli, login


def test_tampering_is_detected(fresh_db_url, tmp_path) -> None:  # noqa: ANN001
    anchor = tmp_path / "anchor.json"
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        for i in range(6):
            audit.record_sync(conn, actor="cán.bộ", action="test.event", layer="land.parcels",
                              details={"i": i, "ghi_chú": "Đồng Nai"})
        intact = audit.verify(conn, anchor)
        assert intact.ok and intact.checked == 6 and anchor.exists()
    ok = cli(fresh_db_url, "audit", "verify", "--anchor", str(anchor))
    assert ok.returncode == 0 and "intact: 6 records" in ok.stderr

    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        # Even the owner cannot edit or delete while the triggers stand.
        for statement in ("UPDATE audit.events SET actor = 'x' WHERE seq = 2",
                          "DELETE FROM audit.events WHERE seq = 2", "TRUNCATE audit.events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
        # A superuser who switches the guard off: the edit is detected.
        conn.execute("ALTER TABLE audit.events DISABLE TRIGGER events_append_only")
        conn.execute("UPDATE audit.events SET details = '{\"i\": 99}' WHERE seq = 3")
    edited = cli(fresh_db_url, "audit", "verify", "--anchor", str(anchor))
    assert edited.returncode == 7 and "record 3 was edited" in edited.stderr

    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM audit.events WHERE seq = 5")
        deleted = audit.verify(conn, None)
        assert any("5..5 are missing" in p for p in deleted.problems)
        assert any("record 6: link" in p for p in deleted.problems)
        # Cutting the tail leaves a consistent chain: the anchor of the last verify sees it.
        conn.execute("DELETE FROM audit.events WHERE seq >= 4")
        conn.execute("UPDATE audit.events SET details = '{\"i\": 2}' WHERE seq = 3")
        conn.execute("ALTER TABLE audit.events ENABLE TRIGGER events_append_only")
        cut = audit.verify(conn, anchor)
    assert any("record 6" in p and "gone" in p for p in cut.problems), cut.problems


def test_api_role_can_append_but_not_change(db_url, settings) -> None:  # noqa: ANN001
    with psycopg.connect(db_url, autocommit=True) as conn:
        dbroles.sync(conn, get_registry(), settings.security)
        conn.execute("SET ROLE iocgis_api")
        audit.record_sync(conn, actor="api", action="test.api_role")
        for statement in ("UPDATE audit.events SET actor = 'x'", "DELETE FROM audit.events",
                          "TRUNCATE audit.events", "DELETE FROM audit.prune_marks",
                          "SELECT audit.prune(now() - interval '1 year')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        conn.execute("RESET ROLE")


def test_retention_floor_and_prune(db_url) -> None:  # noqa: ANN001
    too_short = cli(db_url, "audit", "prune", "--months", "2")
    assert too_short.returncode == 2 and "3 months" in too_short.stderr
    with psycopg.connect(db_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute("SELECT audit.prune(now() - interval '1 month')")
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert audit.prune(conn, 12, "test") == 0  # nothing old enough: a no-op, recorded
        assert audit.verify(conn, None).ok


def test_imports_and_rollbacks_enter_the_trail(db_url) -> None:  # noqa: ANN001
    with psycopg.connect(db_url, autocommit=True) as conn:
        import_id, = conn.execute(
            "INSERT INTO meta.imports (layer_id, mode, status, source_path, user_name) VALUES "
            "('land.parcels', 'replace', 'succeeded', 'thua_dat.gpkg', 'cán bộ địa chính') "
            "RETURNING id").fetchone()
        conn.execute("UPDATE meta.imports SET status = 'rolled_back' WHERE id = %s", (import_id,))
    events = audit_actions(db_url, target=f"import {import_id}")
    assert [e[0] for e in events] == ["import.succeeded", "import.rolled_back"]
    assert events[0][2] == "cán bộ địa chính" and events[0][4] == "land.parcels"


def test_export_formats(db_url, tmp_path) -> None:  # noqa: ANN001
    with psycopg.connect(db_url, autocommit=True) as conn:
        audit.record_sync(conn, actor="xuất", action="test.export", client="10.0.0.9",
                          details={"lý_do": 'có "ngoặc" ]'})
    out = tmp_path / "events.jsonl"
    assert cli(db_url, "audit", "export", "--format", "jsonl", "-o", str(out)).returncode == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines and all({"seq", "at", "actor", "hash", "prev_hash"} <= set(e) for e in lines)
    assert any(e["actor"] == "xuất" for e in lines)
    syslog = cli(db_url, "audit", "export", "--format", "syslog", "--since", "1h")
    assert syslog.returncode == 0
    line = next(x for x in syslog.stdout.splitlines() if "test.export" in x)
    assert re.match(r'^<85>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ iocgis - test\.export '
                    r'\[iocgis@32473 seq="\d+" actor="xuất" outcome="ok" client="10\.0\.0\.9" ', line)
    assert cli(db_url, "audit", "export", "--format", "xml").returncode == 2


def test_reads_of_restricted_layers_and_personal_data_are_recorded(
        live_server, role_accounts, db_url) -> None:  # noqa: ANN001
    """On the real endpoints, with the rows this test loads: a restricted read and a read of
    personal data are recorded with who; a probe for a hidden layer is recorded as denied; a
    read without personal fields, and metadata (TileJSON, the catalogue), are not PII reads."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO infra.substations (substation_id, name, voltage_kv, geom) "
                     "VALUES ('AUD-1', 'Trạm Kiểm Toán', 110, "
                     "ST_SetSRID(ST_MakePoint(106.83, 10.95), 4326))")
        conn.execute("INSERT INTO land.parcels (commune_code, sheet_no, parcel_no, land_use, "
                     "area_m2, holder_name, geom) VALUES ('26041', 901, 1, 'ODT', 120, "
                     "'Lê Kiểm Toán', ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(106.831, "
                     "10.951), 4326), 0.0002)))")
    admin, viewer = role_accounts["admin"], role_accounts["viewer"]
    token = login(live_server.url, admin, db_url)["access_token"]
    admin_h, viewer_h = bearer(token), {"X-API-Key": api_key_for(db_url, viewer.name)}
    url = live_server.url
    restricted = httpx.get(f"{url}/collections/infra.substations/items", headers=admin_h)
    assert restricted.status_code == 200 and "Trạm Kiểm Toán" in restricted.text
    named = httpx.get(f"{url}/collections/land.parcels/items",
                      params={"sheet_no": 901}, headers=admin_h)
    assert named.status_code == 200 and "Lê Kiểm Toán" in named.text
    plain = httpx.get(f"{url}/collections/land.parcels/items",
                      params={"sheet_no": 901, "properties": "land_use"}, headers=admin_h)
    assert plain.status_code == 200 and "Lê Kiểm Toán" not in plain.text
    before_meta = len(audit_actions(db_url, layer="land.parcels", action="data.read_pii"))
    assert httpx.get(f"{url}/tiles/land.json", headers=admin_h).status_code == 200
    assert httpx.get(f"{url}/collections/catalog/items", headers=admin_h).status_code == 200
    hidden = httpx.get(f"{url}/collections/infra.substations/items", headers=viewer_h)
    assert hidden.status_code == 404
    masked = httpx.get(f"{url}/collections/land.parcels/items", params={"sheet_no": 901},
                       headers=viewer_h)
    assert masked.status_code == 200 and "Lê Kiểm Toán" not in masked.text
    reads = audit_actions(db_url, layer="infra.substations")
    assert ("data.read_restricted", "ok", admin.name) in [e[:3] for e in reads]
    assert ("data.hidden_layer", "denied", viewer.name) in [e[:3] for e in reads]
    pii = audit_actions(db_url, layer="land.parcels", action="data.read_pii")
    assert [e[2] for e in pii].count(admin.name) == 1  # the named read; not the plain one
    assert len(pii) == before_meta  # TileJSON and the catalogue read no personal data
    assert not any(e[2] == viewer.name for e in pii)
    who = cli(db_url, "audit", "who-accessed", "land.parcels", "--since", "1h", "--json")
    assert who.returncode == 0 and admin.name in who.stdout
