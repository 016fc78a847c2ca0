"""Connector settings (prefix ``IOCGIS_SOURCES_``): where the definitions and the secrets are,
how the scheduler polls and backs off."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_ROOT = Path(__file__).resolve().parent.parent.parent


class SourceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOCGIS_SOURCES_", extra="ignore")

    # The source definitions (YAML, beside the layer registry).
    dir: Path = _ROOT / "layers" / "sources"
    # Credentials, outside the repository: a YAML mapping of entry -> {username, password} /
    # {token} / {headers}; readable by its owner only (mode 0600).
    secrets_file: Path = _ROOT / "var" / "secrets" / "sources.yaml"
    # After a failed run the next try waits backoff_base * 2^(failures-1), at most the cadence.
    backoff_base: timedelta = Field(default=timedelta(minutes=1), gt=timedelta(0))
    # How often `iocgis sources schedule` looks for due sources.
    poll_seconds: float = Field(default=30.0, gt=0)
