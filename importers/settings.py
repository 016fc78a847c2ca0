"""Import settings (prefix ``IOCGIS_IMPORTS_``): approval before going live and its expiry."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ImportSettings(BaseSettings):
    """How imports of layers whose group needs approval are published."""

    model_config = SettingsConfigDict(env_prefix="IOCGIS_IMPORTS_", extra="ignore")

    # Every import goes live without a steward's approval (the demo server and tests; never
    # on a province's platform). An import asked to stop at pending (``--submit``) still does.
    auto_approve: bool = False
    # A pending import not approved or rejected within this time expires: its staging table is
    # dropped and the layer is free for the next import (ISO 8601 "P14D" or seconds).
    pending_expiry: timedelta = Field(default=timedelta(days=14), gt=timedelta(0))

    @field_validator("pending_expiry", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        """Seconds as text ("3600") too: pydantic reads only ISO 8601 from a string."""
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return value
