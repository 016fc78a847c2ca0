"""The live demo: realistic series published over MQTT and HTTP, bounded in time, so the whole
loop (ingest, alarm, push, map, flood scenario) can be watched. One event over the run: rain
over the Đồng Nai basin crossing alarm level II, the river at Biên Hòa rising on top of the
tide past level II, Trị An releasing more water; then everything falls back and clears."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import psycopg

from iocgis.live import broker, mqtt
from iocgis.live.datastreams import create_datastream, create_device
from iocgis.live.settings import LiveSettings
from iocgis.settings import Settings

TIDE_PERIOD_H = 12.42  # semi-diurnal tide at Biên Hòa


@dataclass(frozen=True)
class Series:
    station: str
    parameter: str
    unit: str
    channel: str  # mqtt | http
    value: Callable[[float, float], float]  # (hours of simulated time, event 0..1) -> value
    low: float
    high: float


def _bump(x: float) -> float:
    """The event's shape over the run: 0 -> 1 in the middle -> 0."""
    return math.exp(-(((x - 0.5) / 0.17) ** 2))


def _river(mean: float, amp: float, level_2: float) -> Callable[[float, float], float]:
    def value(hours: float, event: float) -> float:
        tide = amp * math.sin(2 * math.pi * hours / TIDE_PERIOD_H)
        # the flood wave swamps the tide: at its peak the level is 0.25 m over level II
        return round(mean + tide * (1 - event) + (level_2 + 0.25 - mean) * event, 3)
    return value


def scenario(levels: dict[str, tuple[float, float, float]]) -> list[Series]:
    bienhoa = levels.get("TV-BIENHOA", (1.8, 2.2, 2.6))
    longdai = levels.get("TV-LONGDAI", (1.6, 2.0, 2.4))
    return [
        Series("TV-BIENHOA", "water_level", "m", "mqtt", _river(1.1, 0.6, bienhoa[1]), -5, 20),
        Series("TV-LONGDAI", "water_level", "m", "mqtt", _river(0.9, 0.7, longdai[1]), -5, 20),
        Series("XL-TRIAN", "discharge", "m³/s", "http",
               lambda h, e: round(800 + 120 * math.sin(2 * math.pi * h / 24) + 2400 * e, 1),
               0, 20_000),
        Series("HO-TRIAN", "water_level", "m", "http",
               lambda h, e: round(60.8 + 1.4 * e, 3), 0, 100),
    ]


def _rain_series(stations: list[str]) -> list[Series]:
    return [Series(code, "rainfall", "mm", "http",
                   lambda h, e, k=i: round(max(0.0, 72 * e - 4 * (k % 3)), 1), 0, 500)
            for i, code in enumerate(stations)]


@dataclass
class Setup:
    series: list[Series]
    mqtt_key: str
    http_key: str


def prepare(conn: psycopg.Connection, settings: Settings, live: LiveSettings,
            cadence_s: int) -> Setup:
    """Datastreams and two devices (one per channel) for the stations the demo loaded."""
    rows = conn.execute("SELECT station_code, alert_1, alert_2, alert_3 FROM iot.stations"
                        ).fetchall()
    known = {r[0]: tuple(r[1:]) for r in rows}
    rain = sorted(c for c in known if c.startswith("MUA-"))[:3]
    series = [s for s in scenario(known) + _rain_series(rain) if s.station in known]
    if not series:
        raise broker.BrokerError("no demo stations in iot.stations", where="iot.stations",
                                 hint="load the demo first: iocgis demo --load")
    # The demo generator fills layers it has no producer for with made-up rows; latest
    # readings of stations that do not exist are such rows: the live data replaces them.
    conn.execute("DELETE FROM iot.latest l WHERE NOT EXISTS (SELECT 1 FROM iot.stations s "
                 "WHERE s.station_code = l.station_code)")
    ids: dict[str, list[int]] = {"mqtt": [], "http": []}
    for s in series:
        ids[s.channel].append(create_datastream(conn, s.station, s.parameter, s.unit,
                                                cadence_s=cadence_s, min_value=s.low,
                                                max_value=s.high))
    keys = {channel: create_device(conn, f"sim-{channel}", streams,
                                   name=f"Trình mô phỏng ({channel})")
            for channel, streams in ids.items()}
    address = broker.address(settings, live)
    if address.local:
        directory = broker.folder(settings, live)
        broker.set_password(directory, "sim-mqtt", keys["mqtt"].split(":", 1)[1])
        broker.reload(settings, live)
        time.sleep(0.3)
    return Setup(series, keys["mqtt"], keys["http"])


def run(settings: Settings, live: LiveSettings, db_url: str, api_url: str, *,
        duration_s: float, step_s: float, hours_per_run: float,
        say: Callable[[str], None] = print, consume: bool = True) -> dict[str, int]:
    """Publish every ``step_s`` for ``duration_s`` seconds; returns counts per channel."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        setup = prepare(conn, settings, live, cadence_s=max(10, int(step_s * 10)))
    consumer = mqtt.Consumer(settings, db_url, live, client_id="iocgis-sim-ingest").start() \
        if consume else None
    address = broker.address(settings, live)
    publisher = mqtt.client("iocgis-simulator", broker.BrokerAddress(
        address.host, address.port, "sim-mqtt", setup.mqtt_key.split(":", 1)[1], address.local))
    publisher.connect(address.host, address.port)
    publisher.loop_start()
    sent = {"mqtt": 0, "http": 0}
    started = time.monotonic()
    try:
        with httpx.Client(base_url=api_url, timeout=30,
                          headers={"X-Device-Key": setup.http_key}) as http:
            while (elapsed := time.monotonic() - started) < duration_s:
                share = elapsed / duration_s
                event, hours = _bump(share), share * hours_per_run
                now = datetime.now(UTC).isoformat()
                batch = []
                for s in setup.series:
                    reading = {"time": now, "value": s.value(hours, event), "unit": s.unit}
                    if s.channel == "mqtt":
                        publisher.publish(f"{live.topic_prefix}/sim-mqtt/{s.station}/"
                                          f"{s.parameter}", json.dumps(reading), qos=1)
                        sent["mqtt"] += 1
                    else:
                        batch.append({**reading, "station": s.station, "parameter": s.parameter})
                if batch:
                    answer = http.post("/live/observations", json=batch)
                    answer.raise_for_status()
                    sent["http"] += len(batch)
                    for alert in answer.json()["alerts"]:
                        say(f"alert {alert['state']} level {alert['level']}: "
                            f"{alert['station_code']} {alert['parameter']} {alert['value']}")
                time.sleep(max(0.0, step_s - (time.monotonic() - started - elapsed)))
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        if consumer is not None:
            time.sleep(0.5)
            consumer.stop()
            for alert in consumer.totals.alerts:
                say(f"alert {alert['state']} level {alert['level']} (MQTT): "
                    f"{alert['station_code']} {alert['parameter']} {alert['value']}")
    return sent
