"""Tile settings (prefix ``IOCGIS_TILES_``), built with the app, never read at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TileSettings(BaseSettings):
    """How tiles are rendered, limited and cached."""

    model_config = SettingsConfigDict(env_prefix="IOCGIS_TILES_", extra="ignore",
                                      populate_by_name=True)

    # No tile may exceed this many bytes (uncompressed MVT); heavier tiles are thinned.
    size_budget: int = Field(default=500_000, ge=1_000)
    # MVT coordinate space of one tile and the buffer around it, in tile units.
    extent: int = 4096
    buffer: int = 64
    # Simplification tolerance in screen pixels (of a 256-px tile) at each zoom.
    simplify_px: float = Field(default=0.5, ge=0)
    # "auto": Redis when IOCGIS_REDIS_URL is set, else disk; or "disk", "redis", "none".
    cache: str = Field(default="auto", pattern="^(auto|disk|redis|none)$")
    cache_dir: Path | None = None  # default: <Settings.cache_dir>/tiles
    redis_url: str = Field(default="", validation_alias="IOCGIS_REDIS_URL")
    redis_ttl_s: int = 7 * 24 * 3600
    # Tiles kept in process memory in front of the disk or Redis cache.
    memory_cache_mb: int = Field(default=64, ge=0)
    # How long a read of meta.layers.data_version is trusted: an import shows within this time.
    version_ttl_s: float = Field(default=1.0, ge=0)
    # Browser and proxy cache lifetime of a tile.
    max_age_s: int = 60
    # Time limit of each tile statement (PostgreSQL statement_timeout, milliseconds): a
    # pathological tile must not hold a pooled connection for minutes. Over it: 503 with
    # Retry-After (retry_after_s), never a 500.
    statement_timeout_ms: int = Field(default=15_000, ge=1)
    retry_after_s: int = Field(default=30, ge=1)
    # Imports in replace mode build the tile-ready copy of tiled polygon and line layers
    # (``iocgis.tiles.generalised``: about 10 s of one core per million parcels, the tiles 2x
    # faster); off: tiles read the layers themselves.
    copies: bool = True
    # Restricted layers in tiles: one audit record per (caller, address, tileset, zoom) per
    # this many seconds in the process (TileJSON fetches are always recorded). 0: every tile.
    audit_window_s: float = Field(default=600, ge=0)
