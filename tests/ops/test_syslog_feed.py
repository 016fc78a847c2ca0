"""The audit trail's syslog feed to the SOC: real TCP and UDP collectors on loopback receive
RFC 5424 records from `iocgis audit export --to`, each record once with --resume."""

from __future__ import annotations

import json
import os
import re
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from iocgis.errors import ConfigError, InvalidInput
from iocgis.ops import syslog_feed
from iocgis.security import audit

ROOT = Path(__file__).resolve().parents[2]
RFC5424 = re.compile(r"^<(\d+)>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ iocgis - (\S+) "
                     r"\[iocgis@32473 [^\]]*seq=\"(\d+)\"")


class Frames(socketserver.BaseRequestHandler):
    """RFC 6587 octet counting: '<length> <message>' repeated."""

    def handle(self) -> None:
        data = b""
        while chunk := self.request.recv(65536):
            data += chunk
        while data:
            length, _, rest = data.partition(b" ")
            self.server.messages.append(rest[:int(length)].decode())  # type: ignore[attr-defined]
            data = rest[int(length):]


@pytest.fixture
def tcp_collector() -> Iterator[tuple[str, list[str]]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Frames)
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}", server.messages  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def feed(db_url: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "iocgis"), "audit", "export",
                           "--format", "syslog", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**os.environ, "DATABASE_URL": db_url,
                                                      "IOCGIS_VAR_DIR": str(var_dir)})


def record(db_url: str, action: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        audit.record_sync(conn, actor="soc-test", action=action, outcome="denied",
                          details={"ghi_chú": "thử nguồn cấp"})
        return int(conn.execute("SELECT max(seq) FROM audit.events").fetchone()[0])


def arrived(messages: list[str], count: int) -> None:
    """Wait until the collector's handler thread has read ``count`` messages (or give up)."""
    for _ in range(100):
        if len(messages) >= count:
            return
        time.sleep(0.05)


def in_process(db_url: str, target: str, state: Path, **kwargs) -> int:  # noqa: ANN003
    with psycopg.connect(db_url, autocommit=True) as conn:
        return syslog_feed.feed(conn, syslog_feed.Collector.parse(target), state,
                                **{"resume": True, **kwargs})[0]


def test_tcp_feed_sends_each_record_once(db_url, tcp_collector, tmp_path) -> None:  # noqa: ANN001
    target, messages = tcp_collector
    first = record(db_url, "feed.first")
    done = feed(db_url, tmp_path, "--to", target, "--resume")  # the command, once
    assert done.returncode == 0, done.stderr
    arrived(messages, 1)
    parsed = [RFC5424.match(m) for m in messages]
    assert parsed and all(parsed), messages[:3]
    seqs = [int(p.group(3)) for p in parsed if p]
    assert seqs == sorted(seqs) and seqs[-1] == first
    mine = messages[-1]
    assert int(RFC5424.match(mine).group(1)) == 10 * 8 + 4  # authpriv, warning: a refusal
    assert "feed.first" in mine and "thử nguồn cấp" in mine
    state = tmp_path / "audit_feed.json"
    sent_before = len(messages)
    assert in_process(db_url, target, state) == 0 and len(messages) == sent_before
    second = record(db_url, "feed.second")
    assert in_process(db_url, target, state) == 1
    arrived(messages, sent_before + 1)
    assert len(messages) == sent_before + 1 and f'seq="{second}"' in messages[-1]


def test_udp_feed_and_unreachable_collector(db_url, tmp_path) -> None:  # noqa: ANN001
    seq = record(db_url, "feed.udp")
    state = tmp_path / "audit_feed.json"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as collector:
        collector.bind(("127.0.0.1", 0))
        port = collector.getsockname()[1]
        assert in_process(db_url, f"udp://127.0.0.1:{port}", state, resume=False,
                          since=datetime.now(UTC) - timedelta(hours=1)) >= 1
        received = []
        collector.settimeout(0.5)
        try:
            while True:
                received.append(collector.recv(65536).decode())
        except TimeoutError:
            pass
    assert any(f'seq="{seq}"' in m and "feed.udp" in m for m in received)
    assert all(RFC5424.match(m) for m in received)
    # nobody listens on a closed TCP port: a clear error naming the collector, nothing marked
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(ConfigError) as refused:
        in_process(db_url, closed, state)
    assert refused.value.where == closed and "cannot be reached" in refused.value.message
    assert closed not in json.loads(state.read_text())
    with pytest.raises(InvalidInput) as wrong:
        syslog_feed.Collector.parse("http://soc.example:514")
    assert wrong.value.where == "--to"
