"""Fixtures of the live-data tests: one database with a few stations, flood zones, houses,
shelters and an incident; a private Mosquitto on a free port (its own folder); the real HTTP
server; the real MQTT consumer; devices and accounts."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from iocgis.live import broker
from iocgis.live.datastreams import create_datastream, create_device
from iocgis.live.mqtt import Consumer
from iocgis.live.settings import LiveSettings
from iocgis.settings import Settings

from ..conftest import LiveServer, free_port, scratch_database

A, B = "26041", "26068"
FIXTURES = """
INSERT INTO admin.communes (code, name, type, province_code, geom) VALUES
 ('26041', 'Phường A', 'Phường', '75', ST_Multi(ST_MakeEnvelope(106.80, 10.90, 106.90, 11.00, 4326))),
 ('26068', 'Xã B', 'Xã', '75', ST_Multi(ST_MakeEnvelope(106.90, 10.75, 107.00, 10.85, 4326)));
INSERT INTO iot.stations (station_code, name, kind, commune_code, alert_1, alert_2, alert_3,
                          alert_source, geom) VALUES
 ('TV-A', 'Trạm thủy văn A', 'muc_nuoc_song', '26041', 1.8, 2.2, 2.6,
  'Quyết định 05/2020/QĐ-TTg', ST_SetSRID(ST_MakePoint(106.83, 10.95), 4326)),
 ('TV-B', 'Trạm thủy văn B', 'muc_nuoc_song', '26068', 1.6, 2.0, 2.4, NULL,
  ST_SetSRID(ST_MakePoint(106.95, 10.80), 4326)),
 ('KK-A', 'Trạm không khí A', 'khong_khi', '26041', NULL, NULL, NULL, NULL,
  ST_SetSRID(ST_MakePoint(106.84, 10.96), 4326));
INSERT INTO emergency.flood_zones (zone_code, scenario, max_depth_m, geom) VALUES
 ('VN-A2', 'bao_dong_2', 1.2, ST_Multi(ST_MakeEnvelope(106.82, 10.94, 106.84, 10.96, 4326))),
 ('VN-A3', 'bao_dong_3', 2.0, ST_Multi(ST_MakeEnvelope(106.815, 10.935, 106.845, 10.965, 4326)));
INSERT INTO housing.houses (house_id, commune_code, household_size, is_poor, is_near_poor, geom,
                            footprint)
SELECT 'H-' || i, '26041', 4, i % 3 = 0, i % 3 = 1, ST_PointOnSurface(f), f
FROM generate_series(1, 30) i,
     ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(106.821 + i * 0.0005, 10.95), 4326), 0.0001)) f;
INSERT INTO emergency.shelters (shelter_id, name, capacity_people, commune_code, geom) VALUES
 ('SH-1', 'Trường THCS Hòa Bình', 400, '26041', ST_SetSRID(ST_MakePoint(106.85, 10.95), 4326)),
 ('SH-FAR', 'Nhà văn hóa xa', 200, '26068', ST_SetSRID(ST_MakePoint(107.30, 11.30), 4326));
INSERT INTO emergency.incidents (incident_code, kind, title, status, severity, reported_at,
                                 commune_code, geom) VALUES
 ('SC-LIVE-1', 'lu_lut', 'Ngập sâu đường Nguyễn Ái Quốc', 'moi', 3, now(), '26041',
  ST_SetSRID(ST_MakePoint(106.83, 10.95), 4326)),
 ('SC-LIVE-B', 'chay', 'Cháy kho', 'moi', 2, now(), '26068',
  ST_SetSRID(ST_MakePoint(106.95, 10.80), 4326));
"""


@dataclass
class LiveWorld:
    url: str
    settings: Settings
    live: LiveSettings
    server: LiveServer
    consumer: Consumer
    keys: dict[str, str]  # device code -> key
    streams: dict[str, int]  # "STATION/parameter" -> datastream id
    api_keys: dict[str, str]  # account -> API key


async def _accounts(url: str, settings: Settings) -> dict[str, str]:
    from iocgis.security import accounts, login

    actor = accounts.Actor("live-tests")
    keys = {}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for name, roles, communes in (("l_officer", ["gis_officer"], []),
                                      ("l_analyst", ["analyst"], []),
                                      ("l_scoped", ["gis_officer"], [A])):
            await accounts.create(conn, settings.security, actor, name=name, roles=roles,
                                  communes=communes)
            await conn.execute("UPDATE security.accounts SET must_change_password = false "
                               "WHERE name = %s", (name,))
            keys[name], _ = await login.create_api_key(conn, actor, name, label="live tests")
    return keys


@pytest.fixture(scope="session")
def world(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[LiveWorld]:
    folder: Path = tmp_path_factory.mktemp("mosquitto")
    live = LiveSettings(broker_port=free_port(), IOCGIS_LIVE_BROKER_DIR=folder,
                        batch_wait_ms=20, MQTT_URL="")
    with scratch_database(base_settings, "live") as url:
        settings = base_settings.model_copy(update={"database_url": url, "live": live})
        streams: dict[str, int] = {}
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(FIXTURES)
            for station, parameter, unit, low, high in (
                    ("TV-A", "water_level", "m", -5, 20), ("TV-B", "water_level", "m", -5, 20),
                    ("KK-A", "aqi", "", 0, 500), ("TV-A", "discharge", "m³/s", 0, 20_000)):
                streams[f"{station}/{parameter}"] = create_datastream(
                    conn, station, parameter, unit, cadence_s=3600, min_value=low,
                    max_value=high)
            keys = {"gw-http": create_device(conn, "gw-http", list(streams.values())),
                    "gw-mqtt": create_device(conn, "gw-mqtt", [streams["TV-B/water_level"],
                                                               streams["KK-A/aqi"]]),
                    "gw-other": create_device(conn, "gw-other", [streams["KK-A/aqi"]])}
        broker.start(settings, live)
        for code in ("gw-mqtt", "gw-other"):
            broker.set_password(broker.folder(settings, live), code, keys[code].split(":", 1)[1])
        broker.reload(settings, live)
        consumer = Consumer(settings, url, live, client_id="iocgis-test-ingest").start()
        assert consumer.connected.wait(10), "the consumer did not connect to the broker"
        server = LiveServer(settings).start()
        api_keys = asyncio.run(_accounts(url, settings))
        try:
            yield LiveWorld(url, settings, live, server, consumer, keys, streams, api_keys)
        finally:
            server.stop()
            consumer.stop()
            broker.stop(settings, live)
            used = broker.folder(settings, live)
            shutil.rmtree(used, ignore_errors=True)
            if used.parent.parent == settings.pg_fallback_root:  # the fallback's own folder
                shutil.rmtree(used.parent, ignore_errors=True)


@pytest.fixture
def http(world: LiveWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.server.url, timeout=30) as client:
        yield client


@pytest.fixture
def db(world: LiveWorld) -> Iterator[psycopg.Connection]:
    with psycopg.connect(world.url, autocommit=True) as conn:
        yield conn
