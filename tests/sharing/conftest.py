"""Fixtures of the sharing tests: one migrated database with parcels in two communes, houses,
communes and places (open data), one real server on it, and an administrator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from iocgis.settings import Settings

from ..conftest import LiveServer, scratch_database
from ..security.security_helpers import Account, _create, insert_sample, run_async

A, B = "26041", "26068"
LON, LAT = 106.8243, 10.9447
SQUARE = "MULTIPOLYGON((({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0})))"


def square(lon: float, lat: float, d: float = 0.0002) -> str:
    return SQUARE.format(x0=lon - d, y0=lat - d, x1=lon + d, y1=lat + d)


@pytest.fixture(scope="session")
def sharing_db_url(base_settings: Settings) -> Iterator[str]:
    with scratch_database(base_settings, "sharing") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            fids = {}
            for commune, dx, sheet, holder in ((A, 0.0, 7701, "Lê Được Chia"),
                                               (B, 0.0004, 7702, "Lê Không Chia")):
                fids[commune] = insert_sample(
                    conn, "land.parcels", commune_code=commune, sheet_no=sheet, parcel_no=3,
                    area_m2=500.5, land_use="ONT", holder_name=holder,
                    address=f"Số {sheet} đường Chia Sẻ", geom=square(LON + dx, LAT))
            insert_sample(conn, "housing.houses", commune_code=A, house_id="SHARE-1",
                          geom=f"POINT({LON} {LAT})")
            for code, name, dx in ((A, "Phường Trấn Biên", 0.0), (B, "Xã Phước Thiền", 0.1)):
                insert_sample(conn, "admin.communes", code=code, name=name,
                              geom=square(LON + dx, LAT, 0.01))
            for i in range(3):
                insert_sample(conn, "base.places", place_id=f"P{i}", name=f"Ấp Mở {i}",
                              geom=f"POINT({LON + i / 100} {LAT})")
            conn.execute("UPDATE meta.layers SET data_version = data_version + 1, "
                         "updated_at = now() WHERE id IN ('admin.communes', 'base.places')")
        yield url


@pytest.fixture(scope="session")
def sharing_settings(base_settings: Settings, sharing_db_url: str,
                     tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var = tmp_path_factory.mktemp("sharing-var")
    return base_settings.model_copy(update={"database_url": sharing_db_url, "var_dir": var,
                                            "cache_dir_override": Path(var) / "cache"})


@pytest.fixture(scope="session")
def sharing_server(sharing_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(sharing_settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sharing_admin(sharing_db_url: str, sharing_settings: Settings) -> Account:
    return run_async(_create(sharing_db_url, sharing_settings, "shareadmin", ["admin"],
                             totp=True))


@pytest.fixture(scope="session")
def parcel_fids(sharing_db_url: str) -> dict[str, int]:
    with psycopg.connect(sharing_db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT commune_code, fid FROM land.parcels "
                            "WHERE sheet_no IN (7701, 7702)").fetchall()
    return dict(rows)
