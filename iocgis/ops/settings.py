"""Settings of backups and WAL archiving (prefix ``IOCGIS_BACKUP_``), built when used."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BackupSettings(BaseSettings):
    """Where backups go, how many are kept, and how the local cluster archives its WAL."""

    model_config = SettingsConfigDict(env_prefix="IOCGIS_BACKUP_", extra="ignore")

    # Backup sets and the WAL archive (default ``<var_dir>/backups``; put it on another disk).
    dir: Path | None = None
    # Retention: the newest KEEP_SETS sets are kept, and any set younger than KEEP_DAYS;
    # archived WAL older than the oldest kept set's base backup is removed with them.
    keep_sets: int = Field(default=7, ge=1)
    keep_days: int = Field(default=0, ge=0)
    # The local cluster archives every finished WAL segment (gzip) for point-in-time recovery;
    # a quiet server still switches segments after ARCHIVE_TIMEOUT_S (the most a lost disk loses).
    archive: bool = True
    archive_timeout_s: int = Field(default=300, ge=30)
    # gzip level of base backups (1 fast ... 9 small); dumps use pg_dump's own compression.
    compress_level: int = Field(default=1, ge=0, le=9)
    # Seconds a restore (verify or PITR) may take to replay its WAL before it is given up.
    recovery_timeout_s: int = Field(default=3600, ge=10)

    def backup_dir(self, var_dir: Path) -> Path:
        return self.dir or var_dir / "backups"

    def wal_dir(self, var_dir: Path) -> Path:
        return self.backup_dir(var_dir) / "wal"


class ReplicaSettings(BaseSettings):
    """The streaming read replica and read routing (prefix ``IOCGIS_REPLICA_``; ``REPLICA_URL``).

    Routing is off unless a replica is named: ``REPLICA_URL`` (an existing standby, same user
    and password as the primary's URL) or ``IOCGIS_REPLICA_LOCAL=true`` (the project-local one
    made by ``iocgis replica start``)."""

    model_config = SettingsConfigDict(env_prefix="IOCGIS_REPLICA_", extra="ignore")

    url: str = Field(default="", validation_alias=AliasChoices("REPLICA_URL", "IOCGIS_REPLICA_URL"))
    local: bool = False
    # The project-local replica: its port (0: the primary's + 1) and data directory (default:
    # beside the primary's, ``<name>-replica``), the primary's replication slot it streams from.
    port: int = Field(default=0, ge=0, le=65535)
    data_dir: Path | None = None
    slot: str = Field(default="iocgis_replica", pattern=r"^[a-z0-9_]{1,63}$")
    # Reads go to the replica while its lag is at most MAX_LAG_S, measured every CHECK_S.
    max_lag_s: float = Field(default=5.0, gt=0)
    check_s: float = Field(default=1.0, gt=0)
    # How long a read waits for a replica connection before it is served by the primary.
    pool_timeout_s: float = Field(default=1.0, gt=0)
    pool_max: int = Field(default=16, ge=1)
    # A caller's reads stay on the primary after their write until the replica has replayed
    # it, PIN_MAX_S at most.
    pin_max_s: float = Field(default=600.0, gt=0)
