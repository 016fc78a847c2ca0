"""The Đồng Nai demo: deterministic, complete (every registry layer), faithful to the official
reference data, valid geometries inside the province, readable by the importers."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import ezdxf
import numpy as np
import pytest
import shapely
from pyogrio.raw import read as ogr_read
from pyproj import CRS

from iocgis.crs import WGS84, transformer
from iocgis.demo import reference
from iocgis.demo.build import build_demo
from iocgis.demo.context import DemoContext
from iocgis.demo.generators import producers_for
from iocgis.demo.generators.generic import produce_generic
from iocgis.demo.manifest import Manifest, ManifestEntry, read_manifest
from iocgis.demo.scales import get_scale
from iocgis.demo.table import check, complete
from iocgis.errors import InvalidInput
from iocgis.layers import get_registry
from iocgis.layers.model import GroupDef, LayerDef
from iocgis.layers.registry import Registry

VENV_BIN = Path(sys.executable).parent
# Inside the outline within 1e-6 degree (about 10 cm): clip results sit on its edge.
TOLERANCE_DEG = 1e-6


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("demo-small")
    return out, build_demo("small", out)


@pytest.fixture(scope="session")
def outline() -> shapely.Geometry:
    geom = reference.outline_wgs84().buffer(TOLERANCE_DEG)
    shapely.prepare(geom)
    return geom


def _checksums(directory: Path) -> dict[str, str]:
    import hashlib

    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _read(directory: Path, entry: ManifestEntry) -> tuple[dict[str, list], np.ndarray | None]:
    """A demo file's attribute columns and EPSG:4326 geometries, read back independently."""
    path = directory / entry.path
    if entry.format == "GeoJSON":
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        names = list(features[0]["properties"]) if features else []
        cols = {n: [f["properties"][n] for f in features] for n in names}
        geoms = np.array([shapely.from_geojson(json.dumps(f["geometry"])) for f in features])
        return cols, geoms
    if entry.format == "CSV":
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        names = list(rows[0]) if rows else []
        cols = {n: [r[n] for r in rows] for n in names}
        if "lon" in cols:
            return cols, shapely.points(np.array(cols["lon"], float), np.array(cols["lat"], float))
        return cols, None
    source = f"/vsizip/{path}" if entry.format.startswith("ESRI Shapefile") else str(path)
    meta, _, wkb, fields = ogr_read(source)
    geoms = shapely.from_wkb(wkb)
    crs = CRS.from_user_input(meta["crs"])
    if not crs.equals(WGS84):
        t = transformer(crs, WGS84)
        geoms = shapely.transform(geoms, lambda x, y: t.transform(x, y), interleaved=False)
    return {str(n): list(v) for n, v in zip(meta["fields"], fields)}, geoms


def test_another_seed_gives_other_data(small_demo: tuple[Path, Manifest]) -> None:
    _, manifest = small_demo
    ctx = DemoContext(get_scale("small"), manifest.seed + 1, get_registry())
    from iocgis.demo.generators.land import produce_parcels_and_houses

    other = next(produce_parcels_and_houses(ctx))["land.parcels"]
    ctx_same = DemoContext(get_scale("small"), manifest.seed, get_registry())
    same = next(produce_parcels_and_houses(ctx_same))["land.parcels"]
    assert list(other.columns["holder_name"][:20]) != list(same.columns["holder_name"][:20])


def test_every_registry_layer_is_in_the_manifest(small_demo: tuple[Path, Manifest]) -> None:
    directory, manifest = small_demo
    registry = get_registry()
    assert set(manifest.layer_rows) == set(registry.ids)
    assert all(rows > 0 for rows in manifest.layer_rows.values()), manifest.layer_rows
    on_disk = read_manifest(directory)
    assert on_disk.layer_rows == manifest.layer_rows
    for entry in on_disk.files:
        assert (directory / entry.path).is_file()
        assert entry.encoding == "UTF-8"
        if registry.get(entry.layer).is_spatial:
            assert entry.crs.startswith("EPSG:")
    formats = {e.format for e in on_disk.files}
    assert {"GPKG", "ESRI Shapefile (zipped)", "GeoJSON", "CSV", "DXF"} <= formats


