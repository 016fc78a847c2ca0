"""Incidents reported over HTTP (validated, commune from the location, audited) and overdue
steps raising alerts from the workflow definition; real HTTP, real PostgreSQL."""

from __future__ import annotations

import pytest

from iocgis.live.workflow import load_workflow, workflow

from .conftest import LiveWorld
from .test_live import SseClient

FIRE = {"kind": "chay", "title": "Cháy kho hàng đường Đồng Khởi", "lon": 106.85, "lat": 10.95,
        "severity": 4, "reporter_phone": "0912345678", "note": "Người dân báo qua 114"}


def test_an_incident_reported_over_http_lands_in_its_commune_audited(
        world: LiveWorld, http, db) -> None:
    officer = {"X-API-Key": world.api_keys["l_officer"]}
    made = http.post("/live/incidents", json=FIRE, headers=officer)
    assert made.status_code == 201, made.text
    incident = made.json()["incident"]
    code = incident["incident_code"]
    assert made.headers["location"] == f"/live/incidents/{code}"
    assert (incident["commune_code"], incident["status"], incident["kind"]) == (
        "26041", "moi", "chay")
    assert made.json()["next"] == ["dong", "xac_minh"]
    shown = http.get(f"/live/incidents/{code}").json()
    assert [(s["from_status"], s["to_status"]) for s in shown["steps"]] == [(None, "moi")]
    assert "reporter_phone" not in shown["incident"]  # anonymous: no personal data
    assert db.execute("SELECT count(*) FROM audit.events WHERE action = "
                      "'live.incident_created' AND target = %s", (f"incident {code}",)
                      ).fetchone()[0] == 1


@pytest.mark.parametrize("change, where", [
    ({"kind": "bao"}, "kind"), ({"title": " "}, "title"), ({"lon": 200}, "lon"),
    ({"lat": "mười"}, "lat"), ({"severity": 9}, "severity"), ({"casualties": 1.5}, "casualties"),
    ({"lon": 105.0, "lat": 21.0}, "lon, lat"),  # in no commune of the province
])
def test_a_bad_incident_is_refused_saying_where(world: LiveWorld, http, db, change,
                                                where) -> None:
    before = db.execute("SELECT count(*) FROM emergency.incidents").fetchone()[0]
    answer = http.post("/live/incidents", json={**FIRE, **change},
                       headers={"X-API-Key": world.api_keys["l_officer"]})
    assert answer.status_code == 400, answer.text
    assert answer.json()["where"] == where
    assert db.execute("SELECT count(*) FROM emergency.incidents").fetchone()[0] == before


def test_reporting_an_incident_needs_the_respond_right_and_its_commune(
        world: LiveWorld, http) -> None:
    assert http.post("/live/incidents", json=FIRE).status_code == 401
    assert http.post("/live/incidents", json=FIRE,
                     headers={"X-API-Key": world.api_keys["l_analyst"]}).status_code == 403
    elsewhere = {**FIRE, "lon": 106.95, "lat": 10.80}  # commune 26068: not the scoped one's
    assert http.post("/live/incidents", json=elsewhere,
                     headers={"X-API-Key": world.api_keys["l_scoped"]}).status_code == 403


def test_an_overdue_step_raises_one_alert_and_the_next_step_clears_it(
        world: LiveWorld, http, db) -> None:
    from iocgis.live.pipeline import Ingestor

    officer = {"X-API-Key": world.api_keys["l_officer"]}
    code = http.post("/live/incidents", json={**FIRE, "kind": "tai_nan"},
                     headers=officer).json()["incident"]["incident_code"]
    limit = workflow().statuses["moi"].allowed("tai_nan")
    # reported longer ago than the workflow allows an accident to wait for verification
    db.execute("UPDATE emergency.incidents SET status_at = now() - %s * 2 WHERE "
               "incident_code = %s", (limit, code))
    stream = SseClient(world.server.url + "/live/events?types=alert")
    ingestor = Ingestor(world.url, world.live)
    try:
        ingestor.sweep()
        ingestor.sweep()  # (the consumer sweeps too: either may raise it, once)
    finally:
        ingestor.close()
    alerts = [a for a in http.get("/live/alerts").json()["alerts"]
              if a["incident_code"] == code]
    assert [(a["kind"], a["incident_status"], a["state"]) for a in alerts] == [
        ("overdue", "moi", "raised")]
    assert "moi within" in alerts[0]["source"]
    pushed = stream.next_alert(kind="overdue")
    assert pushed["incident_code"] == code
    moved = http.post(f"/live/incidents/{code}/steps", json={"to": "xac_minh"}, headers=officer)
    assert moved.status_code == 201
    assert [a["state"] for a in moved.json()["cleared_alerts"]] == ["cleared"]
    assert stream.next_alert(kind="overdue")["state"] == "cleared"
    stream.stop.set()
    open_ones = db.execute("SELECT count(*) FROM live.alerts WHERE incident_code = %s AND "
                           "state <> 'cleared'", (code,)).fetchone()[0]
    assert open_ones == 0


def test_the_workflow_file_names_the_registry_statuses_and_refuses_unknown_steps(
        world: LiveWorld, tmp_path) -> None:
    from iocgis.errors import ConfigError
    from iocgis.layers import get_registry

    domain = get_registry().get("emergency.incidents").field("status").domain
    assert set(workflow().statuses) == {c.code for c in domain}
    bad = tmp_path / "workflow.yaml"
    bad.write_text("statuses:\n  moi: {next: [bay_gio], overdue_after: PT5M}\n",
                   encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown statuses"):
        load_workflow(bad)
