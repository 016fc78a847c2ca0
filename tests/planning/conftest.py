"""Fixtures of the planning dossier tests: their own migrated database with a small planning
data set (a master plan with one zone, detailed-plan projects awaiting their dossiers, parcels
across zone edges), one real HTTP server for the whole area with its own file store (in a
temporary folder, with a virus-scan command that refuses the EICAR marker), and API keys of
an analyst, a GIS officer, an administrator and a commune-limited officer."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import shapely

from iocgis.api.app import create_app
from iocgis.planning_docs.filestore import LocalFileStore
from iocgis.planning_docs.service import Planning
from iocgis.planning_docs.settings import PlanningSettings
from iocgis.settings import Settings

from ..conftest import LiveServer, scratch_database
from ..security.security_helpers import Account, _create, api_key_for, insert_sample, run_async

MASTER_PLAN = "QHC-TEST"
# Each flow has its own detailed plan (and parcels) so no test depends on another's changes.
REGIONS = {  # project code -> (west, south, east, north)
    "QHCT-PAGE-01": (106.8300, 10.9500, 106.8330, 10.9530),
    "QHCT-LK-01": (106.8400, 10.9500, 106.8430, 10.9530),
    "QHCT-API-01": (106.8300, 10.9400, 106.8330, 10.9430),
}
SCAN_MARKER = "EICAR-IOCGIS-TEST-SIGNATURE"
MAX_FILE_BYTES = 3 * 1024 * 1024


def halves(code: str) -> tuple[shapely.Polygon, shapely.Polygon]:
    """The west and east halves of a detailed plan's region (its two DXF zones)."""
    west, south, east, north = REGIONS[code]
    middle = (west + east) / 2
    return shapely.box(west, south, middle, north), shapely.box(middle, south, east, north)


def straddling_parcel(code: str) -> shapely.Polygon:
    """A parcel across the line between the two halves: half its area in each zone."""
    west, south, east, north = REGIONS[code]
    middle, centre = (west + east) / 2, (south + north) / 2
    return shapely.box(middle - 0.0003, centre - 0.0002, middle + 0.0003, centre + 0.0002)


def _multi(polygon: shapely.Polygon) -> str:
    return shapely.MultiPolygon([polygon]).wkt


def load_planning_data(conn: psycopg.Connection) -> None:
    insert_sample(conn, "planning.projects", project_code=MASTER_PLAN,
                  name="Quy hoạch chung đô thị Biên Hòa (thử nghiệm)", kind="chung",
                  level="do_thi", scale="1:10000", status="da_phe_duyet",
                  approving_authority="Thủ tướng Chính phủ", decision_no="1234/QĐ-TTg",
                  decision_date="2019-05-10",
                  geom=_multi(shapely.box(106.82, 10.93, 106.85, 10.96)))
    insert_sample(conn, "planning.zones", zone_code="QHC-ODT-01", project_code=MASTER_PLAN,
                  land_use="ODT", far_max=2.5, density_max_pct=70, height_max_m=25,
                  floors_max=7, label="Đất ở đô thị",
                  geom=_multi(shapely.box(106.82, 10.93, 106.85, 10.96)))
    for sheet, code in enumerate(REGIONS, start=501):
        insert_sample(conn, "planning.projects", project_code=code,
                      name=f"Quy hoạch chi tiết 1/500 khu {code}", kind="chi_tiet",
                      level="do_thi", scale="1:500", status="cho_phe_duyet",
                      approving_authority=None, decision_no=None, decision_date=None,
                      geom=_multi(shapely.box(*REGIONS[code])))
        insert_sample(conn, "land.parcels", commune_code="26041", sheet_no=sheet, parcel_no=1,
                      land_use="ODT", area_m2=2900.0, address=f"Khu {code}, phường Trấn Biên",
                      holder_name="Nguyễn Văn Thử", geom=_multi(straddling_parcel(code)))


@pytest.fixture(scope="session")
def planning_db_url(base_settings: Settings) -> Iterator[str]:
    with scratch_database(base_settings, "planning") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            load_planning_data(conn)
        yield url


@pytest.fixture(scope="session")
def planning_settings(base_settings: Settings, planning_db_url: str) -> Settings:
    return base_settings.model_copy(update={"database_url": planning_db_url})


@pytest.fixture(scope="session")
def files_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("planning-files")


@pytest.fixture(scope="session")
def planning_server(planning_settings: Settings, files_dir: Path) -> Iterator[LiveServer]:
    """The area's one server; its dossier store and scanner set as a deployment would."""
    app = create_app(planning_settings)
    store_settings = PlanningSettings(
        files_dir=files_dir, max_file_bytes=MAX_FILE_BYTES,
        scan_command=["sh", "-c", f'! grep -q {SCAN_MARKER} "$1"', "scan", "{path}"])
    app.state.planning_docs = Planning(app.state.iocgis, store_settings,
                                       LocalFileStore(files_dir))
    server = LiveServer(planning_settings, app=app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def accounts(planning_db_url: str, planning_settings: Settings) -> dict[str, Account]:
    made = {}
    for label, role, communes in (("viewer", "viewer", ()), ("analyst", "analyst", ()),
                                  ("gis_officer", "gis_officer", ()), ("admin", "admin", ()),
                                  ("scoped_officer", "gis_officer", ("26041",))):
        name = f"pd{label.replace('_', '')}{os.getpid()}"
        made[label] = run_async(_create(planning_db_url, planning_settings, name, [role],
                                        communes=communes))
    return made


@pytest.fixture(scope="session")
def keys(planning_db_url: str, accounts: dict[str, Account]) -> dict[str, str]:
    return {label: api_key_for(planning_db_url, account.name)
            for label, account in accounts.items()}


@pytest.fixture(scope="session")
def clients(planning_server: LiveServer, keys: dict[str, str]) -> Iterator[dict[str, httpx.Client]]:
    """One HTTP client per caller: anonymous, viewer, analyst, gis_officer, admin,
    scoped_officer."""
    made = {"anonymous": httpx.Client(base_url=planning_server.url, timeout=60)}
    for label, key in keys.items():
        made[label] = httpx.Client(base_url=planning_server.url, timeout=60,
                                   headers={"X-API-Key": key})
    yield made
    for client in made.values():
        client.close()


def wait_for_import(client: httpx.Client, job_id: str, timeout: float = 120) -> dict:
    """Poll an import job until it ends (it runs in the server's import thread)."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/imports/{job_id}").json()
        if body["status"] not in ("queued", "running"):
            return body
        assert time.monotonic() < deadline, f"import {job_id} did not end: {body}"
        time.sleep(0.2)
