"""The renderer against a real PostGIS: per-zoom attributes and thinning from the registry,
zoom ranges, small polygons, personal data, visibility and the size budget."""

from __future__ import annotations

import mapbox_vector_tile
import pytest

from iocgis.errors import NotFound
from iocgis.layers import get_registry
from iocgis.tiles.grid import lonlat_to_tile
from iocgis.tiles.sql import build_statement
from iocgis.tiles.tilesets import get_tilesets

from .conftest import ADMIN, ANONYMOUS, OFFICER, VIEWER
from .tiles_fixtures import TINY_PARCEL_LAT, TINY_PARCEL_LON

BIEN_HOA = (106.8215, 10.9515)


def decode(rendered) -> dict:
    return mapbox_vector_tile.decode(rendered.raw()) if not rendered.empty else {}


def at(z: int, lonlat: tuple[float, float] = BIEN_HOA) -> tuple[int, int, int]:
    t = lonlat_to_tile(*lonlat, z)
    return t.z, t.x, t.y


def test_attributes_per_zoom_come_from_the_registry(make_renderer) -> None:
    r = make_renderer(cache="none")
    spec = get_registry().get("land.parcels").tiles
    low = decode(r.tile("land", *at(13), VIEWER))["land.parcels"]["features"]
    high = decode(r.tile("land", *at(16), VIEWER))["land.parcels"]["features"]
    assert set(low[0]["properties"]) == set(spec.attributes_at(13)) == {"land_use"}
    assert set(high[0]["properties"]) == set(spec.attributes_at(16))
    assert all(isinstance(f["id"], int) for f in high)  # fid is the feature id


def test_minzoom_by_thins_roads_at_low_zoom(make_renderer) -> None:
    r = make_renderer(cache="none")
    classes_at = {}
    for z in (9, 14):
        tile = decode(r.tile("basemap", *at(z, (106.82, 10.92))))
        classes_at[z] = {f["properties"]["road_class"] for f in tile["base.roads"]["features"]}
    assert classes_at[9] == {"cao_toc", "quoc_lo"}  # commune roads appear from zoom 12
    assert "xa" in classes_at[14]


def test_layers_appear_only_inside_their_zoom_range(make_renderer) -> None:
    r = make_renderer(cache="none")
    assert r.tile("land", *at(12), VIEWER).empty  # parcels start at zoom 13
    assert "land.parcels" in decode(r.tile("land", *at(13), VIEWER))
    basemap_z16 = decode(r.tile("basemap", *at(16)))
    assert "admin.provinces" not in basemap_z16  # provinces stop at zoom 14
    assert "admin.communes" in basemap_z16


def test_small_polygons_are_dropped_at_low_zoom(make_renderer) -> None:
    r = make_renderer(cache="none")
    tiny = (TINY_PARCEL_LON + 0.00002, TINY_PARCEL_LAT + 0.00002)

    def parcel_numbers(z: int) -> set[int]:
        tile = decode(r.tile("land", *at(z, tiny), ADMIN))
        return {f["id"] for f in tile.get("land.parcels", {}).get("features", [])}

    with_tiny = parcel_numbers(18)
    without = parcel_numbers(13)
    tiny_ids = with_tiny - without
    assert len(tiny_ids) == 3


def test_personal_data_never_reaches_a_tile_even_for_an_admin(make_renderer) -> None:
    r = make_renderer(cache="none")
    registry = get_registry()
    for tileset, z in (("land", 16), ("housing", 16), ("emergency", 14)):
        for name, layer in decode(r.tile(tileset, *at(z, (106.8215, 10.9502)), ADMIN)).items():
            pii = set(registry.get(name.removesuffix(":label")).pii_fields)
            for feature in layer["features"]:
                assert not pii & set(feature["properties"]), (name, feature["properties"])
    incident = decode(r.tile("emergency", *at(14, (106.86, 10.94)), ADMIN))["emergency.incidents"]
    assert incident["features"][0]["properties"]["title"] == "Cháy kho hàng ở Long Bình"
    assert "reporter_phone" not in incident["features"][0]["properties"]


def test_a_registry_with_personal_data_in_tiles_is_caught_at_run_time() -> None:
    from iocgis.tiles.sql import tile_attributes

    parcels = get_registry().get("land.parcels")
    # Bypass the registry's own validation, as a hand-built definition could.
    leaky_tiles = parcels.tiles.model_copy(update={"attributes": {13: ("land_use", "holder_name")}})
    leaky = parcels.model_copy(update={"tiles": leaky_tiles})
    assert tile_attributes(leaky, 14) == ("land_use",)
    assert "holder_name" not in build_statement((leaky,), 14).text


