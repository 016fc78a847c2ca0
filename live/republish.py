"""What the platform re-publishes on MQTT, as an anonymous caller may see it (the access plans
of ``iot.latest`` and ``emergency.incidents`` for ``ANONYMOUS``): nothing of a layer that is
not public, only the plan's fields, never the note or the name of who acknowledged an alert.

Topics: ``<latest_topic>/<station>/<parameter>`` (retained: a new subscriber gets the current
value at once), ``<alert_topic>/<station>`` for sensor alerts and
``<alert_topic>/incidents/<incident code>`` for overdue steps."""

from __future__ import annotations

from typing import Any

import orjson

from iocgis.access import ANONYMOUS
from iocgis.layers import Registry
from iocgis.live.access import incidents_plan, optional_readings_plan, sees_alert
from iocgis.live.settings import LiveSettings

# Alert fields fit for everyone: the level and the observation, not who acknowledged it or
# the note they wrote.
PUBLIC_ALERT_FIELDS = ("id", "kind", "station_code", "parameter", "commune_code", "level",
                       "peak_level", "state", "observed_at", "value", "threshold", "source",
                       "raised_at", "acknowledged_at", "cleared_at", "cleared_value",
                       "incident_code", "incident_status")
LATEST_FIELDS = ("station_code", "parameter", "value", "unit", "alarm_level", "observed_at",
                 "commune_code")


class Republisher:
    """Turns pushed events into (topic, payload, retained) messages for the public."""

    def __init__(self, live: LiveSettings, registry: Registry) -> None:
        self.live = live
        self.readings = optional_readings_plan(ANONYMOUS, registry)
        self.incidents = incidents_plan(ANONYMOUS, registry)
        shown = set(self.readings.fields) if self.readings else set()
        self.latest_fields = tuple(f for f in LATEST_FIELDS if f in shown)

    def messages(self, event: dict[str, Any]) -> list[tuple[str, bytes, bool]]:
        kind = event.get("type")
        if kind == "latest" and sees_alert(self.readings, None, event):
            body = {f: event.get(f) for f in self.latest_fields}
            topic = f"{self.live.latest_topic}/{event['station_code']}/{event['parameter']}"
            return [(topic, orjson.dumps(body), True)]
        if kind == "alert" and sees_alert(self.readings, self.incidents, event):
            body = {f: event.get(f) for f in PUBLIC_ALERT_FIELDS}
            topic = (f"{self.live.alert_topic}/incidents/{event['incident_code']}"
                     if event.get("kind") == "overdue" else
                     f"{self.live.alert_topic}/{event['station_code']}")
            return [(topic, orjson.dumps(body), False)]
        return []
