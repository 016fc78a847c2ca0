"""Settings, read from the environment (prefix ``IOCGIS_``) when built, never at import."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from iocgis.importers.connectors.settings import SourceSettings
from iocgis.importers.settings import ImportSettings
from iocgis.live.settings import LiveSettings
from iocgis.ops.settings import ReplicaSettings
from iocgis.planning_docs.settings import PlanningSettings
from iocgis.reports.settings import ReportsSettings
from iocgis.security.settings import SecuritySettings
from iocgis.tiles.settings import TileSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Where the database lives and how the server runs."""

    model_config = SettingsConfigDict(env_prefix="IOCGIS_", extra="ignore")

    # DATABASE_URL (no prefix, the usual name) points at any PostGIS; empty means the local cluster.
    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    pg_port: int = 55432
    pg_data_dir: Path = PROJECT_ROOT / ".pgdata"
    pg_fallback_root: Path = Path("/var/lib/iocgis")
    pg_dbname: str = "iocgis"
    pg_user: str = "iocgis"
    var_dir: Path = PROJECT_ROOT / "var"
    # Tile cache and imported rasters; default under var_dir.
    cache_dir_override: Path | None = Field(default=None, validation_alias="IOCGIS_CACHE_DIR")
    rasters_dir_override: Path | None = Field(default=None, validation_alias="IOCGIS_RASTERS_DIR")
    host: str = "127.0.0.1"
    port: int = 8000
    # Worker processes of `iocgis serve` (uvicorn's process manager); 0: one per CPU core.
    workers: int = Field(default=0, ge=0)
    # A worker that does not answer the manager's ping for this long is killed and replaced
    # (uvicorn's default, 5 s, kills workers still importing on a loaded 2-core machine).
    worker_healthcheck_s: int = Field(default=30, ge=1)
    # Shared state of the workers (rate limits, the API-key cache): REDIS_URL names an
    # existing Redis; empty: the project-local one (`iocgis redis start`, port redis_port)
    # when it runs, else each process keeps its own (one worker).
    redis_url: str = Field(default="", validation_alias="REDIS_URL")
    redis_port: int = 56379
    # How long a request waits for a pooled database connection before a 503 + Retry-After.
    pool_timeout_s: float = Field(default=5.0, gt=0)
    # The URL clients reach the server at, for links in OGC API responses (behind a proxy);
    # empty: the scheme and Host of each request.
    public_url: str = ""
    # PostgreSQL role the HTTP server's requests run as (SET ROLE at connection start):
    # "iocgis_api" (made by `iocgis db migrate`) reads layer rows only as a caller's group role
    # (the access plan), appends to the audit trail and cannot change it. Empty: the
    # connecting user. Imports always use the connecting user.
    serving_role: str = Field(default="iocgis_api", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")
    # Log lines: "text", or "json" (one JSON object a line with the request id; iocgis.ops.logs).
    log_format: str = Field(default="text", pattern=r"^(text|json)$")
    # The province the data belongs to (official 2-digit code); checks "inside the province".
    province_code: str = "75"
    # Level-3 security values (accounts, sessions, audit, HTTP hardening): IOCGIS_SECURITY_*.
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    # Vector tiles (cache, time limit, size budget, audit window): IOCGIS_TILES_*.
    tiles: TileSettings = Field(default_factory=TileSettings)
    # Approval of imports before they go live, its expiry: IOCGIS_IMPORTS_*.
    imports: ImportSettings = Field(default_factory=ImportSettings)
    # Connectors: source definitions, their secrets file, back-off: IOCGIS_SOURCES_*.
    sources: SourceSettings = Field(default_factory=SourceSettings)
    # The streaming read replica and read routing: REPLICA_URL, IOCGIS_REPLICA_*.
    replica: ReplicaSettings = Field(default_factory=ReplicaSettings)
    # Live data (broker, topics, batches, tolerances): IOCGIS_LIVE_*, MQTT_URL.
    live: LiveSettings = Field(default_factory=LiveSettings)
    # The dossier file store (local or S3, limits, scanning): IOCGIS_PLANNING_*.
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    # Reports (their folder, the map renderer): IOCGIS_REPORTS_*.
    reports: ReportsSettings = Field(default_factory=ReportsSettings)

    @property
    def cache_dir(self) -> Path:
        return self.cache_dir_override or self.var_dir / "cache"

    @property
    def rasters_dir(self) -> Path:
        return self.rasters_dir_override or self.var_dir / "rasters"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` instead); a wrong
    environment variable is a ConfigError naming it, not a traceback."""
    from pydantic import ValidationError

    from iocgis.errors import ConfigError
    from iocgis.yamlfile import invalid

    try:
        return Settings()
    except ValidationError as exc:
        field = ".".join(str(p) for p in exc.errors()[0]["loc"])
        variable = f"IOCGIS_{field.split('.')[0].upper()}" if field != "DATABASE_URL" else field
        problem = invalid(exc, "setting", variable)
        raise ConfigError(f"{problem.message} (setting {field})", where=variable,
                          hint=f"fix or unset the environment variable {variable}") from None
