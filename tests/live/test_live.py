"""Live data end to end: real broker, real HTTP, real PostgreSQL."""

from __future__ import annotations

import json
import queue
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import paho.mqtt.client as paho
import psycopg
from prometheus_client import REGISTRY

from iocgis.live import broker, mqtt

from ..conftest import PUBLIC_URL, behind_proxy
from .conftest import LiveWorld


def _t(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def _wait(check, what: str, timeout: float = 20.0):
    """Poll until ``check()`` is truthy (the consumer writes asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _count(db: psycopg.Connection, station: str, parameter: str) -> int:
    return db.execute("SELECT count(*) FROM iot.observations WHERE station_code = %s AND "
                      "parameter = %s", (station, parameter)).fetchone()[0]


def _publisher(world: LiveWorld, device: str) -> paho.Client:
    address = broker.address(world.settings, world.live)
    client = mqtt.client(f"test-{device}", broker.BrokerAddress(
        address.host, address.port, device, world.keys[device].split(":", 1)[1], True))
    client.connect(address.host, address.port)
    client.loop_start()
    return client


def test_http_batch_lands_once_and_bad_readings_are_counted(world: LiveWorld, http, db) -> None:
    headers = {"X-Device-Key": world.keys["gw-http"]}
    good = [{"station": "TV-A", "parameter": "discharge", "time": _t(50 - i), "value": 500 + i,
             "unit": "m3/s"} for i in range(5)]
    bad = [
        {"station": "TV-A", "parameter": "rainfall", "time": _t(1), "value": 3},  # no stream
        {"station": "TV-A", "parameter": "discharge", "time": _t(1), "value": -4},  # range
        {"station": "TV-A", "parameter": "discharge", "time": _t(1), "value": 4, "unit": "l/s"},
        {"station": "TV-A", "parameter": "discharge", "time": _t(-60), "value": 4},  # future
        {"station": "TV-A", "parameter": "discharge", "time": "2026-12-01 10:00", "value": 4},
        {"station": "TV-A", "parameter": "discharge", "time": _t(1), "value": "nhiều"},
    ]
    first = http.post("/live/observations", json=good + bad, headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["accepted"] == 5
    assert body["rejected"] == {"unknown_datastream": 1, "out_of_range": 1, "wrong_unit": 1,
                                "in_the_future": 1, "bad_time": 1, "bad_value": 1}
    again = http.post("/live/observations", json=good, headers=headers).json()
    assert again["accepted"] == 0 and again["duplicates"] == 5
    lines = "\n".join(json.dumps(g) for g in good[:2]).encode()
    jsonl = http.post("/live/observations", content=lines,
                      headers={**headers, "Content-Type": "application/x-ndjson"}).json()
    csv = ("station,parameter,time,value,unit\n"
           f"TV-A,discharge,{_t(30)},612.5,m³/s\n").encode()
    from_csv = http.post("/live/observations", content=csv,
                         headers={**headers, "Content-Type": "text/csv"}).json()
    assert jsonl["duplicates"] == 2 and from_csv["accepted"] == 1
    assert _count(db, "TV-A", "discharge") == 6
    counted = http.get("/live/rejections").json()
    assert counted["totals"]["out_of_range"] >= 1 and counted["totals"]["bad_time"] >= 1
    assert any(r["channel"] == "http" and r["device_code"] == "gw-http"
               for r in counted["rejections"])
    refused = http.post("/live/observations", json=good, headers={"X-Device-Key": "gw-http:x"})
    assert refused.status_code == 401
    assert http.post("/live/observations", json=good).status_code == 401


def test_a_device_writes_only_its_own_datastreams(world: LiveWorld, http) -> None:
    other = {"X-Device-Key": world.keys["gw-other"]}
    answer = http.post("/live/observations", headers=other, json=[
        {"station": "TV-A", "parameter": "water_level", "time": _t(5), "value": 1.0}]).json()
    assert answer["rejected"] == {"not_your_datastream": 1} and answer["accepted"] == 0


def _ingested(outcome: str) -> float:
    """The readings the consumer (in this process) counted in the metrics, by outcome."""
    return REGISTRY.get_sample_value("iocgis_live_readings_total",
                                     {"channel": "mqtt", "outcome": outcome}) or 0.0


def test_mqtt_messages_land_once_and_bad_ones_are_counted(world: LiveWorld, db) -> None:
    counted = {outcome: _ingested(outcome) for outcome in ("accepted", "duplicate", "rejected")}
    publisher = _publisher(world, "gw-mqtt")
    try:
        topic = f"{world.live.topic_prefix}/gw-mqtt/KK-A/aqi"
        readings = [{"time": _t(40 - i), "value": 60 + i} for i in range(20)]
        for reading in readings:
            publisher.publish(topic, json.dumps(reading), qos=1).wait_for_publish(5)
        for reading in readings[:5]:  # sent again (a gateway retrying): lands once
            publisher.publish(topic, json.dumps(reading), qos=1).wait_for_publish(5)
        publisher.publish(topic, b"{not json", qos=1).wait_for_publish(5)
        publisher.publish(f"{world.live.topic_prefix}/gw-mqtt/KK-A", b"[]", qos=1)
        _wait(lambda: world.consumer.totals.duplicates >= 5, "the repeated messages")
        _wait(lambda: db.execute("SELECT sum(count) FROM live.rejections WHERE channel = 'mqtt'"
                                 " AND reason IN ('bad_payload', 'bad_topic')").fetchone()[0] == 2,
              "the bad messages counted")
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    assert _count(db, "KK-A", "aqi") == 20
    assert _ingested("accepted") - counted["accepted"] == 20  # the metrics moved with them
    assert _ingested("duplicate") - counted["duplicate"] == 5
    assert _ingested("rejected") - counted["rejected"] == 2


def test_the_broker_refuses_a_device_writing_under_another_name(world: LiveWorld, db) -> None:
    publisher = _publisher(world, "gw-other")
    try:
        info = publisher.publish(f"{world.live.topic_prefix}/gw-mqtt/KK-A/aqi",
                                 json.dumps({"time": _t(0.5), "value": 499}), qos=1)
        info.wait_for_publish(5)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    time.sleep(0.5)  # the ACL drops it at the broker: nothing may arrive
    assert db.execute("SELECT count(*) FROM iot.observations WHERE value = 499").fetchone()[0] == 0


class SseClient:
    """An EventSource-like reader in a thread: events land in ``events``."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: queue.Queue = queue.Queue()
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url, headers or {}), daemon=True)
        self.thread.start()
        assert self.ready.wait(15), "the SSE stream did not open"

    def _run(self, url: str, headers: dict[str, str]) -> None:
        with httpx.stream("GET", url, headers={"Accept": "text/event-stream", **headers},
                          timeout=httpx.Timeout(30, read=None)) as response:
            kind = None
            for line in response.iter_lines():
                if line.startswith(": listening"):
                    self.ready.set()
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self.events.put((kind, json.loads(line[6:])))
                if self.stop.is_set():
                    return

    def next_alert(self, timeout: float = 20.0, kind: str = "threshold") -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event, data = self.events.get(timeout=0.5)
            except queue.Empty:
                continue
            if event == "alert" and data.get("kind") == kind:
                return data
        raise AssertionError("no alert arrived on the SSE stream")


