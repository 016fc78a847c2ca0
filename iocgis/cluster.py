"""The project-local PostgreSQL + PostGIS cluster (data directory in the checkout, its own port).

``initdb`` refuses to run as root, so when we are root the server runs as the ``postgres``
user; that user must be able to traverse every parent of the data directory. When the
checkout's path is closed to it, the cluster lives under ``/var/lib/iocgis/<checkout-id>/``
instead (said once on start).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from iocgis.errors import DatabaseError
from iocgis.ops.settings import BackupSettings
from iocgis.settings import Settings

PG_LIB = Path("/usr/lib/postgresql")
SERVER_CONF = """
# --- iocgis local cluster ---
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
max_connections = 200
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 512MB
effective_cache_size = 4GB
jit = off
max_wal_size = 4GB
checkpoint_timeout = 15min
random_page_cost = 1.1
timezone = 'UTC'
log_timezone = 'UTC'
client_encoding = 'UTF8'
"""
ARCHIVE_MARK = "# --- iocgis WAL archive"
# Every finished WAL segment gzip-compressed into the archive (point-in-time recovery,
# ``iocgis backup``); a segment already there is an error, never overwritten.
ARCHIVE_CONF = ARCHIVE_MARK + """ (point-in-time recovery: iocgis backup) ---
archive_mode = on
archive_command = '{command}'
archive_timeout = {timeout}
"""


@dataclass(frozen=True)
class ClusterStatus:
    data_dir: Path
    port: int
    initialised: bool
    running: bool
    bin_dir: Path | None

    def describe(self) -> str:
        state = "running" if self.running else ("stopped" if self.initialised else "not created")
        return f"local cluster {state}: data {self.data_dir}, port {self.port}"


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL whose PostGIS extension is present."""
    if not PG_LIB.is_dir():
        return None
    versions = sorted((p for p in PG_LIB.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    for ver in reversed(versions):
        control = Path(f"/usr/share/postgresql/{ver.name}/extension/postgis.control")
        if (ver / "bin" / "initdb").exists() and control.exists():
            return ver / "bin"
    return None


def _is_root() -> bool:
    return os.geteuid() == 0


def _server_user() -> str:
    return "postgres" if _is_root() else pwd.getpwuid(os.geteuid()).pw_name


def _reachable_by(user: str, path: Path) -> bool:
    """Can ``user`` traverse every existing parent of ``path``?"""
    if not _is_root() or user == "root":
        return True
    probe = path
    while not probe.exists():
        probe = probe.parent
    result = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(probe)],
                            capture_output=True)
    return result.returncode == 0


def data_dir(settings: Settings) -> Path:
    """The data directory: in the checkout, or the documented fallback when it is closed."""
    preferred = settings.pg_data_dir
    if _reachable_by(_server_user(), preferred.parent):
        return preferred
    checkout_id = hashlib.sha256(str(preferred).encode()).hexdigest()[:12]
    return settings.pg_fallback_root / checkout_id / "pgdata"


def password_file(settings: Settings) -> Path:
    return settings.var_dir / "pg_password"


def local_url(settings: Settings, dbname: str | None = None) -> str:
    pw_file = password_file(settings)
    if not pw_file.exists():
        raise DatabaseError(
            "the local cluster has no password file yet",
            where=str(pw_file),
            hint="run `iocgis db start` (or the README's first command) to create the cluster, "
                 "or set DATABASE_URL to an existing PostGIS",
        )
    password = pw_file.read_text().strip()
    return (f"postgresql://{settings.pg_user}:{password}@127.0.0.1:{settings.pg_port}/"
            f"{dbname or settings.pg_dbname}")


def run_as_server_user(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a PostgreSQL program as the user the server runs as (``postgres`` when root)."""
    cmd = ["runuser", "-u", "postgres", "--", *args] if _is_root() else args
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)



def give_to_server_user(path: Path) -> None:
    """Hand ``path`` (recursively) to the server's user: a data directory or the WAL archive."""
    if not _is_root():
        return
    shutil.chown(path, user="postgres", group="postgres")
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), *_postgres_ids())


def _postgres_ids() -> tuple[int, int]:
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def wal_archive_dir(settings: Settings, backup: BackupSettings | None = None) -> Path:
    """Where the local cluster archives its WAL: ``<backup dir>/wal``, or beside the data
    directory's fallback when the checkout is closed to the server's user."""
    preferred = (backup or BackupSettings()).wal_dir(settings.var_dir)
    if _reachable_by(_server_user(), preferred.parent):
        return preferred
    return data_dir(settings).parent / "wal-archive"


def archive_conf(settings: Settings, backup: BackupSettings | None = None) -> str:
    """The postgresql.conf block that archives WAL into :func:`wal_archive_dir`."""
    backup = backup or BackupSettings()
    wal = shlex.quote(str(wal_archive_dir(settings, backup)))
    command = (f"test ! -f {wal}/%f.gz && gzip -1 < %p > {wal}/%f.gz.part "
               f"&& mv {wal}/%f.gz.part {wal}/%f.gz")
    return ARCHIVE_CONF.format(command=command.replace("'", "''"), timeout=backup.archive_timeout_s)


