"""The audit trail as a syslog feed for the provincial SOC: RFC 5424 lines
(``iocgis.security.audit.as_syslog``) sent to a collector over UDP (RFC 5426, one datagram a
record) or TCP (RFC 6587 octet counting: ``<length> <message>``), resuming after the last
record the collector was sent (a small state file), so a timer sends each record once.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from iocgis.errors import ConfigError, InvalidInput
from iocgis.security import audit

DEFAULT_PORTS = {"udp": 514, "tcp": 601}
SEND_TIMEOUT_S = 10.0
BATCH = 500  # records per connection; the state file moves after each batch


@dataclass(frozen=True)
class Collector:
    transport: str  # udp | tcp
    host: str
    port: int

    @classmethod
    def parse(cls, target: str) -> Collector:
        """``udp://host[:port]`` or ``tcp://host[:port]`` (514 and 601 by default)."""
        parts = urlsplit(target)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise InvalidInput(f"unknown syslog collector {target!r}", where="--to",
                               hint="write udp://host:514 or tcp://host:601")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            raise InvalidInput(f"the port of {target!r} is not a number", where="--to",
                               hint="write udp://host:514 or tcp://host:601") from None
        return cls(parts.scheme, parts.hostname, port)


def send(lines: Iterable[str], collector: Collector) -> int:
    """Send every line; the number sent. A collector that cannot be reached is a ConfigError
    naming it (nothing is marked sent)."""
    count = 0
    kind = socket.SOCK_DGRAM if collector.transport == "udp" else socket.SOCK_STREAM
    where = f"{collector.transport}://{collector.host}:{collector.port}"
    try:
        with socket.create_connection((collector.host, collector.port), SEND_TIMEOUT_S) \
                if kind == socket.SOCK_STREAM else _udp(collector) as sock:
            for line in lines:
                message = line.encode("utf-8")
                if kind == socket.SOCK_STREAM:
                    sock.sendall(str(len(message)).encode() + b" " + message)
                else:
                    sock.send(message)
                count += 1
    except OSError as exc:
        raise ConfigError(f"the syslog collector {where} cannot be reached: {exc}", where=where,
                          hint="check the address and that the collector listens; the next "
                               "run sends from the same record") from None
    return count


def _udp(collector: Collector) -> socket.socket:
    family, _, _, _, address = socket.getaddrinfo(collector.host, collector.port,
                                                  type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.connect(address)
    return sock


def last_sent(state_file: Path, collector: Collector) -> int | None:
    """The last record's seq sent to this collector (None: from the first record)."""
    if not state_file.exists():
        return None
    seen = json.loads(state_file.read_text()).get(_key(collector))
    return int(seen) if seen is not None else None


def mark_sent(state_file: Path, collector: Collector, seq: int) -> None:
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    state[_key(collector)] = seq
    state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(state_file)


def _key(collector: Collector) -> str:
    return f"{collector.transport}://{collector.host}:{collector.port}"


def feed(conn: psycopg.Connection, collector: Collector, state_file: Path, *, resume: bool,
         since: datetime | None = None, until: datetime | None = None,
         layer: str | None = None) -> tuple[int, int | None]:
    """Send the trail's records (after the last one sent to this collector with ``resume``)
    in batches, moving the state file after each; (records sent, the seq resumed after)."""
    after = last_sent(state_file, collector) if resume else None
    sent, batch, last = 0, [], None
    for event in audit.events(conn, since=since, until=until, layer=layer, after_seq=after):
        batch.append(audit.as_syslog(event))
        last = event["seq"]
        if len(batch) == BATCH:
            sent += send(batch, collector)
            mark_sent(state_file, collector, last)
            batch = []
    if batch:
        sent += send(batch, collector)
    if last is not None:
        mark_sent(state_file, collector, last)
    return sent, after
