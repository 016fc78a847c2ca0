"""Settings of the dossier file store (prefix ``IOCGIS_PLANNING_``), built with the app."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlanningSettings(BaseSettings):
    """Where dossier files live, how large they may be, and how they are scanned."""

    model_config = SettingsConfigDict(env_prefix="IOCGIS_PLANNING_", extra="ignore")

    # "local": the filesystem under files_dir (default ``<var_dir>/files``, outside any web
    # root). "s3" is the documented seam for an S3-compatible store: not built yet (start-up
    # says so rather than storing files somewhere unexpected).
    store: Literal["local", "s3"] = "local"
    files_dir: Path | None = None
    max_file_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    # A virus scanner run on every upload before it is stored, as an argument list with
    # "{path}" for the file, e.g. ["clamdscan", "--no-summary", "{path}"]: exit 0 clean,
    # 1 infected (refused), anything else an error (503, the upload is not kept).
    scan_command: list[str] = Field(default_factory=list)
    scan_timeout_s: float = Field(default=120, gt=0)