def _prepare_archive(settings: Settings, backup: BackupSettings, ddir: Path) -> None:
    """Create the WAL archive folder and, once, add the archive block to postgresql.conf
    (a cluster made before archiving existed gets it on its next start)."""
    if not backup.archive:
        return
    conf = ddir / "postgresql.conf"
    if ARCHIVE_MARK in conf.read_text(encoding="utf-8"):
        return
    wal = wal_archive_dir(settings, backup)
    wal.parent.mkdir(parents=True, exist_ok=True)
    wal.parent.chmod(0o711)
    wal.mkdir(mode=0o700, exist_ok=True)
    give_to_server_user(wal)
    with open(conf, "a", encoding="utf-8") as handle:
        handle.write(archive_conf(settings, backup))


def status(settings: Settings) -> ClusterStatus:
    bin_dir = find_bin_dir()
    ddir = data_dir(settings)
    initialised = (ddir / "PG_VERSION").exists() if ddir.parent.exists() else False
    running = False
    if initialised and bin_dir is not None:
        running = run_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(ddir), "status"]).returncode == 0
    return ClusterStatus(ddir, settings.pg_port, initialised, running, bin_dir)


def require_bin_dir() -> Path:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise DatabaseError(
            "PostgreSQL with PostGIS is not installed",
            where=str(PG_LIB),
            hint="run `./iocgis.sh run` (installs Debian's postgresql and postgresql-<ver>-postgis-3) "
                 "or `apt-get install postgresql postgresql-15-postgis-3`",
        )
    return bin_dir


def _initdb(settings: Settings, bin_dir: Path, ddir: Path) -> None:
    _server_user()
    ddir.mkdir(parents=True, exist_ok=True)
    if _is_root():
        shutil.chown(ddir, user="postgres", group="postgres")
    ddir.chmod(0o700)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    pw_file = password_file(settings)
    if not pw_file.exists():
        pw_file.write_text(secrets.token_urlsafe(24) + "\n")
        pw_file.chmod(0o600)
    with tempfile.NamedTemporaryFile("w", delete=False, dir="/tmp", prefix="iocgis-pw-") as tmp:
        tmp.write(pw_file.read_text())
    try:
        if _is_root():
            shutil.chown(tmp.name, user="postgres")
        result = run_as_server_user([
            str(bin_dir / "initdb"), "-D", str(ddir), "-U", settings.pg_user, f"--pwfile={tmp.name}",
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
        ])
    finally:
        os.unlink(tmp.name)
    if result.returncode != 0:
        raise DatabaseError("initdb failed", where=str(ddir), hint=result.stderr.strip()[-500:])
    with open(ddir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(SERVER_CONF.format(port=settings.pg_port))


def start(settings: Settings, backup: BackupSettings | None = None) -> ClusterStatus:
    """Create the cluster when missing, start it when stopped (archiving its WAL unless
    ``IOCGIS_BACKUP_ARCHIVE=false``), ensure the database exists."""
    bin_dir = require_bin_dir()
    ddir = data_dir(settings)
    if ddir != settings.pg_data_dir:
        print(f"note: {settings.pg_data_dir.parent} is closed to the postgres user; "
              f"the cluster lives in {ddir}")
    if not (ddir / "PG_VERSION").exists():
        _initdb(settings, bin_dir, ddir)
    current = status(settings)
    if not current.running:
        _prepare_archive(settings, backup or BackupSettings(), ddir)
        result = run_as_server_user([
            str(bin_dir / "pg_ctl"), "-D", str(ddir), "-l", str(ddir / "server.log"),
            "-o", f"-p {settings.pg_port}", "-w", "-t", "60", "start",
        ])
        if result.returncode != 0:
            log_tail = ""
            log = ddir / "server.log"
            if log.exists():
                log_tail = log.read_text(errors="replace")[-800:]
            raise DatabaseError(
                f"the local cluster did not start on port {settings.pg_port}",
                where=str(ddir),
                hint=(result.stderr.strip() + "\n" + log_tail).strip()
                + f"\nIs port {settings.pg_port} taken? Set IOCGIS_PG_PORT to another port.",
            )
    ensure_database(settings, settings.pg_dbname)
    return status(settings)


def ensure_database(settings: Settings, dbname: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(local_url(settings, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(dbname)))


def stop(settings: Settings) -> ClusterStatus:
    current = status(settings)
    if current.running and current.bin_dir is not None:
        result = run_as_server_user([str(current.bin_dir / "pg_ctl"), "-D", str(current.data_dir),
                                      "-m", "fast", "-w", "stop"])
        if result.returncode != 0:
            raise DatabaseError("the local cluster did not stop", where=str(current.data_dir),
                                hint=result.stderr.strip())
    return status(settings)
