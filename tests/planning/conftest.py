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

from iocgis.planning_docs.settings import PlanningSettings
from iocgis.settings import Settings

from ..conftest import LiveServer, scratch_database
from ..security.security_helpers import Account, _create, api_key_for, insert_sample, run_async
from .files import make_dxf, make_pdf

MASTER_PLAN = "QHC-TEST"
# Each flow has its own detailed plan (and parcels) so no test depends on another's changes.
REGIONS = {  # project code -> (west, south, east, north)
    "QHCT-PAGE-01": (106.8300, 10.9500, 106.8330, 10.9530),
    "QHCT-LK-01": (106.8400, 10.9500, 106.8430, 10.9530),
    "QHCT-API-01": (106.8300, 10.9400, 106.8330, 10.9430),
}
LOOKUP_PLAN = "QHCT-LK-01"
LOOKUP_ADJUSTMENT = "QHCT-LK-01-DC1"
LOOKUP_PARCEL = "26041/502/1"  # the parcel across LK-ODT-01 and LK-TMD-01
LOOKUP_RULES = "MĐXD 60% - HSSDĐ 3,0 - 5 tầng"
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
    store_settings = PlanningSettings(
        store="local", files_dir=files_dir, max_file_bytes=MAX_FILE_BYTES,
        scan_command=["sh", "-c", f'! grep -q {SCAN_MARKER} "$1"', "scan", "{path}"])
    server = LiveServer(planning_settings.model_copy(update={"planning": store_settings})).start()
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


def upload(client: httpx.Client, dossier_id: int, path: Path, kind: str,
           **extra: str) -> httpx.Response:
    with path.open("rb") as handle:
        return client.post(f"/uploads/planning/dossiers/{dossier_id}/documents",
                           data={"kind": kind, **extra}, files={"file": (path.name, handle)})


@pytest.fixture(scope="session")
def approved_plan(clients: dict[str, httpx.Client], tmp_path_factory: pytest.TempPathFactory,
                  planning_db_url: str) -> dict:
    """QHCT-LK-01: dossier, DXF zones imported, decision effective 2024-03-01, approved; and
    its adjustment QHCT-LK-01-DC1 (replacing LK-TMD-01 by LK-DVH-01), still a draft."""
    folder = tmp_path_factory.mktemp("lookup")
    officer = clients["gis_officer"]
    dossier = officer.post("/planning/manage/dossiers", json={"project_code": LOOKUP_PLAN}).json()
    west, east = halves(LOOKUP_PLAN)
    drawing = make_dxf(folder / "qhct_lk_01.dxf", [
        {"zone_code": "LK-ODT-01", "land_use": "ODT", "rules": LOOKUP_RULES, "geom": west},
        {"zone_code": "LK-TMD-01", "land_use": "TMD", "rules": "MĐXD 40% - HSSDĐ 6,0 - 15 tầng",
         "geom": east}])
    dxf = upload(officer, dossier["id"], drawing, "drawing")
    assert dxf.status_code == 201, dxf.text
    dxf = dxf.json()
    job = officer.post(f"/planning/manage/documents/{dxf['id']}/import", json={})
    assert job.status_code == 202, job.text
    submitted = wait_for_import(officer, job.json()["id"])
    assert submitted["status"] == "pending", submitted  # planning needs a steward's approval
    approved = clients["admin"].post(f"/imports/{submitted['import_id']}/approve")
    assert approved.status_code == 200, approved.text
    assert officer.get(f"/imports/{submitted['import_id']}").json()["status"] == "loaded"
    decision = upload(officer, dossier["id"], make_pdf(folder / "qd.pdf", "QUYẾT ĐỊNH", [
        "Phê duyệt quy hoạch chi tiết"]), "decision").json()
    assert officer.put(f"/planning/manage/dossiers/{dossier['id']}/decision", json={
        "number": "789/QĐ-UBND", "decision_date": "2024-02-20", "effective_date": "2024-03-01",
        "authority": "UBND tỉnh Đồng Nai", "signer": "Nguyễn Văn Ký",
        "document_id": decision["id"]}).status_code == 200
    assert officer.post(f"/planning/manage/dossiers/{dossier['id']}/status",
                        json={"status": "approved"}).status_code == 200
    adjustment = officer.post("/planning/manage/dossiers", json={
        "project_code": LOOKUP_ADJUSTMENT, "title": "Điều chỉnh cục bộ quy hoạch chi tiết khu LK",
        "kind": "chi_tiet", "scale": "1:500", "adjusts": LOOKUP_PLAN,
        "superseded_zones": ["LK-TMD-01"]})
    assert adjustment.status_code == 201, adjustment.text
    with psycopg.connect(planning_db_url, autocommit=True) as conn:  # its zone, as imported
        conn.execute("INSERT INTO planning.zones (zone_code, project_code, land_use, far_max, "
                     "density_max_pct, height_max_m, floors_max, geom) VALUES ('LK-DVH-01', %s,"
                     " 'DVH', 1.5, 40, 12, 3, ST_Multi(ST_GeomFromText(%s, 4326)))",
                     (LOOKUP_ADJUSTMENT, east.wkt))
    return {"dossier": dossier, "adjustment": adjustment.json(), "decision": decision}
