"""Settings of the reports (``IOCGIS_REPORTS_*``), part of the app's ``Settings.reports``."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportsSettings(BaseSettings):
    """``IOCGIS_REPORTS_*``: where the files go, the map renderer's pool and time limit."""

    model_config = SettingsConfigDict(env_prefix="IOCGIS_REPORTS_", extra="ignore")
    dir: Path | None = None  # default <var>/reports
    map_pages: int = 2
    map_timeout_s: float = 60
    concurrent: int = 1  # generations at once (each uses a core for PDF and maps)
    write_in_process: bool = True  # PDF/XLSX in a spawned process (servers); the CLI: a thread
