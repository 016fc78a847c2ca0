"""Live-data settings (``IOCGIS_LIVE_*``; ``MQTT_URL`` for an existing broker), built when asked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:  # the app's Settings hold these (Settings.live)
    from iocgis.settings import Settings


class LiveSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOCGIS_LIVE_", extra="ignore")

    # An existing broker (mqtt://user:password@host:port); empty: the project-local Mosquitto.
    mqtt_url: str = Field(default="", validation_alias="MQTT_URL")
    # The project-local broker: its own port on 127.0.0.1, never the machine's 1883.
    broker_port: int = 51883
    broker_dir_override: Path | None = Field(default=None,
                                             validation_alias="IOCGIS_LIVE_BROKER_DIR")
    # Topics: <prefix>/<device>/<station>/<parameter>; the broker lets a device publish only
    # under its own name (ACL pattern), the platform checks the datastream is the device's.
    topic_prefix: str = "iocgis/obs"
    # Re-published for dashboards (public layers only): alerts, and latest readings (retained).
    alert_topic: str = "iocgis/alerts"
    latest_topic: str = "iocgis/latest"
    # A reading stamped later than now + this is refused (clock of a logger gone wrong).
    future_tolerance_s: float = 300.0
    # A datastream is late after 1.5 cadences without data, silent after this many.
    silent_after_cadences: float = 3.0
    # The consumer writes what arrived every batch_wait_ms or every batch_max readings.
    batch_max: int = Field(default=5000, ge=1, le=100_000)
    batch_wait_ms: int = Field(default=50, ge=1, le=10_000)
    # (iot.latest's data_version, on which the tile caches key, moves in the transaction that
    # writes an alarm level or freshness change, so the map's colours follow within a tile
    # request; the values themselves go out by SSE. Nothing to set.)

    def broker_dir(self, settings: Settings) -> Path:
        return self.broker_dir_override or settings.var_dir / "mosquitto"
