"""Dossier files for the tests, made here: a PDF with a Vietnamese text layer (WeasyPrint), a
DOCX (python-docx), and a DXF planning drawing in VN-2000 / TM-3 107-45 (EPSG:5899, through
the project's pinned transformer) drawn to the province's CAD conventions."""

from __future__ import annotations

from pathlib import Path

import ezdxf
import numpy as np
import shapely

from iocgis.crs import parse_crs, transformer

DXF_CRS = "EPSG:5899"


def make_pdf(path: Path, title: str, paragraphs: list[str]) -> Path:
    import weasyprint

    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    weasyprint.HTML(string=f'<html lang="vi"><body style="font-family: Noto Sans">'
                           f"<h1>{title}</h1>{body}</body></html>").write_pdf(path)
    return path


def make_docx(path: Path, title: str, paragraphs: list[str]) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))
    return path


def _to_cad(geom: shapely.Geometry) -> list[tuple[float, float]]:
    to_tm3 = transformer(parse_crs("EPSG:4326"), parse_crs(DXF_CRS))
    lon, lat = np.asarray(geom.exterior.coords).T
    x, y = to_tm3.transform(lon, lat)
    return list(zip(x.tolist(), y.tolist(), strict=True))[:-1]


def make_dxf(path: Path, zones: list[dict]) -> Path:
    """Zones: {"zone_code", "land_use", "rules" (CHITIEU text), "geom" (lon/lat polygon)}."""
    doc = ezdxf.new("R2010", setup=False)
    doc.header["$INSUNITS"] = 6
    msp = doc.modelspace()
    for name in ("KYHIEU_O", "CHITIEU", "KHUNG_TEN"):
        doc.layers.add(name)
    for zone in zones:
        layer = f"QH_{zone['land_use']}"
        if layer not in doc.layers:
            doc.layers.add(layer)
        ring = _to_cad(zone["geom"])
        msp.add_lwpolyline(ring, close=True, dxfattribs={"layer": layer})
        centre = shapely.Polygon(ring).representative_point()
        msp.add_text(zone["zone_code"], height=2.0,
                     dxfattribs={"layer": "KYHIEU_O"}).set_placement((centre.x, centre.y + 2))
        msp.add_text(zone["rules"], height=1.5,
                     dxfattribs={"layer": "CHITIEU"}).set_placement((centre.x, centre.y - 2))
    msp.add_text("QUY HOẠCH CHI TIẾT THỬ NGHIỆM", height=4,
                 dxfattribs={"layer": "KHUNG_TEN"}).set_placement(_to_cad(zones[0]["geom"])[0])
    doc.saveas(path, encoding="utf-8")
    return path


SCAN_RED, SCAN_BLUE = (200, 30, 30), (20, 40, 220)


def make_geotiff(path: Path, centre: tuple[float, float], side_m: float = 200.0,
                 pixel_m: float = 0.5, mark_m: float = 20.0) -> Path:
    """A scanned sheet in VN-2000 / TM-3 107-45 (EPSG:5899 as the scanner's GIS writes it, no
    shift in the file): an RGB square of ``side_m`` around ``centre`` (lon, lat, placed with the
    official shift), red, with a blue ``mark_m`` square at the centre — 200 m off if a reader
    dropped the datum."""
    import rasterio
    from rasterio.transform import from_origin

    x, y = transformer(parse_crs("EPSG:4326"), parse_crs(DXF_CRS)).transform(*centre)
    size = int(side_m / pixel_m)
    rgb = np.empty((3, size, size), dtype=np.uint8)
    rgb[:] = np.array(SCAN_RED, dtype=np.uint8)[:, None, None]
    half_mark = int(mark_m / pixel_m / 2)
    middle = size // 2
    rgb[:, middle - half_mark:middle + half_mark, middle - half_mark:middle + half_mark] = \
        np.array(SCAN_BLUE, dtype=np.uint8)[:, None, None]
    transform = from_origin(x - side_m / 2, y + side_m / 2, pixel_m, pixel_m)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3,
                       dtype="uint8", crs="EPSG:5899", transform=transform,
                       photometric="RGB") as dst:
        dst.write(rgb)
    return path
