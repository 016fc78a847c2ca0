"""The audit trail: write events, verify the hash chain, export for the SIEM, answer
"who accessed this layer since …".

The chain itself is built by the database (``audit.chain_event`` trigger, migration 0003):
writers only INSERT. ``verify`` recomputes every hash here, in Python, independently of the
database's functions, and compares the end of the chain with an anchor kept outside it.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.db import expect_row
from iocgis.errors import InvalidInput

GENESIS = "0" * 64
SYSLOG_FACILITY_AUTHPRIV = 10
PEN = 32473  # the example enterprise number of RFC 5612, for the structured-data id

_INSERT = ("INSERT INTO audit.events (actor, action, outcome, target, layer, client, details) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)")


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; a caller may send one (a forged login name, say)."""
    return None if value is None else value.replace("\x00", "\u2400")


def _params(actor: str, action: str, outcome: str, target: str | None, layer: str | None,
            client: str | None, details: dict[str, Any] | None) -> tuple:
    details_json = json.dumps(details or {}, ensure_ascii=False, default=str)
    # jsonb refuses the escape \u0000 as well: record the NUL as the symbol ␀.
    details_json = details_json.replace("\\u0000", "\u2400")
    return (_text(actor[:200]), _text(action[:100]), outcome, _text(target), _text(layer),
            _text(client), details_json)


async def record(conn: psycopg.AsyncConnection, *, actor: str, action: str, outcome: str = "ok",
                 target: str | None = None, layer: str | None = None, client: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
    """Append one event (in its own statement; the connection should be in autocommit)."""
    await conn.execute(_INSERT, _params(actor, action, outcome, target, layer, client, details))


def record_sync(conn: psycopg.Connection, *, actor: str, action: str, outcome: str = "ok",
                target: str | None = None, layer: str | None = None, client: str | None = None,
                details: dict[str, Any] | None = None) -> None:
    conn.execute(_INSERT, _params(actor, action, outcome, target, layer, client, details))


# --- verification ---------------------------------------------------------------------------

def _canon(value: str | None) -> str:
    return "-" if value is None else f"{len(value)}:{value}"


def event_hash(row: dict[str, Any]) -> str:
    """SHA-256 of the canonical form; the same as the database's ``audit.event_hash``."""
    at: datetime = row["at"].astimezone(UTC)
    text = "".join(_canon(v) for v in (
        str(row["seq"]), at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), row["actor"], row["action"],
        row["outcome"], row["target"], row["layer"], row["client"], row["details_text"],
        row["prev_hash"]))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class VerifyResult:
    checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(conn: psycopg.Connection, sql: str, params: tuple = ()) -> Iterator[dict[str, Any]]:
    # A server-side cursor (bounded memory on a year of events) needs a transaction.
    with conn.transaction(), conn.cursor(name="audit_scan", row_factory=dict_row) as cur:
        cur.itersize = 5000
        cur.execute(sql, params)
        yield from cur


def verify(conn: psycopg.Connection, anchor_file: Path | None = None) -> VerifyResult:
    """Walk the chain from the last prune mark: every hash, every link, no gap, no cut tail."""
    result = VerifyResult()
    mark = conn.execute("SELECT through_seq, through_hash FROM audit.prune_marks "
                        "ORDER BY through_seq DESC LIMIT 1").fetchone()
    expected_seq, expected_prev = (mark[0] + 1, mark[1]) if mark else (1, GENESIS)
    for row in _rows(conn, "SELECT seq, at, actor, action, outcome, target, layer, client, "
                           "details::text AS details_text, prev_hash, hash "
                           "FROM audit.events ORDER BY seq"):
        seq = row["seq"]
        if result.first_seq is None:
            result.first_seq = seq
        if seq != expected_seq:
            result.problems.append(f"records {expected_seq}..{seq - 1} are missing (deleted)")
        if row["prev_hash"] != expected_prev:
            result.problems.append(f"record {seq}: link to the previous record is broken "
                                   "(a record before it was edited, deleted or inserted)")
        if event_hash(row) != row["hash"]:
            result.problems.append(f"record {seq} was edited after it was written "
                                   f"({row['at']:%Y-%m-%d %H:%M:%S} {row['action']})")
        result.checked += 1
        result.last_seq, result.last_hash = seq, row["hash"]
        expected_seq, expected_prev = seq + 1, row["hash"]
    if anchor_file is not None:
        _check_anchor(conn, anchor_file, result)
    return result


def _database_identity(conn: psycopg.Connection) -> str:
    name, system_id = expect_row(conn.execute(
        "SELECT current_database(), (SELECT system_identifier FROM pg_control_system())"
    ).fetchone())
    return f"{system_id}/{name}"


