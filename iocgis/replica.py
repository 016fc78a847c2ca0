"""The project-local streaming read replica: a second cluster on loopback, made by
``pg_basebackup -R`` from the primary through a replication slot, streaming its WAL.

``iocgis replica start`` does everything once: checks that the primary allows replication from
loopback (``wal_level``, ``max_wal_senders``, a ``pg_hba`` replication line: the line is added
and the configuration reloaded when missing, never a restart), copies the primary into
``<data dir>-replica/`` with a slot of its own, and starts it on the primary's port + 1. Read
routing (``iocgis.read_routing``) uses it when ``IOCGIS_REPLICA_LOCAL=true`` or ``REPLICA_URL``
names another standby.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from iocgis import cluster
from iocgis.errors import DatabaseError
from iocgis.settings import Settings

REPLICA_MARK = "# --- iocgis read replica ---"
# Appended to the copied postgresql.conf: its own port; queries on the standby hold back the
# primary's vacuum of rows they still read (no "conflict with recovery" cancellations of tile
# and query reads); it never archives the primary's WAL a second time.
REPLICA_CONF = REPLICA_MARK + """
port = {port}
hot_standby = on
hot_standby_feedback = on
max_standby_streaming_delay = 30s
archive_mode = off
"""
HBA_LINE = "host    replication     all             127.0.0.1/32            scram-sha-256\n"


@dataclass(frozen=True)
class ReplicaStatus:
    data_dir: Path
    port: int
    initialised: bool
    running: bool
    slot: str
    slot_active: bool | None = None  # None: the primary was not asked
    lag_bytes: int | None = None

    def describe(self) -> str:
        state = "running" if self.running else ("stopped" if self.initialised else "not created")
        text = f"local read replica {state}: data {self.data_dir}, port {self.port}, slot {self.slot}"
        if self.slot_active is not None:
            text += f" ({'streaming' if self.slot_active else 'slot not in use'})"
        if self.lag_bytes is not None:
            text += f", {self.lag_bytes} bytes of WAL not yet replayed"
        return text


def port(settings: Settings) -> int:
    return settings.replica.port or settings.pg_port + 1


def data_dir(settings: Settings) -> Path:
    """``<primary data dir>-replica`` (beside the primary's, in its fallback when closed)."""
    if settings.replica.data_dir is not None:
        return settings.replica.data_dir
    primary = cluster.data_dir(settings)
    return primary.with_name(primary.name + "-replica")


def url(settings: Settings, dbname: str | None = None) -> str:
    """The local replica's URL: the primary's user and password on the replica's port."""
    primary = cluster.local_url(settings, dbname)
    return primary.replace(f"@127.0.0.1:{settings.pg_port}/", f"@127.0.0.1:{port(settings)}/", 1)


def configured_url(settings: Settings) -> str | None:
    """The replica reads are routed to: ``REPLICA_URL``, the local one when enabled, or none."""
    if settings.replica.url:
        return settings.replica.url
    if settings.replica.local:
        return url(settings)
    return None


def _pg_ctl(settings: Settings, *args: str):  # noqa: ANN202 - CompletedProcess[str]
    return cluster.run_as_server_user([str(cluster.require_bin_dir() / "pg_ctl"),
                                       "-D", str(data_dir(settings)), *args])


def allow_replication(primary_url: str) -> list[str]:
    """Make the primary accept a streaming standby from loopback without a restart; the
    changes made (none when it already does). A setting that needs a restart is an error that
    says so: the shared cluster is never restarted from here."""
    import psycopg

    changes: list[str] = []
    with psycopg.connect(primary_url, autocommit=True) as conn:
        wal_level = conn.execute("SHOW wal_level").fetchone()[0]  # type: ignore[index]
        senders = int(conn.execute("SHOW max_wal_senders").fetchone()[0])  # type: ignore[index]
        slots = int(conn.execute("SHOW max_replication_slots").fetchone()[0])  # type: ignore[index]
        if wal_level == "minimal" or senders < 2 or slots < 1:
            raise DatabaseError(
                f"the primary cannot feed a replica (wal_level={wal_level}, "
                f"max_wal_senders={senders}, max_replication_slots={slots})",
                where="primary postgresql.conf",
                hint="ALTER SYSTEM SET wal_level = replica; ALTER SYSTEM SET max_wal_senders = 10;"
                     " ALTER SYSTEM SET max_replication_slots = 10; then restart the primary "
                     "when nobody uses it (these need a restart; nothing was changed)")
        allowed = conn.execute(
            "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database) "
            "AND type = 'host' AND (address IS NULL OR address = '127.0.0.1' "
            "OR address = 'all') AND error IS NULL").fetchone()[0]  # type: ignore[index]
        if not allowed:
            hba = Path(conn.execute("SHOW hba_file").fetchone()[0])  # type: ignore[index]
            try:
                with open(hba, "a", encoding="utf-8") as handle:
                    handle.write("# iocgis read replica (streaming from loopback)\n" + HBA_LINE)
            except OSError as exc:
                raise DatabaseError("the primary's pg_hba.conf allows no replication from "
                                    "loopback and cannot be changed from here", where=str(hba),
                                    hint=f"add the line: {HBA_LINE.strip()} ; then "
                                         f"SELECT pg_reload_conf() ({exc})") from None
            conn.execute("SELECT pg_reload_conf()")
            changes.append(f"{hba}: replication from 127.0.0.1 allowed (configuration reloaded)")
    return changes


def status(settings: Settings) -> ReplicaStatus:
    ddir = data_dir(settings)
    initialised = (ddir / "PG_VERSION").exists()
    running = initialised and _pg_ctl(settings, "status").returncode == 0
    slot_active: bool | None = None
    lag: int | None = None
    try:
        import psycopg

        with psycopg.connect(cluster.local_url(settings, "postgres"), connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT s.active, pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint "
                "FROM pg_replication_slots s LEFT JOIN pg_stat_replication r "
                "ON r.pid = s.active_pid WHERE s.slot_name = %s",
                (settings.replica.slot,)).fetchone()
        if row is not None:
            slot_active, lag = bool(row[0]), None if row[1] is None else int(row[1])
    except Exception:  # noqa: BLE001 - the primary is away or has no password file: say less
        pass
    return ReplicaStatus(ddir, port(settings), initialised, running, settings.replica.slot,
                         slot_active, lag)


def _base_backup(settings: Settings, ddir: Path) -> None:
    """Copy the primary into ``ddir`` streaming its WAL, write the standby's connection and
    slot (``-R``), creating the slot unless it exists from an earlier replica."""
    import psycopg

    primary = cluster.local_url(settings, "postgres")
    with psycopg.connect(primary, autocommit=True) as conn:
        slot = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                            (settings.replica.slot,)).fetchone()
    if slot is not None and slot[0]:
        raise DatabaseError(f"the replication slot {settings.replica.slot} is in use by "
                            "another standby", where="pg_replication_slots",
                            hint="stop that standby, or set IOCGIS_REPLICA_SLOT to another name")
    if ddir.exists():
        shutil.rmtree(ddir)
    ddir.mkdir(parents=True, mode=0o700)  # empty, the server's: pg_basebackup fills it
    cluster.give_to_server_user(ddir)
    password = cluster.password_file(settings).read_text().strip()
    args = [str(cluster.require_bin_dir() / "pg_basebackup"), "-D", str(ddir),
            "-h", "127.0.0.1", "-p", str(settings.pg_port), "-U", settings.pg_user,
            "-X", "stream", "-R", "-c", "fast", "-S", settings.replica.slot, "--no-password"]
    if slot is None:
        args.append("-C")
    # -R writes the connection (with this password) into the standby's postgresql.auto.conf,
    # readable by the server's user only, as the primary's own files are.
    result = cluster.run_as_server_user(args, env={**os.environ, "PGPASSWORD": password})
    if result.returncode != 0:
        shutil.rmtree(ddir, ignore_errors=True)
        raise DatabaseError("pg_basebackup of the primary failed", where=str(ddir),
                            hint=result.stderr.strip()[-800:])
    # the primary's log came with the copy; the replica keeps its own
    (ddir / "server.log").unlink(missing_ok=True)
    with open(ddir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(REPLICA_CONF.format(port=port(settings)))


def start(settings: Settings) -> ReplicaStatus:
    """Create the local replica when missing (from the running primary), start it when
    stopped; the primary is made to allow replication first (without a restart)."""
    ddir = data_dir(settings)
    if not (ddir / "PG_VERSION").exists():
        for change in allow_replication(cluster.local_url(settings, "postgres")):
            print(f"primary: {change}")
        _base_backup(settings, ddir)
    if _pg_ctl(settings, "status").returncode != 0:
        log = ddir / "server.log"
        result = _pg_ctl(settings, "-l", str(log), "-o", f"-p {port(settings)}",
                         "-w", "-t", "60", "start")
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise DatabaseError(f"the read replica did not start on port {port(settings)}",
                                where=str(ddir), hint=(result.stderr.strip() + "\n" + tail).strip()
                                + f"\nIs port {port(settings)} taken? Set IOCGIS_REPLICA_PORT.")
    return status(settings)


def stop(settings: Settings, mode: str = "fast") -> ReplicaStatus:
    """Stop the replica (its slot stays, so it catches up when started again)."""
    if _pg_ctl(settings, "status").returncode == 0:
        result = _pg_ctl(settings, "-m", mode, "-w", "stop")
        if result.returncode != 0:
            raise DatabaseError("the read replica did not stop", where=str(data_dir(settings)),
                                hint=result.stderr.strip())
    return status(settings)


def drop(settings: Settings) -> None:
    """Stop the replica, remove its data directory and the primary's slot (WAL is no longer
    held for it)."""
    import psycopg

    stop(settings, "immediate")
    shutil.rmtree(data_dir(settings), ignore_errors=True)
    with psycopg.connect(cluster.local_url(settings, "postgres"), autocommit=True) as conn:
        conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                     "WHERE slot_name = %s AND NOT active", (settings.replica.slot,))
