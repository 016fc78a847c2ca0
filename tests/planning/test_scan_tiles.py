"""A georeferenced scan (a VN-2000 GeoTIFF drawing) as raster tiles, XYZ and OGC API - Tiles:
a tile over it is a non-blank PNG with the scan at the right place (the blue mark at the
scan's centre is where the official VN-2000 shift puts it: 200 m off without the datum),
transparent around it; the same bytes by either address; a draft plan's scan is internal."""

from __future__ import annotations

import io
import math
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from iocgis.tiles.grid import TileAddress, lonlat_to_tile

from .conftest import upload
from .files import SCAN_BLUE, SCAN_RED, make_geotiff, make_pdf

Z = 16
# The scan sits in the middle of one z16 tile, so the tile shows all of it and its margins.
TILE = lonlat_to_tile(106.8460, 10.9460, Z)
west, south, east, north = TILE.bounds_lonlat()
CENTRE = ((west + east) / 2, (south + north) / 2)


def pixel(address: TileAddress, lon: float, lat: float) -> tuple[int, int]:
    """Where a lon/lat falls in a tile's 256 × 256 image (column, row)."""
    scale = 2 ** address.z * 256
    gx = (lon + 180) / 360 * scale
    gy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * scale
    return int(gx - address.x * 256), int(gy - address.y * 256)


@pytest.fixture(scope="module")
def scan(clients: dict[str, httpx.Client], tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("scan")
    officer = clients["gis_officer"]
    dossier = officer.post("/planning/manage/dossiers", json={
        "project_code": "QHCT-SCAN-01", "title": "Quy hoạch chi tiết có bản đồ quét",
        "kind": "chi_tiet", "scale": "1:500"}).json()
    made = upload(officer, dossier["id"], make_geotiff(folder / "ban_do_quet.tif", CENTRE),
                  "drawing", title="Bản đồ quy hoạch (bản quét)")
    assert made.status_code == 201, made.text
    note = upload(officer, dossier["id"], make_pdf(folder / "tm.pdf", "Thuyết minh", ["x"]),
                  "note")
    return {"dossier": dossier, "document": made.json(), "note": note.json()}


def rgba(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_a_tile_over_the_scan_shows_it_at_its_place(clients: dict[str, httpx.Client],
                                                    scan: dict) -> None:
    analyst = clients["analyst"]
    base = f"/planning/documents/{scan['document']['id']}"
    tilejson = analyst.get(f"{base}/tiles.json")
    assert tilejson.status_code == 200, tilejson.text
    bounds = tilejson.json()["bounds"]
    assert bounds[0] < CENTRE[0] < bounds[2] and bounds[1] < CENTRE[1] < bounds[3]
    xyz = analyst.get(f"{base}/tiles/{Z}/{TILE.x}/{TILE.y}.png")
    assert xyz.status_code == 200 and xyz.headers["content-type"] == "image/png"
    image = rgba(xyz.content)
    assert image.shape == (256, 256, 4)
    col, row = pixel(TILE, *CENTRE)
    assert tuple(image[row, col]) == (*SCAN_BLUE, 255)  # the mark, where the shift puts it
    inside = pixel(TILE, CENTRE[0] + 0.0006, CENTRE[1])  # ~65 m east: the red sheet
    assert tuple(image[inside[1], inside[0]]) == (*SCAN_RED, 255)
    outside = pixel(TILE, CENTRE[0] + 0.0015, CENTRE[1])  # ~160 m east: beyond the sheet
    assert image[outside[1], outside[0], 3] == 0
    assert 0.05 < (image[..., 3] > 0).mean() < 0.5  # not blank, not everywhere
    ogc = analyst.get(f"{base}/map/tiles/WebMercatorQuad/{Z}/{TILE.y}/{TILE.x}")
    assert ogc.status_code == 200 and ogc.content == xyz.content
    tileset = analyst.get(f"{base}/map/tiles/WebMercatorQuad").json()
    limits = {lim["tileMatrix"]: lim for lim in tileset["tileMatrixSetLimits"]}
    assert limits[str(Z)]["minTileCol"] <= TILE.x <= limits[str(Z)]["maxTileCol"]
    assert any(link["rel"] == "item" and link["href"].endswith(
        "/map/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
        for link in tileset["links"])
    assert analyst.get(f"{base}/map/tiles").json()["tilesets"][0]["dataType"] == "map"
    far = analyst.get(f"{base}/tiles/{Z}/{TILE.x + 3}/{TILE.y}.png")
    assert far.status_code == 404 and far.json()["where"] == "tile"
    assert analyst.get(f"{base}/map/tiles/WorldCRS84Quad").status_code == 404
    assert analyst.get(f"{base}/tiles/{Z}/{TILE.x}/-1.png").status_code == 400
    pdf = analyst.get(f"/planning/documents/{scan['note']['id']}/tiles.json")
    assert pdf.status_code == 404 and "no map tiles" in pdf.json()["description"]


def test_a_draft_plans_scan_is_internal(clients: dict[str, httpx.Client], scan: dict,
                                        tmp_path: Path) -> None:
    path = f"/planning/documents/{scan['document']['id']}/tiles/{Z}/{TILE.x}/{TILE.y}.png"
    assert clients["anonymous"].get(path).status_code == 404
    viewer = clients["viewer"].get(path)
    assert viewer.status_code == 200 and viewer.headers["cache-control"].startswith("private")
    moved = clients["gis_officer"].post(
        f"/planning/manage/dossiers/{scan['dossier']['id']}/status",
        json={"status": "consultation"})
    assert moved.status_code == 200, moved.text
    public = clients["anonymous"].get(path)
    assert public.status_code == 200 and public.headers["cache-control"].startswith("public")
