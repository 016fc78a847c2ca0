"""Tile-ready copies (``iocgis.tiles.generalised``): the same tiles as from the layers, for
every kind of caller and thinning level, under the same row-level security; used only while
built for the live data version."""

from __future__ import annotations

from collections.abc import Iterator

import mapbox_vector_tile
import psycopg
import pytest

from iocgis.access import Caller, plan_for
from iocgis.access.database import reading_on
from iocgis.layers import get_registry
from iocgis.tiles import generalised
from iocgis.tiles.grid import TileAddress, lonlat_to_tile
from iocgis.tiles.render import tile_plans
from iocgis.tiles.tilesets import get_tilesets

from .conftest import ANONYMOUS, OFFICER, VIEWER
from .tiles_fixtures import TINY_PARCEL_LAT, TINY_PARCEL_LON, bump

BIEN_HOA = (106.8215, 10.9515)
LIMITED = Caller(name="xa", roles=frozenset({"viewer"}), commune_codes=frozenset({"26000"}))
ELSEWHERE = Caller(name="xb", roles=frozenset({"viewer"}), commune_codes=frozenset({"26009"}))
# (tileset, zooms, where): polygons with labels, lines thinned by class, parcels with the size
# rule (the tiny ones appear at 18), planning zones
CASES = [("basemap", (8, 11, 13, 15), BIEN_HOA), ("land", (13, 14, 15, 16, 18), BIEN_HOA),
         ("land", (16, 18), (TINY_PARCEL_LON, TINY_PARCEL_LAT)), ("planning", (12, 14), BIEN_HOA)]


def eligible_layers() -> list:
    return [layer for layer in get_registry() if generalised.eligible(layer)]


@pytest.fixture(scope="module")
def copies(tiles_db_url: str) -> Iterator[dict[str, generalised.GeneralisedTable]]:
    """Copies of every eligible layer of the tile database, with a partial index on every
    zoom (the fixture's layers are small: the thresholds are lowered so the floors are used),
    dropped afterwards so the other tile tests read the layers."""
    with pytest.MonkeyPatch.context() as patch, \
            psycopg.connect(tiles_db_url, autocommit=True) as conn:
        patch.setattr(generalised, "INDEX_MIN_ROWS", 0)
        patch.setattr(generalised, "INDEX_SHARE", 1.0)
        for layer in eligible_layers():
            generalised.rebuild(conn, layer)
        current = generalised.current_tables(conn.execute(generalised.CURRENT_SQL).fetchall())
    yield current
    with psycopg.connect(tiles_db_url, autocommit=True) as conn:
        for layer in eligible_layers():
            generalised.drop(conn, layer)


def features(mvt: bytes) -> dict[tuple[str, int], tuple]:
    """Every feature of a tile by (layer, id): geometry and properties."""
    decoded = mapbox_vector_tile.decode(mvt) if mvt else {}
    return {(name, f["id"]): (f["geometry"]["type"], repr(f["geometry"]["coordinates"]),
                              tuple(sorted(f["properties"].items())))
            for name, layer in decoded.items() for f in layer["features"]}


def both(runner, name: str, tile: TileAddress, caller: Caller) -> tuple[bytes, bytes, set[str]]:
    """(the tile from the copies, the tile from the layers, the copies the first used)."""
    renderer = runner.renderer
    runner.run(renderer.versions.current(renderer.pool))
    tileset = renderer.tilesets.for_caller(name, caller, note_reads=False)
    plans = tile_plans(caller, tileset.layers_at(caller, tile.z))
    used = {c.layer_id for c in renderer.current_copies(tuple(p.layer for p in plans))}
    from_copies = runner.run(renderer.render_mvt(plans, tile))
    seen, renderer.versions.copies = renderer.versions.copies, {}
    try:
        from_layers = runner.run(renderer.render_mvt(plans, tile))
    finally:
        renderer.versions.copies = seen
    return from_copies, from_layers, used


def test_every_tiled_polygon_and_line_layer_has_a_copy(copies) -> None:
    assert set(copies) == {layer.id for layer in eligible_layers()}
    assert {"land.parcels", "admin.communes", "base.roads"} <= set(copies)
    assert "housing.houses" not in copies  # a position with a footprint: read as it is
    parcels = copies["land.parcels"]
    assert parcels.floor_at(13) is not None and parcels.floor_at(13) > 0