def test_the_manifest_counts_match_the_files(small_demo: tuple[Path, Manifest]) -> None:
    directory, manifest = small_demo
    for entry in manifest.files:
        if entry.format == "DXF":
            continue
        cols, geoms = _read(directory, entry)
        count = len(geoms) if geoms is not None else len(next(iter(cols.values())))
        assert count == entry.rows, entry.path


def test_province_is_code_75_with_its_admin_centre(small_demo: tuple[Path, Manifest]) -> None:
    directory, manifest = small_demo
    entry = next(e for e in manifest.files if e.layer == "admin.provinces")
    cols, geoms = _read(directory, entry)
    assert cols["code"] == ["75"] and cols["name"] == ["Tỉnh Đồng Nai"]
    assert cols["admin_center"] == ["Phường Trấn Biên"]
    # Old Đồng Nai and old Bình Phước: both their centres are inside.
    assert shapely.contains_xy(geoms[0], [106.8243, 106.8832], [10.9447, 11.5350]).all()


def test_the_95_official_communes(small_demo: tuple[Path, Manifest]) -> None:
    directory, manifest = small_demo
    entry = next(e for e in manifest.files if e.layer == "admin.communes")
    cols, geoms = _read(directory, entry)
    official = {c.code: c for c in reference.communes()}
    assert len(cols["code"]) == 95 and set(cols["code"]) == set(official)
    assert all(len(code) == 5 and code.isdigit() for code in cols["code"])
    for code, name, kind in zip(cols["code"], cols["name"], cols["type"]):
        assert (name, kind) == (official[code].name, official[code].type)
    assert cols["type"].count("Phường") == 23 and cols["type"].count("Xã") == 72
    assert set(cols["province_code"]) == {"75"} and set(cols["approximate"]) == {True}
    assert cols["area_km2"] == [official[c].area_km2 for c in cols["code"]]
    assert sum(cols["population"]) == reference.PROVINCE_POPULATION
    assert "Phường Trấn Biên" in cols["name"]
    # Approximate polygons tile the province without overlapping.
    union = shapely.union_all(geoms)
    assert abs(union.area - reference.outline_wgs84().area) / union.area < 1e-4
    tree = shapely.STRtree(geoms)
    assert len(tree.query(geoms, predicate="overlaps")[0]) == 0


def test_every_geometry_is_valid_and_inside_the_province(
    small_demo: tuple[Path, Manifest], outline: shapely.Geometry
) -> None:
    directory, manifest = small_demo
    registry = get_registry()
    for entry in manifest.files:
        if entry.format == "DXF" or not registry.get(entry.layer).is_spatial:
            continue
        _, geoms = _read(directory, entry)
        assert geoms is not None and len(geoms), entry.path
        assert shapely.is_valid(geoms).all(), entry.path
        assert not shapely.is_empty(geoms).any(), entry.path
        outside = ~shapely.covers(outline, geoms)
        assert not outside.any(), f"{entry.path}: {int(outside.sum())} features outside"


def test_text_is_vietnamese_nfc(small_demo: tuple[Path, Manifest]) -> None:
    directory, manifest = small_demo
    seen_vietnamese = False
    for entry in manifest.files:
        if entry.format == "DXF":
            continue
        cols, _ = _read(directory, entry)
        for name, values in cols.items():
            for value in values:
                if isinstance(value, str):
                    assert unicodedata.normalize("NFC", value) == value, (entry.path, name, value)
                    seen_vietnamese |= "ư" in value or "ạ" in value
    assert seen_vietnamese


