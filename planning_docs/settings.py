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
    # root). "s3": an S3-compatible bucket (``s3store``); files_dir (default
    # ``<var_dir>/files-s3``) then holds the upload spool and the checked download cache.
    # Credentials: boto3's own chain (AWS_ACCESS_KEY_ID ..., a profile, an instance role).
    store: Literal["local", "s3"] = "local"
    files_dir: Path | None = None
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None  # e.g. http://127.0.0.1:9000 for MinIO; None: AWS
    s3_region: str | None = None
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    max_file_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    # A virus scanner run on every upload before it is stored, as an argument list with
    # "{path}" for the file, e.g. ["clamdscan", "--no-summary", "{path}"]: exit 0 clean,
    # 1 infected (refused), anything else an error (503, the upload is not kept).
    scan_command: list[str] = Field(default_factory=list)
    scan_timeout_s: float = Field(default=120, gt=0)