def test_anonymous_callers_get_public_layers_only(make_renderer) -> None:
    r = make_renderer(cache="none")
    for name in ("land", "housing", "land.parcels", "infra.substations"):
        with pytest.raises(NotFound):
            r.tile(name, *at(14), ANONYMOUS)
    # The infrastructure set is visible (schools, parks... are public) but not its substation.
    substation = (106.87, 10.95)
    assert r.tile("infrastructure", *at(12, substation), ANONYMOUS).empty
    assert r.tile("infrastructure", *at(12, substation), VIEWER).empty  # restricted, not internal
    officer = decode(r.tile("infrastructure", *at(12, substation), OFFICER))
    assert officer["infra.substations"]["features"][0]["properties"]["name"] == "Trạm biến áp Long Bình"


def test_cache_keys_differ_by_visibility_so_no_officer_tile_reaches_the_public(make_renderer) -> None:
    r = make_renderer()  # disk cache
    substation = at(12, (106.87, 10.95))
    officer = r.tile("infrastructure", *substation, OFFICER)
    assert not officer.empty and not officer.from_cache
    public = r.tile("infrastructure", *substation, ANONYMOUS)
    assert public.empty and public.key != officer.key and public.etag != officer.etag
    assert r.tile("infrastructure", *substation, OFFICER).from_cache


def test_statements_are_built_once_per_zoom_and_visibility(make_renderer) -> None:
    r = make_renderer(cache="none")
    basemap = get_tilesets().get("basemap")
    first = r.renderer.statement(basemap.layers_at(ANONYMOUS, 12), 12)
    assert r.renderer.statement(basemap.layers_at(ANONYMOUS, 12), 12) is first
    # One statement holds every layer of the tileset at that zoom (and polygon label points).
    assert len(basemap.layers_at(ANONYMOUS, 12)) == 6
    assert first.text.count("ST_AsMVT(") == len(first.parts) == 9
    assert {p.name for p in first.parts if p.kind == "label"} == {
        "admin.provinces:label", "admin.communes:label", "base.water_areas:label"}
    assert '"base"."roads"' in first.text and "ST_Transform(l.geom, 3857)" in first.text
    infra = get_tilesets().get("infrastructure")
    public = r.renderer.statement(infra.layers_at(ANONYMOUS, 14), 14)
    officer = r.renderer.statement(infra.layers_at(OFFICER, 14), 14)
    assert '"infra"."substations"' in officer.text and '"infra"."substations"' not in public.text


def test_heavy_tiles_are_thinned_to_the_size_budget(make_renderer) -> None:
    full = make_renderer(cache="none")
    z, x, y = at(15)
    unbounded = len(full.tile("land", z, x, y, VIEWER).raw())
    for budget in (unbounded // 2, 1_000):  # simplification and size, then largest features
        thin = make_renderer(cache="none", size_budget=budget)
        rendered = thin.tile("land", z, x, y, VIEWER)
        assert unbounded > budget >= len(rendered.raw()) > 0
        assert decode(rendered)["land.parcels"]["features"]


def test_polygon_labels_are_one_point_per_polygon_across_tiles(make_renderer) -> None:
    r = make_renderer(cache="none")
    seen: dict[str, int] = {}
    z = 13  # the 16 communes of the fixtures cover several tiles at this zoom
    from iocgis.tiles.grid import tiles_covering
    for t in tiles_covering((106.70, 10.85, 106.94, 11.09), z):
        tile = decode(r.tile("basemap", t.z, t.x, t.y))
        for feature in tile.get("admin.communes:label", {}).get("features", []):
            seen[feature["properties"]["name"]] = seen.get(feature["properties"]["name"], 0) + 1
            assert feature["geometry"]["type"] == "Point"
    assert len(seen) == 16 and set(seen.values()) == {1}


def test_houses_are_footprints_where_drawn_and_points_elsewhere(make_renderer) -> None:
    """One MVT layer: a house with a footprint is a polygon (extruded by the housing style),
    a house known by its position only a point (its circle); the style draws each form."""
    from iocgis.styles.definitions import get_themes
    from iocgis.styles.maplibre import style_json

    from .tiles_fixtures import FOOTPRINTS

    r = make_renderer(cache="none")
    forms: dict[int, tuple[str, dict]] = {}
    tiles = {at(17, (106.8201 + i * 0.0005, 10.9501)) for i in range(20)}
    for tile in tiles:
        for feature in decode(r.tile("housing", *tile, ADMIN)).get("housing.houses",
                                                                    {}).get("features", []):
            forms[feature["id"]] = (feature["geometry"]["type"], feature["properties"])
    kinds = sorted(kind for kind, _ in forms.values())
    assert kinds.count("Point") == 20 - FOOTPRINTS and len(kinds) == 20
    assert {k for k in kinds if k != "Point"} <= {"Polygon", "MultiPolygon"}
    assert all("height_m" in props for _, props in forms.values())
    style = style_json(get_themes(), "housing", ADMIN, "http://test")
    houses = {la["type"]: la["filter"] for la in style["layers"]
              if la.get("source-layer") == "housing.houses"}
    assert houses["fill-extrusion"] == ["match", ["geometry-type"], ["Polygon", "MultiPolygon"],
                                        True, False]
    assert houses["circle"] == ["match", ["geometry-type"], ["Point", "MultiPoint"], True, False]