def test_an_alarm_crossing_raises_one_alert_pushed_by_sse_and_clearing_clears_it(
        world: LiveWorld, http, db) -> None:
    headers = {"X-Device-Key": world.keys["gw-http"]}
    stream = SseClient(world.server.url + "/live/events?types=alert")
    scoped = SseClient(world.server.url + "/live/events",
                       {"X-API-Key": world.api_keys["l_scoped"]})

    def post(minutes_ago: float, value: float) -> dict:
        answer = http.post("/live/observations", headers=headers, json=[
            {"station": "TV-A", "parameter": "water_level", "time": _t(minutes_ago),
             "value": value, "unit": "m"}])
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert post(30, 1.2)["alerts"] == []
    raised = post(29, 2.3)["alerts"]  # over level II (2.2): raised at level 2
    assert [(a["state"], a["level"]) for a in raised] == [("raised", 2)]
    pushed = stream.next_alert()
    assert pushed["station_code"] == "TV-A" and pushed["level"] == 2
    assert pushed["state"] == "raised" and pushed["source"] == "Quyết định 05/2020/QĐ-TTg"
    assert scoped.next_alert()["station_code"] == "TV-A"  # its commune
    assert post(28, 2.4)["alerts"] == []  # still level II: deduplicated, no new alert
    assert post(27, 2.18)["alerts"] == []  # inside the hysteresis band: still II
    assert [a["level"] for a in post(26, 1.9)["alerts"]] == [1]  # down to level I
    cleared = post(25, 1.0)["alerts"]
    assert [(a["state"], a["level"]) for a in cleared] == [("cleared", 0)]
    assert stream.next_alert()["level"] == 1
    assert stream.next_alert()["state"] == "cleared"
    rows = db.execute("SELECT state, peak_level, value FROM live.alerts WHERE station_code = "
                      "'TV-A' AND kind = 'threshold'").fetchall()
    assert rows == [("cleared", 2, 2.3)]
    latest = http.get("/live/latest").json()["readings"]
    tv_a = next(r for r in latest if r["station_code"] == "TV-A" and
                r["parameter"] == "water_level")
    assert tv_a["value"] == 1.0 and tv_a["alarm_level"] == 0
    stream.stop.set()
    scoped.stop.set()


