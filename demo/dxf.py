"""The demo's CAD planning drawing: one detailed plan in VN-2000 / TM-3 107-45 (EPSG:5899),
as officers receive it from design institutes, plus the mapping file that says how to read it.

Zones are closed LWPOLYLINEs on CAD layers named after their land use (``QH_ODT``...), each with
a TEXT zone code (layer ``KYHIEU_O``) and a TEXT of building rules (layer ``CHITIEU``) inside.
The plan boundary, road centre lines and the title block sit on layers the mapping ignores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ezdxf
import numpy as np
import shapely
import yaml
from pyproj import CRS

from iocgis.demo.geo import to_wgs84
from iocgis.demo.writers import reproject

DXF_CRS = CRS.from_epsg(5899)
ZONE_LAYER_PREFIX = "QH_"
CODE_LAYER = "KYHIEU_O"
RULES_LAYER = "CHITIEU"
IGNORED_LAYERS = ("RANH_GIOI", "TIM_DUONG", "KHUNG_TEN")
# AutoCAD colour index per land use, as in the planning drawing standard's palette.
COLOURS = {
    "ODT": 30,
    "TMD": 1,
    "DGD": 200,
    "DYT": 240,
    "DKV": 3,
    "DTT": 94,
    "DVH": 6,
    "TSC": 5,
    "DCH": 40,
}


@contextmanager
def _reproducible() -> Iterator[None]:
    """ezdxf stamps creation time and GUIDs unless told to write fixed metadata."""
    before = ezdxf.options.write_fixed_meta_data_for_testing
    ezdxf.options.write_fixed_meta_data_for_testing = True
    try:
        yield
    finally:
        ezdxf.options.write_fixed_meta_data_for_testing = before


def write_planning_dxf(path: Path, project: dict, zones: list[dict]) -> int:
    """Write the drawing; returns the number of zone polygons. Geometries come in metres
    (UTM 48N) and go to EPSG:5899 via WGS84 with the project's pinned transformer."""
    with _reproducible():  # ezdxf stamps the clock at creation and at saving
        doc = ezdxf.new("R2010", setup=False)
    doc.header["$INSUNITS"] = 6  # metres
    doc.header["$MEASUREMENT"] = 1
    msp = doc.modelspace()
    for name, colour in [
        (CODE_LAYER, 7),
        (RULES_LAYER, 8),
        ("RANH_GIOI", 1),
        ("TIM_DUONG", 4),
        ("KHUNG_TEN", 7),
    ]:
        doc.layers.add(name, color=colour)
    to_cad = lambda geoms: reproject(to_wgs84(np.asarray(geoms, dtype=object)), DXF_CRS)  # noqa: E731
    boundary = to_cad([project["geom"]])[0]
    msp.add_lwpolyline(_ring(boundary), close=True, dxfattribs={"layer": "RANH_GIOI"})
    shapes = to_cad([z["geom"] for z in zones])
    for zone, shape in zip(zones, shapes):
        layer = f"{ZONE_LAYER_PREFIX}{zone['land_use']}"
        if layer not in doc.layers:
            doc.layers.add(layer, color=COLOURS.get(zone["land_use"], 7))
        msp.add_lwpolyline(_ring(shape), close=True, dxfattribs={"layer": layer})
        anchor = shapely.get_coordinates(shapely.point_on_surface(shape))[0]
        msp.add_text(zone["zone_code"], height=2.5, dxfattribs={"layer": CODE_LAYER}).set_placement(
            (float(anchor[0]), float(anchor[1]) + 2.0)
        )
        below = (float(anchor[0]), float(anchor[1]) - 4.0)
        if not shape.contains(shapely.Point(below)):
            below = (float(anchor[0]), float(anchor[1]))
        msp.add_text(zone["label"], height=1.5, dxfattribs={"layer": RULES_LAYER}).set_placement(
            below
        )
    # Road centre lines between the blocks: the minimum rotated rectangle's mid lines.
    corners = shapely.get_coordinates(shapely.minimum_rotated_rectangle(boundary))[:4]
    for a, b in ((0, 1), (1, 2)):
        mid_start = (corners[a] + corners[(a + 3) % 4]) / 2
        mid_end = (corners[b] + corners[(b + 1) % 4]) / 2
        msp.add_line(tuple(mid_start), tuple(mid_end), dxfattribs={"layer": "TIM_DUONG"})
    xmin, ymin, xmax, ymax = boundary.bounds
    msp.add_text(
        project["name"].upper(), height=6.0, dxfattribs={"layer": "KHUNG_TEN"}
    ).set_placement((xmin, ymax + 20.0))
    msp.add_text(
        "Hệ tọa độ VN-2000, kinh tuyến trục 107°45', múi chiếu 3°",
        height=3.0,
        dxfattribs={"layer": "KHUNG_TEN"},
    ).set_placement((xmin, ymax + 10.0))
    _register_classes_in_order(doc)
    with _reproducible():
        doc.saveas(path, encoding="utf-8")
    return len(zones)


def _register_classes_in_order(doc: ezdxf.document.Drawing) -> None:
    """ezdxf adds the CLASS entries of the types in use from a set (hash-seed order) when
    saving; registering them first, sorted, makes the CLASSES section reproducible."""
    from ezdxf.sections.classes import REQ_R2004, REQUIRED_CLASSES

    for name in REQUIRED_CLASSES.get(doc.dxfversion, REQ_R2004):
        doc.classes.add_class(name)
    for name in sorted(doc.entitydb.dxf_types_in_use()):
        doc.classes.add_class(name)


def _ring(polygon: shapely.Geometry) -> list[tuple[float, float]]:
    poly = polygon.geoms[0] if polygon.geom_type == "MultiPolygon" else polygon
    return [(float(x), float(y)) for x, y in np.asarray(poly.exterior.coords)[:-1]]


def write_mapping(path: Path, dxf_name: str, project_code: str, land_uses: list[str]) -> None:
    """The importer's mapping file: CAD layer -> land-use code, which TEXT layer fills which
    field, the CRS the drawing is in and the project every zone belongs to."""
    mapping = {
        "crs": "EPSG:5899",
        "cad_layers": {f"{ZONE_LAYER_PREFIX}{use}": use for use in sorted(land_uses)},
        "code_field": "land_use",
        "texts": {CODE_LAYER: "zone_code", RULES_LAYER: "label"},
        "constants": {"project_code": project_code},
    }
    header = (
        f"# How {dxf_name} becomes rows of planning.zones (iocgis import --mapping):\n"
        "# each closed polyline on a listed CAD layer is one zone with that land-use code;\n"
        f"# the TEXT inside it on {CODE_LAYER} is its zone_code, the one on {RULES_LAYER} its\n"
        f"# label. Other CAD layers ({', '.join(IGNORED_LAYERS)}) are not zones.\n"
    )
    path.write_text(
        header + yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