def test_parcels_and_houses_are_realistic(small_demo: tuple[Path, Manifest]) -> None:
    directory, manifest = small_demo
    registry = get_registry()
    parcels_entry = next(e for e in manifest.files if e.layer == "land.parcels")
    houses_entry = next(e for e in manifest.files if e.layer == "housing.houses")
    parcels, parcel_geoms = _read(directory, parcels_entry)
    houses, house_geoms = _read(directory, houses_entry)
    codes = set(registry.domain_codes(registry.get("land.parcels").field("land_use")) or ())
    assert set(parcels["land_use"]) <= codes and {"ODT", "ONT", "CLN"} <= set(parcels["land_use"])
    assert set(parcels["commune_code"]) == set(get_scale("small").parcel_communes or ())
    keys = set(zip(parcels["commune_code"], parcels["sheet_no"], parcels["parcel_no"]))
    assert len(keys) == len(parcel_geoms)
    # Legal area close to the drawn area; holders are people or organisations.
    assert all(name for name in parcels["holder_name"])
    assert len(house_geoms) > 0.4 * len(parcel_geoms)
    tree = shapely.STRtree(parcel_geoms)
    assert len(tree.query(parcel_geoms, predicate="overlaps")[0]) == 0
    house_idx, parcel_idx = tree.query(house_geoms, predicate="within")
    assert len(np.unique(house_idx)) == len(house_geoms)  # each house stands inside a parcel
    # a department's survey of positions beside houses drawn with their footprints
    forms = set(shapely.get_type_id(house_geoms))
    assert forms == {shapely.GeometryType.POINT, shapely.GeometryType.MULTIPOLYGON}
    uses = np.array(parcels["land_use"], dtype=object)[parcel_idx]
    assert set(uses) <= {"ODT", "ONT"}
    floors = np.array(houses["floors"], float)
    height = np.array(houses["height_m"], float)
    temporary = np.array(houses["is_temporary"], bool)
    per_floor = height[~temporary] / floors[~temporary]
    assert per_floor.min() >= 3.2 and per_floor.max() <= 5.5
    poor = np.array(houses["is_poor"], bool)
    near_poor = np.array(houses["is_near_poor"], bool)
    assert not (poor & near_poor).any() and poor.mean() < 0.05 and temporary.mean() < 0.1


def test_kpi_targets_are_met_by_some_units_only(small_demo: tuple[Path, Manifest]) -> None:
    directory, manifest = small_demo
    indicators, _ = _read(directory, next(e for e in manifest.files if e.layer == "kpi.indicators"))
    values, _ = _read(directory, next(e for e in manifest.files if e.layer == "kpi.values"))
    target = dict(zip(indicators["code"], map(float, indicators["target"])))
    higher = {c: d == "higher_better" for c, d in zip(indicators["code"], indicators["direction"])}
    met = [
        (float(v) >= target[c]) == higher[c] or float(v) == target[c]
        for c, v in zip(values["indicator_code"], values["value"])
    ]
    assert 0.2 < np.mean(met) < 0.9
    assert set(values["admin_code"]) >= {"75", "26041"}


def test_the_dxf_drawing_is_in_vn2000_tm3(
    small_demo: tuple[Path, Manifest], outline: shapely.Geometry
) -> None:
    directory, manifest = small_demo
    entry = next(e for e in manifest.files if e.format == "DXF")
    assert entry.crs == "EPSG:5899" and entry.load == "verify"
    doc = ezdxf.readfile(directory / entry.path)
    msp = doc.modelspace()
    zones = [e for e in msp.query("LWPOLYLINE") if e.dxf.layer.startswith("QH_")]
    assert len(zones) == entry.rows and all(z.closed for z in zones)
    polygons = [shapely.Polygon([(x, y) for x, y, *_ in z.get_points()]) for z in zones]
    xy = np.concatenate([shapely.get_coordinates(p) for p in polygons])
    # TM-3 107°45' with false easting 500 km: Biên Hòa is near E 398,600, N 1,210,500.
    assert (xy[:, 0] > 380_000).all() and (xy[:, 0] < 420_000).all()
    assert (xy[:, 1] > 1_190_000).all() and (xy[:, 1] < 1_230_000).all()
    to_wgs84 = transformer(CRS.from_epsg(5899), WGS84)
    lon, lat = to_wgs84.transform(xy[:, 0], xy[:, 1])
    assert shapely.contains_xy(outline, lon, lat).all()
    # Each zone carries its code (TEXT on KYHIEU_O) inside it, as in planning/zones.geojson.
    codes = {}
    for text in msp.query('TEXT[layer=="KYHIEU_O"]'):
        point = shapely.Point(text.dxf.insert.x, text.dxf.insert.y)
        holder = [k for k, p in enumerate(polygons) if p.contains(point)]
        assert len(holder) == 1
        codes[holder[0]] = text.dxf.text
    assert len(codes) == len(zones)
    zones_entry = next(
        e for e in manifest.files if e.layer == "planning.zones" and e.format == "GeoJSON"
    )
    cols, _ = _read(directory, zones_entry)
    project = [c for c, p in zip(cols["zone_code"], cols["project_code"]) if p == "QHCT-26041-01"]
    assert sorted(codes.values()) == sorted(project)
    mapping = (directory / entry.options["mapping"]).read_text(encoding="utf-8")
    assert "EPSG:5899" in mapping and "KYHIEU_O: zone_code" in mapping