def test_a_parameters_thresholds_as_data_apply_to_a_station_without_levels(
        world: LiveWorld, http) -> None:
    """KK-A has no alarm levels of its own: the AQI classes of live.thresholds apply (151, 201,
    301; hysteresis 5), each alert naming its legal source."""
    headers = {"X-Device-Key": world.keys["gw-http"]}

    def post(seconds_ago: float, value: float) -> list[tuple[str, int]]:
        answer = http.post("/live/observations", headers=headers, json=[
            {"station": "KK-A", "parameter": "aqi", "time": _t(seconds_ago / 60),
             "value": value}])
        assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text
        alerts = answer.json()["alerts"]
        assert all(a["source"] == "Quyết định 1459/QĐ-TCMT" for a in alerts)
        return [(a["state"], a["level"]) for a in alerts]

    assert post(5, 160) == [("raised", 1)]  # Kém (unhealthy)
    assert post(4, 210) == [("raised", 2)]  # Xấu (very unhealthy)
    assert post(3, 198) == []  # under 201 but inside its band of 5: still level 2
    assert post(2, 148) == [("raised", 1)]  # past 196: level 1 (148 is inside 146..151)
    assert post(1, 140) == [("cleared", 0)]


def test_the_alert_of_another_commune_is_not_pushed_to_a_scoped_caller(
        world: LiveWorld, http) -> None:
    scoped = SseClient(world.server.url + "/live/events?types=alert",
                       {"X-API-Key": world.api_keys["l_scoped"]})
    everyone = SseClient(world.server.url + "/live/events?types=alert")
    key = {"X-Device-Key": world.keys["gw-http"]}
    http.post("/live/observations", headers=key, json=[
        {"station": "TV-B", "parameter": "water_level", "time": _t(3), "value": 2.1}])
    assert everyone.next_alert()["station_code"] == "TV-B"
    try:
        got = scoped.next_alert(timeout=2)
    except AssertionError:
        got = None
    assert got is None
    alerts = http.get("/live/alerts", headers={"X-API-Key": world.api_keys["l_scoped"]}).json()
    assert all(a["commune_code"] == "26041" for a in alerts["alerts"])
    http.post("/live/observations", headers=key, json=[
        {"station": "TV-B", "parameter": "water_level", "time": _t(2), "value": 0.5}])
    scoped.stop.set()
    everyone.stop.set()


