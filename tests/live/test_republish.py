"""Latest readings and alerts re-published on MQTT for the public (through the anonymous
caller's plans), read back from the real broker by a dashboard's account."""

from __future__ import annotations

import json
import queue
import threading

from iocgis.live import broker, mqtt
from iocgis.live.republish import LATEST_FIELDS, PUBLIC_ALERT_FIELDS

from .conftest import LiveWorld
from .test_live import _t


def test_latest_values_and_alerts_are_republished_without_names_or_notes(
        world: LiveWorld, http) -> None:
    address = broker.address(world.settings, world.live)
    got: queue.Queue = queue.Queue()
    subscribed = threading.Event()
    dashboard = mqtt.client("test-dashboard", broker.BrokerAddress(
        address.host, address.port, "gw-other", world.keys["gw-other"].split(":", 1)[1], True))
    dashboard.on_message = lambda c, u, m: got.put((m.topic, json.loads(m.payload)))
    dashboard.on_subscribe = lambda *args: subscribed.set()
    dashboard.connect(address.host, address.port)
    dashboard.loop_start()
    try:
        dashboard.subscribe([(world.live.latest_topic + "/#", 1),
                             (world.live.alert_topic + "/#", 1)])
        assert subscribed.wait(10)
        key = {"X-Device-Key": world.keys["gw-http"]}
        raised = http.post("/live/observations", headers=key, json=[
            {"station": "TV-B", "parameter": "water_level", "time": _t(1), "value": 2.1}]).json()
        alert_id = raised["alerts"][0]["id"]
        acked = http.post(f"/live/alerts/{alert_id}/ack", json={"note": "Ông Nguyễn Văn A báo"},
                          headers={"X-API-Key": world.api_keys["l_officer"]})
        assert acked.status_code == 200
        http.post("/live/observations", headers=key, json=[
            {"station": "TV-B", "parameter": "water_level", "time": _t(0.5), "value": 0.4}])
        seen: dict[str, list[dict]] = {}
        while not (any(b.get("state") == "cleared"
                       for b in seen.get(world.live.alert_topic + "/TV-B", []))
                   and any(b.get("value") == 0.4 for b in
                           seen.get(world.live.latest_topic + "/TV-B/water_level", []))):
            topic, body = got.get(timeout=20)
            seen.setdefault(topic, []).append(body)
    finally:
        dashboard.loop_stop()
        dashboard.disconnect()
    latest = seen[world.live.latest_topic + "/TV-B/water_level"]
    assert [b["value"] for b in latest][-2:] == [2.1, 0.4]
    assert set(latest[-2]) == set(LATEST_FIELDS) and latest[-2]["alarm_level"] == 2
    alerts = seen[world.live.alert_topic + "/TV-B"]
    assert [a["state"] for a in alerts] == ["raised", "cleared"]
    assert set(alerts[0]) == set(PUBLIC_ALERT_FIELDS)  # no acknowledged_by, no note
    assert all("Nguyễn" not in json.dumps(a, ensure_ascii=False) for a in alerts)