def test_dxf_matches_the_official_transformation_example() -> None:
    """The writer's transform is the pinned official one (Biên Hòa example of the data notes)."""
    from iocgis.demo.writers import reproject

    point = reproject(np.array([shapely.Point(106.82432, 10.94469)]), CRS.from_epsg(5899))[0]
    assert point.x == pytest.approx(398626.907, abs=0.002)
    assert point.y == pytest.approx(1210495.416, abs=0.002)


def test_zipped_shapefiles_carry_cpg_prj_and_a_mapping(small_demo: tuple[Path, Manifest]) -> None:
    directory, manifest = small_demo
    for entry in manifest.files:
        if not entry.format.startswith("ESRI Shapefile"):
            continue
        with zipfile.ZipFile(directory / entry.path) as archive:
            names = archive.namelist()
            stem = Path(entry.path).stem
            assert {f"{stem}.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= set(names)
            assert archive.read(f"{stem}.cpg").decode() == "UTF-8"
    schools = next(e for e in manifest.files if e.layer == "infra.schools")
    assert schools.crs == "EPSG:5899"
    assert "shelter_ca: shelter_capacity" in (directory / schools.options["mapping"]).read_text(
        encoding="utf-8"
    )


def test_mapping_files_are_understood_by_the_importer(small_demo: tuple[Path, Manifest]) -> None:
    from iocgis.importers import mapping

    directory, manifest = small_demo
    registry = get_registry()
    checked = 0
    for entry in manifest.files:
        if "mapping" in entry.options:
            loaded = mapping.load(directory / entry.options["mapping"], registry.get(entry.layer))
            assert loaded.fields or loaded.cad_layers
            checked += 1
    assert checked == 2


def test_a_layer_added_to_the_registry_gets_demo_rows() -> None:
    """A province adds a layer in layers/: the demo fills it from its field definitions."""
    registry = get_registry()
    extra = LayerDef.model_validate(
        {
            "group": "extra",
            "name": "wells",
            "title": {"vi": "Giếng", "en": "Wells"},
            "description": {"vi": "Giếng khoan", "en": "Drilled wells"},
            "geometry": "Point",
            "key": ["well_id"],
            "sensitivity": "public",
            "cadence": "P365D",
            "style": "x",
            "fields": [
                {
                    "name": "well_id",
                    "type": "text",
                    "required": True,
                    "title": {"vi": "Mã", "en": "Id"},
                },
                {
                    "name": "commune_code",
                    "type": "text",
                    "pattern": r"^\d{5}$",
                    "title": {"vi": "Mã xã", "en": "Commune"},
                },
                {
                    "name": "depth_m",
                    "type": "numeric",
                    "min": 5,
                    "max": 120,
                    "title": {"vi": "Độ sâu", "en": "Depth"},
                },
                {
                    "name": "kind",
                    "type": "text",
                    "required": True,
                    "domain": "land_use",
                    "title": {"vi": "Loại", "en": "Kind"},
                },
                {
                    "name": "owner",
                    "type": "text",
                    "pii": True,
                    "title": {"vi": "Chủ", "en": "Owner"},
                },
            ],
        }
    )
    group = GroupDef.model_validate(
        {"group": "extra", "title": {"vi": "Khác", "en": "Other"}, "layers": [extra.model_dump()]}
    )
    bigger = Registry([*registry.groups, group], registry.codelists)
    assert producers_for(bigger.ids)[-1].layers == ("extra.wells",)
    ctx = DemoContext(get_scale("small"), 1, bigger)
    table = complete(produce_generic(ctx, "extra.wells"), extra, bigger, ctx.rng("t"), ctx.names)
    check(table, extra, bigger)
    assert len(table) > 95 and len(set(table.columns["well_id"])) == len(table)
    assert table.columns["depth_m"].min() >= 5 and table.columns["depth_m"].max() <= 120


def test_unknown_scale_and_missing_manifest_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown demo scale 'huge'"):
        get_scale("huge")
    with pytest.raises(InvalidInput, match="no demo manifest") as info:
        read_manifest(tmp_path)
    assert "iocgis demo" in str(info.value)
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not readable"):
        read_manifest(tmp_path)


def test_load_into_an_unreachable_database_is_one_clear_error(
    small_demo: tuple[Path, Manifest],
) -> None:
    from iocgis.demo.load import load_demo
    from iocgis.errors import DatabaseError

    directory, _ = small_demo
    with pytest.raises(DatabaseError, match="cannot connect to PostgreSQL") as info:
        load_demo(directory, url="postgresql://nobody:secret@127.0.0.1:9/none")
    assert "secret" not in str(info.value)


def test_two_builds_are_byte_identical_cli_in_a_real_process(
    small_demo: tuple[Path, Manifest], tmp_path: Path
) -> None:
    """The second build runs as a user runs it, with another hash seed: same bytes."""
    directory, _ = small_demo
    out = tmp_path / "cli-small"
    result = subprocess.run(
        [str(VENV_BIN / "iocgis"), "demo", "--scale", "small", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    assert result.returncode == 0, result.stderr
    assert "manifest.json" in " ".join(result.stderr.split())
    assert _checksums(out) == _checksums(directory)


def test_cli_refuses_an_unknown_scale() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "iocgis"), "demo", "--scale", "huge"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    message = " ".join(result.stderr.split())  # rich wraps long lines
    assert "unknown demo scale 'huge'" in message and "small, province, large" in message


def test_load_small_demo_gives_the_generated_row_counts(
    small_demo: tuple[Path, Manifest], db_url: str
) -> None:
    import psycopg
    from psycopg import sql

    from iocgis.demo.load import load_demo

    directory, manifest = small_demo
    results = load_demo(directory, url=db_url)
    assert all(r.ok for r in results)
    registry = get_registry()
    with psycopg.connect(db_url) as conn:
        for layer_id, rows in manifest.layer_rows.items():
            layer = registry.get(layer_id)
            count = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(
                    sql.Identifier(layer.schema_name, layer.table_name)
                )
            ).fetchone()[0]
            assert count == rows, layer_id
        # Vietnamese text arrives intact and the schools' VN-2000 shapefile lands in place.
        name = conn.execute("SELECT name FROM admin.communes WHERE code = '26041'").fetchone()[0]
        assert name == "Phường Trấn Biên"
        inside = conn.execute(
            "SELECT bool_and(ST_Covers(ST_Buffer(p.geom, 1e-6), s.geom)) FROM infra.schools s, "
            "admin.provinces p"
        ).fetchone()[0]
        assert inside


def test_bench_helpers_rewrite_only_their_section(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    try:
        import common
    finally:
        sys.path.pop(0)
    results = tmp_path / "RESULTS.md"
    results.write_text(
        "# Results\n\n<!-- section:tiles -->\nold tiles\n<!-- /section:tiles -->\n\n"
        "<!-- section:import -->\nold import\n<!-- /section:import -->\n",
        encoding="utf-8",
    )
    common.write_results_section("tiles", "## Tiles\n2.0× faster", results)
    common.write_results_section("queries", "## Queries\nnew", results)
    text = results.read_text(encoding="utf-8")
    assert "old tiles" not in text and "2.0× faster" in text and "old import" in text
    assert text.index("section:import") < text.index("section:queries")
    assert common.percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert common.percentile([5.0], 95) == 5.0
    assert common.ratio(1.0, 2.5) == "2.5× faster" and common.ratio(2.0, 1.0) == "2.0× slower"
    timing = common.measure(lambda: None, repeat=5, warmup=1)
    assert len(timing.samples) == 5 and timing.p95 >= timing.median >= 0