def _check_anchor(conn: psycopg.Connection, anchor_file: Path, result: VerifyResult) -> None:
    """The tail a previous verify saw must still be there, unchanged; then move the anchor."""
    identity = _database_identity(conn)
    anchors: dict[str, Any] = {}
    if anchor_file.exists():
        try:
            anchors = json.loads(anchor_file.read_text())
        except (OSError, ValueError):
            result.problems.append(f"the anchor file {anchor_file} is unreadable")
    seen = anchors.get(identity)
    if seen:
        row = conn.execute("SELECT hash FROM audit.events WHERE seq = %s",
                           (seen["seq"],)).fetchone()
        pruned = expect_row(conn.execute(
            "SELECT coalesce(max(through_seq), 0) FROM audit.prune_marks").fetchone())[0]
        if row is None and seen["seq"] > pruned:
            result.problems.append(
                f"record {seen['seq']}, seen by the verify of {seen['at']}, is gone: "
                "the end of the trail was deleted")
        elif row is not None and row[0] != seen["hash"]:
            result.problems.append(f"record {seen['seq']} differs from what the verify of "
                                   f"{seen['at']} saw")
    if result.ok and result.last_seq is not None:
        anchors[identity] = {"seq": result.last_seq, "hash": result.last_hash,
                             "at": datetime.now(UTC).isoformat(timespec="seconds")}
        anchor_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = anchor_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(anchors, indent=1))
        tmp.chmod(0o600)
        tmp.replace(anchor_file)


# --- export and questions -------------------------------------------------------------------

def events(conn: psycopg.Connection, *, since: datetime | None = None,
           until: datetime | None = None, layer: str | None = None,
           actor: str | None = None, after_seq: int | None = None) -> Iterator[dict[str, Any]]:
    clauses, params = [], []
    for column, op, value in (("at", ">=", since), ("at", "<", until), ("layer", "=", layer),
                              ("actor", "=", actor), ("seq", ">", after_seq)):
        if value is not None:
            clauses.append(f"{column} {op} %s")
            params.append(value)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    yield from _rows(conn, "SELECT seq, at, actor, action, outcome, target, layer, client, "
                           f"details, prev_hash, hash FROM audit.events {where} ORDER BY seq",
                     tuple(params))


def as_json_line(event: dict[str, Any]) -> str:
    body = {**event, "at": event["at"].astimezone(UTC).isoformat()}
    return json.dumps(body, ensure_ascii=False, default=str, separators=(",", ":"))


def _sd_escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def as_syslog(event: dict[str, Any], hostname: str | None = None) -> str:
    """One RFC 5424 line (facility authpriv; warning for refusals and failures)."""
    severity = 5 if event["outcome"] == "ok" else 4
    pri = SYSLOG_FACILITY_AUTHPRIV * 8 + severity
    at = event["at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    host = (hostname or socket.gethostname() or "-")[:255]
    params = {"seq": event["seq"], "actor": event["actor"], "outcome": event["outcome"],
              "target": event["target"], "layer": event["layer"], "client": event["client"],
              "hash": event["hash"], "prev": event["prev_hash"]}
    sd = " ".join(f'{k}="{_sd_escape(v)}"' for k, v in params.items() if v is not None)
    message = json.dumps(event["details"], ensure_ascii=False, default=str)
    return f"<{pri}>1 {at} {host} iocgis - {event['action'][:32]} [iocgis@{PEN} {sd}] {message}"


def who_accessed(conn: psycopg.Connection, layer: str, since: datetime) -> list[dict[str, Any]]:
    """Per account and address: how often and when they read (or were refused) the layer."""
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        """
        SELECT actor, client, action, outcome, count(*) AS events, min(at) AS first_at,
               max(at) AS last_at
        FROM audit.events WHERE layer = %s AND at >= %s
        GROUP BY actor, client, action, outcome ORDER BY max(at) DESC
        """, (layer, since)).fetchall()


def prune(conn: psycopg.Connection, retention_months: int, actor: str) -> int:
    """Delete the records older than the retention (never below 3 months); record the prune."""
    if retention_months < 3:
        raise InvalidInput("audit retention may not be below 3 months", where="--months",
                           hint="use 3 or more (the default is 12)")
    removed = expect_row(conn.execute("SELECT audit.prune(now() - make_interval(months => %s))",
                                      (retention_months,)).fetchone())[0]
    record_sync(conn, actor=actor, action="audit.prune",
                details={"retention_months": retention_months, "removed": removed})
    return removed
