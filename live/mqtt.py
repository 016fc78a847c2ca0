"""The MQTT side: the platform's subscriber (QoS 1, acknowledged only once the batch is
committed: a crash loses nothing, a redelivery lands once) and the bridge that re-publishes
alerts. Topics: ``<prefix>/<device>/<station>/<parameter>`` with ``{"time", "value", "unit"}``
(or a list of them), or ``<prefix>/<device>`` with a list of full readings."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from typing import Any

import orjson
import paho.mqtt.client as paho
import psycopg

from iocgis.layers import get_registry
from iocgis.live import broker
from iocgis.live.pipeline import Ingestor, IngestResult, Prepared
from iocgis.live.readings import BadReading, Reading, from_mapping
from iocgis.live.republish import Republisher
from iocgis.live.settings import LiveSettings
from iocgis.live.store import NOTIFY_CHANNEL
from iocgis.live.validate import Rejected
from iocgis.settings import Settings

log = logging.getLogger("iocgis.live.mqtt")
SWEEP_EVERY_S = 10.0


def client(name: str, address: broker.BrokerAddress, *, clean: bool = True) -> paho.Client:
    made = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=name, clean_session=clean,
                       protocol=paho.MQTTv311)
    if address.username:
        made.username_pw_set(address.username, address.password)
    made.max_inflight_messages_set(1000)
    made.max_queued_messages_set(0)
    return made


def parse(topic: str, payload: bytes, prefix: str,
          message: int = 0) -> tuple[str, list[Reading], list[Rejected]]:
    """(device, readings, refusals) of one message."""
    parts = topic[len(prefix) + 1:].split("/") if topic.startswith(prefix + "/") else []
    device = parts[0] if parts else ""
    if len(parts) not in (1, 3):
        return device, [], [Rejected("bad_topic", f"topic {topic[:120]!r} is not "
                                     f"{prefix}/<device>/<station>/<parameter>", device)]
    station, parameter = (parts[1], parts[2]) if len(parts) == 3 else (None, None)
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return device, [], [Rejected("bad_payload", "the payload is not JSON", device)]
    items = body if isinstance(body, list) else [body]
    readings, bad = [], []
    for item in items:
        try:
            readings.append(from_mapping(item, station=station, parameter=parameter,
                                         message=message))
        except BadReading as exc:
            bad.append(Rejected(exc.reason, exc.detail, device))
    return device, readings, bad


class Consumer:
    """Subscribes, batches what arrives, writes through the pipeline, acknowledges, sweeps
    silent sensors every few seconds and re-publishes latest readings and alerts for the
    public (``republish``)."""

    def __init__(self, settings: Settings, db_url: str, live: LiveSettings | None = None,
                 *, client_id: str = "iocgis-ingest") -> None:
        self.live = live or LiveSettings()
        self.address = broker.address(settings, self.live)
        self.db_url = db_url
        self.ingestor = Ingestor(db_url, self.live)
        self.totals = IngestResult()
        self._queue: deque[paho.MQTTMessage] = deque()
        self._wake = threading.Event()
        # checked batches on their way to the writer, in order (a few: memory stays bounded)
        self._checked: queue.Queue[tuple[list[paho.MQTTMessage], list[Prepared]] | None] = \
            queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._client = client(client_id, self.address, clean=False)
        self._client.manual_ack_set(True)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._threads: list[threading.Thread] = []
        self.connected = threading.Event()

    def _on_connect(self, c: paho.Client, userdata: Any, flags: Any, reason: Any,
                    props: Any = None) -> None:
        if reason.is_failure:
            log.error("the MQTT broker refused the platform: %s", reason)
            return
        c.subscribe(self.live.topic_prefix + "/#", qos=1)
        self.connected.set()

    def _on_message(self, c: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self._queue.append(message)
        if len(self._queue) >= self.live.batch_max:
            self._wake.set()

    def start(self) -> Consumer:
        self._client.connect(self.address.host, self.address.port, keepalive=30)
        self._client.loop_start()
        for target in (self._check_loop, self._write_loop, self._bridge_loop):
            thread = threading.Thread(target=target, daemon=True, name=target.__name__)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._client.loop_stop()
        self._client.disconnect()
        self.ingestor.close()

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.is_set():
                time.sleep(0.5)
        finally:
            self.stop()

    def _check_loop(self) -> None:
        """First stage: take what arrived, parse and check it (while the writer writes the
        batch before), hand it on in order."""
        while True:
            self._wake.wait(self.live.batch_wait_ms / 1000)
            self._wake.clear()
            taken = []
            while self._queue and len(taken) < self.live.batch_max:
                taken.append(self._queue.popleft())
            if taken:
                self._checked.put((taken, self._prepare(taken)))
            elif self._stop.is_set():
                break
        self._checked.put(None)

    def _prepare(self, messages: list[paho.MQTTMessage]) -> list[Prepared]:
        by_device: dict[str, tuple[list[Reading], list[Rejected]]] = {}
        for number, message in enumerate(messages):
            device, readings, bad = parse(message.topic, message.payload, self.live.topic_prefix,
                                          number)
            got = by_device.setdefault(device, ([], []))
            got[0].extend(readings)
            got[1].extend(bad)
        out = []
        for code, (readings, bad) in by_device.items():
            device = self.ingestor.device(code) if code else None
            if device is None:
                # the broker let it in, but the platform does not know the device (or it was
                # disabled): every reading is refused, and counted
                bad = bad + [Rejected("unknown_device", f"device {code!r} is not registered",
                                      code) for _ in readings]
                readings = []
            out.append(self.ingestor.prepare(readings, device=device, bad=bad))
        return out

    def _write_loop(self) -> None:
        """Second stage: write each checked batch, then acknowledge its messages; sweep silent
        sensors every few seconds. A failed write is tried again (its messages stay
        unacknowledged: after a crash the broker delivers them again)."""
        swept = time.monotonic()
        while True:
            try:
                item = self._checked.get(timeout=1.0)
            except queue.Empty:
                item = ()
            if item is None:
                break
            if item:
                messages, batches = item
                while batches:
                    try:
                        self.totals.add(self.ingestor.write(batches[0], channel="mqtt"))
                        batches = batches[1:]
                    except psycopg.Error:
                        log.exception("writing %d MQTT messages failed; trying again",
                                      len(messages))
                        if self._stop.is_set():
                            break
                        time.sleep(1.0)
                if batches:
                    continue  # stopping: unacknowledged, they come again
                for message in messages:  # committed: now the broker may forget them
                    self._client.ack(message.mid, message.qos)
            if time.monotonic() - swept > SWEEP_EVERY_S:
                swept = time.monotonic()
                try:
                    self.ingestor.sweep()
                except psycopg.Error:
                    log.exception("the silent-sensor sweep failed")

    def _bridge_loop(self) -> None:
        """Latest readings and alerts from every process (HTTP ingest too) out on MQTT, from
        PostgreSQL's NOTIFY, as the public may see them (``republish``)."""
        public = Republisher(self.live, get_registry())
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.db_url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            for event in orjson.loads(note.payload):
                                for topic, body, retain in public.messages(event):
                                    # alerts at least once; a latest value is replaced by
                                    # the next one anyway
                                    self._client.publish(topic, body, retain=retain,
                                                         qos=0 if retain else 1)
            except psycopg.Error:
                log.exception("the alert bridge lost the database; reconnecting")
                time.sleep(1.0)