def test_acknowledging_an_alert_needs_the_respond_right_and_is_audited(
        world: LiveWorld, http, db) -> None:
    key = {"X-Device-Key": world.keys["gw-http"]}
    raised = http.post("/live/observations", headers=key, json=[
        {"station": "TV-A", "parameter": "water_level", "time": _t(20), "value": 1.85}]).json()
    alert_id = raised["alerts"][0]["id"]
    assert http.post(f"/live/alerts/{alert_id}/ack").status_code == 401
    analyst = {"X-API-Key": world.api_keys["l_analyst"]}
    assert http.post(f"/live/alerts/{alert_id}/ack", headers=analyst).status_code == 403
    officer = {"X-API-Key": world.api_keys["l_officer"]}
    done = http.post(f"/live/alerts/{alert_id}/ack", headers=officer,
                     json={"note": "đã báo đội ứng cứu"})
    assert done.status_code == 200 and done.json()["acknowledged_by"] == "l_officer"
    assert http.post(f"/live/alerts/{alert_id}/ack", headers=officer).status_code == 400
    assert db.execute("SELECT count(*) FROM audit.events WHERE action = "
                      "'live.alert_acknowledged' AND actor = 'l_officer'").fetchone()[0] == 1
    cleared = http.post("/live/observations", headers=key, json=[
        {"station": "TV-A", "parameter": "water_level", "time": _t(19), "value": 1.0}]).json()
    assert cleared["alerts"][0]["state"] == "cleared"


def test_a_silent_station_is_flagged_and_comes_back(world: LiveWorld, http, db) -> None:
    from iocgis.live.pipeline import Ingestor

    stream = world.streams["TV-A/discharge"]
    db.execute("UPDATE live.datastreams SET last_observed_at = now() - interval '5 hours' "
               "WHERE id = %s", (stream,))
    ingestor = Ingestor(world.url, world.live)
    open_silent = ("SELECT count(*) FROM live.alerts WHERE datastream_id = %s AND kind = "
                   "'silent' AND state = 'raised'")
    try:
        ingestor.sweep()  # (the consumer sweeps every 10 s too: either may flag it)
        assert db.execute(open_silent, (stream,)).fetchone()[0] == 1
        ingestor.sweep()
        assert db.execute(open_silent, (stream,)).fetchone()[0] == 1  # flagged once
    finally:
        ingestor.close()
    fresh = {(d["station_code"], d["parameter"]): d["freshness"]
             for d in http.get("/live/freshness").json()["datastreams"]}
    assert fresh[("TV-A", "discharge")] == "silent"
    world.server.app.state.live.ingestor.reload()  # the server's cache learns the flag
    back = http.post("/live/observations", headers={"X-Device-Key": world.keys["gw-http"]},
                     json=[{"station": "TV-A", "parameter": "discharge", "time": _t(0.2),
                            "value": 700}]).json()
    assert [(a["kind"], a["state"]) for a in back["alerts"]] == [("silent", "cleared")]