@pytest.mark.parametrize("caller", [ANONYMOUS, VIEWER, OFFICER, LIMITED, ELSEWHERE],
                         ids=["anonymous", "viewer", "officer", "limited", "elsewhere"])
def test_tiles_from_the_copies_equal_tiles_from_the_layers(make_renderer, copies,
                                                           caller) -> None:
    r = make_renderer(cache="none")
    drawn = 0
    for name, zooms, (lon, lat) in CASES:
        if not get_tilesets().get(name).visible_to(caller):
            continue
        for z in zooms:
            tile = lonlat_to_tile(lon, lat, z)
            from_copies, from_layers, used = both(r, name, tile, caller)
            assert features(from_copies) == features(from_layers), (name, str(tile))
            drawn += len(features(from_layers))
            if name == "land" and z >= 13:
                assert "land.parcels" in used
    assert drawn > 0
    if caller is ELSEWHERE:  # its commune holds no parcel here: none from the copy either
        tile = lonlat_to_tile(*BIEN_HOA, 16)
        assert not any(k[0].startswith("land.parcels")
                       for k in features(both(r, "land", tile, caller)[0]))


def test_thinned_tiles_from_the_copies_equal_those_from_the_layers(make_renderer,
                                                                   copies) -> None:
    for budget in (20_000, 4_000, 1_000):  # each thinning level in turn
        r = make_renderer(cache="none", size_budget=budget)
        for z in (15, 16):
            from_copies, from_layers, used = both(r, "land", lonlat_to_tile(*BIEN_HOA, z),
                                                  VIEWER)
            assert "land.parcels" in used
            assert features(from_copies) == features(from_layers), (budget, z)


def test_statements_read_the_copy_with_the_partial_index_floor(make_renderer, copies) -> None:
    r = make_renderer(cache="none")
    layer = get_registry().get("land.parcels")
    statement = r.renderer.statement((layer,), 13, copies=(copies["land.parcels"],))
    assert '"generalised"."land__parcels"' in statement.text
    assert "ST_Transform" not in statement.text and "l.size >= " in statement.text
    assert '"land"."parcels"' not in statement.text
    assert '"land"."parcels"' in r.renderer.statement((layer,), 13).text


def test_the_copy_obeys_the_layers_row_security(tiles_db_url, copies, base_settings) -> None:
    """As the API reads: under each caller's plan the copy yields exactly the layer's rows
    (a commune-limited caller: its communes' only); outside a plan, neither yields any."""
    layer = get_registry().get("land.parcels")
    prefix = base_settings.security.db_role_prefix
    copy = copies[layer.id].ident.as_string(None)
    with psycopg.connect(tiles_db_url, autocommit=True) as conn:
        total = conn.execute("SELECT count(*) FROM land.parcels").fetchone()[0]
        for caller, expected in ((VIEWER, total), (LIMITED, total), (ELSEWHERE, 0)):
            with reading_on(conn, plan_for(caller, layer).with_fields(()), prefix):
                rows = conn.execute(f"SELECT count(*), count(DISTINCT commune_code) "
                                    f"FROM {copy}").fetchone()
                source = conn.execute("SELECT count(*) FROM land.parcels").fetchone()[0]
            assert rows[0] == source == expected, caller.name
        conn.execute(f"SET ROLE {prefix}api")  # the serving role outside any plan
        try:
            assert conn.execute(f"SELECT count(*) FROM {copy}").fetchone()[0] == 0
        finally:
            conn.execute("RESET ROLE")
        personal = {f.name for f in layer.fields if f.pii}
        columns = {r[0] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
            (copy,))}
        assert personal and not personal & columns  # never a personal-data field


def test_a_copy_of_an_older_version_is_not_read(make_renderer, copies, tiles_db_url) -> None:
    r = make_renderer(cache="none", version_ttl_s=0)
    tile = lonlat_to_tile(*BIEN_HOA, 16)
    assert "land.parcels" in both(r, "land", tile, VIEWER)[2]
    with psycopg.connect(tiles_db_url, autocommit=True) as conn:
        bump(conn, "land.parcels")  # what a change of the layer does
        try:
            from_copies, from_layers, used = both(r, "land", tile, VIEWER)
            assert "land.parcels" not in used and "admin.communes" in {
                c.layer_id for c in r.renderer.versions.copies.values()}
            assert features(from_copies) == features(from_layers)
        finally:
            generalised.rebuild(conn, get_registry().get("land.parcels"))
    assert "land.parcels" in both(r, "land", tile, VIEWER)[2]
