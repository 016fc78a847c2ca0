"""A throw-away PostgreSQL cluster: its own temporary folder, its own loopback port, started and
stopped with ``pg_ctl``. Backups are verified in one; tests stop and start one to play faults."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from pathlib import Path

from iocgis import cluster
from iocgis.errors import DatabaseError


def wait_until_open(url: str, data_dir: Path, log: Path, timeout_s: int) -> None:
    """Wait until a server replaying WAL has finished (pg_ctl's wait ends earlier: at the
    consistent point) and takes connections; a server that died says why."""
    import psycopg

    bin_dir = cluster.require_bin_dir()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
                    return
        except psycopg.OperationalError as exc:
            alive = cluster.run_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "status"])
            if alive.returncode != 0:
                tail = log.read_text(errors="replace")[-1500:] if log.exists() else str(exc)
                raise DatabaseError("the restored cluster stopped while replaying WAL",
                                    where=str(data_dir), hint=tail) from None
        if time.monotonic() > deadline:
            raise DatabaseError(f"the restored cluster was still replaying WAL after {timeout_s} s",
                                where=str(data_dir), hint="raise IOCGIS_BACKUP_RECOVERY_TIMEOUT_S")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ScratchCluster:
    """A data directory in a temporary folder the server's user can reach, on a free port."""

    def __init__(self, label: str, port: int | None = None) -> None:
        self.bin_dir = cluster.require_bin_dir()
        # /tmp, not a private folder: the server's user must traverse every parent
        self.root = Path(tempfile.mkdtemp(prefix=f"iocgis-{label}-", dir="/tmp"))
        self.root.chmod(0o711)
        self.data_dir = self.root / "pgdata"
        self.log = self.root / "server.log"
        self.port = port or free_port()

    def __enter__(self) -> ScratchCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, user: str, password: str, dbname: str) -> str:
        from urllib.parse import quote

        return f"postgresql://{quote(user)}:{quote(password)}@127.0.0.1:{self.port}/{quote(dbname)}"

    def start(self, timeout_s: int = 120) -> float:
        """Start the server (replaying WAL first when it is a restore); the seconds it took."""
        cluster.give_to_server_user(self.root)
        began = time.monotonic()
        result = cluster.run_as_server_user([
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log),
            "-o", f"-p {self.port}", "-w", "-t", str(timeout_s), "start"])
        if result.returncode != 0:
            raise DatabaseError(f"the scratch cluster did not start on port {self.port}",
                                where=str(self.data_dir), hint=self.log_tail() or result.stderr)
        return time.monotonic() - began

    def running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        status = cluster.run_as_server_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir),
                                             "status"])
        return status.returncode == 0

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            cluster.run_as_server_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir),
                                        "-m", mode, "-w", "stop"])

    def log_tail(self, chars: int = 1500) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