def test_the_incident_workflow_refuses_illegal_steps_and_audits_each(
        world: LiveWorld, http, db) -> None:
    officer = {"X-API-Key": world.api_keys["l_officer"]}
    path = "/live/incidents/SC-LIVE-1/steps"
    assert http.post(path, json={"to": "xac_minh"}).status_code == 401
    assert http.post(path, json={"to": "xac_minh"},
                     headers={"X-API-Key": world.api_keys["l_analyst"]}).status_code == 403
    illegal = http.post(path, json={"to": "da_xu_ly"}, headers=officer)
    assert illegal.status_code == 409 and illegal.json()["code"] == "IllegalTransition"
    assert http.post(path, json={"to": "dieu_dong"}, headers=officer).status_code == 400
    for step in ({"to": "xac_minh", "note": "Đã xác minh tại hiện trường"},
                 {"to": "dieu_dong", "unit": "Đội PCCC&CNCH khu vực Biên Hòa"},
                 {"to": "dang_xu_ly", "note": "Đơn vị đã có mặt"},
                 {"to": "da_xu_ly", "note": "Đã bơm thoát nước"}, {"to": "dong"}):
        made = http.post(path, json=step, headers=officer)
        assert made.status_code == 201, made.text
    assert http.post(path, json={"to": "dang_xu_ly"}, headers=officer).status_code == 409
    shown = http.get("/live/incidents/SC-LIVE-1").json()
    assert [s["to_status"] for s in shown["steps"]] == ["xac_minh", "dieu_dong", "dang_xu_ly",
                                                        "da_xu_ly", "dong"]
    assert all(s["at"] for s in shown["steps"]) and shown["next"] == []
    assert shown["incident"]["assigned_unit"] == "Đội PCCC&CNCH khu vực Biên Hòa"
    audited = db.execute("SELECT outcome, count(*) FROM audit.events WHERE action = "
                         "'live.incident_step' AND target = 'incident SC-LIVE-1' GROUP BY 1 "
                         "ORDER BY 1").fetchall()
    assert dict(audited) == {"denied": 2, "ok": 5}
    scoped = {"X-API-Key": world.api_keys["l_scoped"]}
    assert http.post("/live/incidents/SC-LIVE-B/steps", json={"to": "xac_minh"},
                     headers=scoped).status_code == 404  # another commune's: not there


def test_the_flood_scenario_in_one_call(world: LiveWorld, http) -> None:
    key = {"X-Device-Key": world.keys["gw-http"]}
    http.post("/live/observations", headers=key, json=[
        {"station": "TV-A", "parameter": "water_level", "time": _t(10), "value": 2.35}])
    analyst = {"X-API-Key": world.api_keys["l_analyst"]}
    answer = http.get("/live/flood", params={"radius_m": 3000}, headers=analyst).json()
    assert [s["station_code"] for s in answer["stations"]] == ["TV-A"]
    assert [z["zone_code"] for z in answer["zones"]] == ["VN-A2"]  # level II, not III
    # the 30 fixture houses of commune A are all inside VN-A2: every third poor, the next
    # near-poor, 4 people each
    by_commune = [{k: row[k] for k in ("commune_code", "houses", "people", "poor", "near_poor")}
                  for row in answer["houses_by_commune"]]
    assert by_commune == [{"commune_code": "26041", "houses": 30, "people": 120, "poor": 10,
                           "near_poor": 10}]
    assert answer["houses_total"] == {"houses": 30, "people": 120, "poor": 10, "near_poor": 10}
    assert [s["shelter_id"] for s in answer["shelters"]] == ["SH-1"]
    anonymous = http.get("/live/flood").json()
    assert anonymous["houses_by_commune"] is None and "housing.houses" in anonymous["left_out"]
    http.post("/live/observations", headers=key, json=[
        {"station": "TV-A", "parameter": "water_level", "time": _t(9), "value": 1.0}])


def test_sensorthings_subset(world: LiveWorld, http, db) -> None:
    things = http.get("/sta/v1.1/Things", params={
        "$filter": "properties/kind eq 'muc_nuoc_song'", "$expand": "Datastreams",
        "$orderby": "@iot.id desc", "$count": "true"}).json()
    assert [t["@iot.id"] for t in things["value"]] == ["TV-B", "TV-A"]
    assert things["@iot.count"] == 2
    assert {d["ObservedProperty"]["name"] for d in things["value"][1]["Datastreams"]} == {
        "water_level", "discharge"}
    stream = world.streams["TV-B/water_level"]
    key = {"X-Device-Key": world.keys["gw-http"]}
    single = http.post("/sta/v1.1/Observations", headers=key, json={
        "phenomenonTime": _t(15), "result": 0.8, "Datastream": {"@iot.id": stream}})
    assert single.status_code == 201, single.text
    array = http.post("/sta/v1.1/CreateObservations", headers=key, json=[{
        "Datastream": {"@iot.id": stream}, "components": ["phenomenonTime", "result"],
        "dataArray": [[_t(14), 0.81], [_t(13), 0.82], [_t(12), "x"]]}])
    assert array.status_code == 201 and array.json()["value"] == ["ok", "ok", "error"]
    series = http.get(f"/sta/v1.1/Datastreams({stream})/Observations", params={
        "$top": "2", "$orderby": "phenomenonTime desc",
        "$filter": f"phenomenonTime ge {_t(16).replace('+00:00', 'Z')} and "
                   f"phenomenonTime le {_t(11).replace('+00:00', 'Z')}"}).json()
    assert [o["result"] for o in series["value"]] == [0.82, 0.81]
    assert "@iot.nextLink" in series
    assert http.get("/sta/v1.1/Things", params={"$filter": "holder eq 'x'"}).status_code == 400
    assert http.get("/sta/v1.1/Things('TV-A')").json()["name"] == "Trạm thủy văn A"


def test_sensorthings_links_name_the_public_url_behind_a_proxy(world: LiveWorld) -> None:
    with behind_proxy(world.settings) as proxied:
        own = str(proxied.base_url).rstrip("/")
        root = proxied.get("/sta/v1.1").json()
        assert [e["url"] for e in root["value"]] == [
            f"{PUBLIC_URL}/sta/v1.1/{n}" for n in ("Things", "Datastreams", "Observations")]
        things = proxied.get("/sta/v1.1/Things", params={"$top": "1", "$expand": "Datastreams"})
        body = things.json()
        assert body["value"][0]["@iot.selfLink"].startswith(PUBLIC_URL + "/sta/v1.1/Things(")
        link = urlsplit(body["@iot.nextLink"])
        assert f"{link.scheme}://{link.netloc}{link.path}" == PUBLIC_URL + "/sta/v1.1/Things"
        assert parse_qs(link.query) == {"$top": ["1"], "$expand": ["Datastreams"], "$skip": ["1"]}
        assert own not in things.text


def test_observations_are_partitioned_by_month_and_old_data_lands(world: LiveWorld, db) -> None:
    from iocgis.live.pipeline import Ingestor
    from iocgis.live.readings import Reading

    ingestor = Ingestor(world.url, world.live)
    try:
        old = datetime(2019, 7, 4, 3, 0, tzinfo=UTC)
        result = ingestor.ingest([Reading("TV-B", "water_level", old, 0.7, "m")],
                                 channel="test", device=None)
    finally:
        ingestor.close()
    assert result.accepted == 1 and result.late == 1  # late data: stored, latest unchanged
    where = db.execute("SELECT tableoid::regclass::text FROM iot.observations WHERE "
                       "observed_at = %s", (old,)).fetchone()[0]
    assert where == "iot_partitions.observations_y2019m07"
    kind = db.execute("SELECT relkind FROM pg_class WHERE oid = 'iot.observations'::regclass"
                      ).fetchone()[0]
    assert kind == "p"
    ahead = db.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = "
                       "'iot.observations'::regclass").fetchone()[0]
    assert ahead >= 5  # this month, three ahead, 2019-07 and the default
    # every partition made on the way carries the parent's indexes: BRIN on the time, the
    # unique btree the idempotence rests on
    made = {row[0] for row in db.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'iot_partitions' AND "
        "tablename = 'observations_y2019m07'")}
    assert any("USING brin (observed_at)" in d for d in made), made
    assert any("UNIQUE INDEX" in d and "btree (station_code, parameter, observed_at)" in d
               for d in made), made
