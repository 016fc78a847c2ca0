"""``iocgis tiles seed`` and ``iocgis tiles export`` (PMTiles v3, MBTiles), ``iocgis styles``."""

from __future__ import annotations

import gzip
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import mapbox_vector_tile
import psycopg
import pytest
from pmtiles.reader import MmapSource, Reader, all_tiles
from typer.testing import CliRunner

from iocgis.cli.main import full_app

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def cli_env(tiles_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"DATABASE_URL": tiles_db_url, "IOCGIS_CACHE_DIR": str(tmp_path / "cache")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # relative output names land here, never in the checkout
    from iocgis.settings import get_settings

    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def test_export_pmtiles_as_a_user_runs_it(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "basemap.pmtiles"
    result = subprocess.run([str(VENV_BIN / "iocgis"), "tiles", "export", "basemap", str(out),
                             "--maxzoom", "12"], capture_output=True, text=True, timeout=300,
                            env={**os.environ, **cli_env}, check=False)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    with out.open("rb") as f:
        reader = Reader(MmapSource(f))
        header, metadata = reader.header(), reader.metadata()
        tiles = list(all_tiles(reader.get_bytes))
    assert header["min_zoom"] <= 6 and header["max_zoom"] == 12  # (tiny at zooms 0-1: empty)
    assert metadata["vector_layers"][0]["id"] == "admin.provinces"
    z12 = [mapbox_vector_tile.decode(gzip.decompress(d)) for zxy, d in tiles if zxy[0] == 12]
    assert z12 and any("admin.communes" in layers for layers in z12)


def test_an_export_of_restricted_layers_is_in_the_audit_trail(cli_env: dict[str, str],
                                                            tiles_db_url: str,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "infra.mbtiles"
    exported = CliRunner().invoke(full_app(), ["tiles", "export", "infrastructure", str(out),
                                        "--maxzoom", "12", "--as", "restricted"])
    assert exported.exit_code == 0, exported.output
    with psycopg.connect(tiles_db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT actor, layer, target, details->>'level' FROM audit.events "
                            "WHERE action = 'data.export' AND target = %s",
                            (str(out.resolve()),)).fetchall()
    layers = {r[1] for r in rows}
    assert "infra.substations" in layers  # the restricted layer the file now holds
    assert all(r[0].startswith("cli:") and r[3] == "restricted" for r in rows)


def test_seed_fills_the_cache_and_export_mbtiles_reads_it(cli_env: dict[str, str],
                                                           tmp_path: Path) -> None:
    runner = CliRunner()
    seeded = runner.invoke(full_app(), ["tiles", "seed", "planning", "--maxzoom", "13"])
    assert seeded.exit_code == 0, seeded.output
    assert "0 from the cache" in seeded.output
    out = tmp_path / "planning.mbtiles"
    exported = runner.invoke(full_app(), ["tiles", "export", "planning", str(out), "--maxzoom", "13"])
    assert exported.exit_code == 0, exported.output
    assert "(0 rendered" in exported.output  # every tile came from the seeded cache
    db = sqlite3.connect(out)
    meta = dict(db.execute("SELECT name, value FROM metadata"))
    assert meta["format"] == "pbf" and meta["name"] == "Quy hoạch"
    _z, _x, tms_y, data = db.execute("SELECT * FROM tiles WHERE zoom_level = 13 LIMIT 1").fetchone()
    assert "planning.zones" in mapbox_vector_tile.decode(gzip.decompress(data))
    assert 0 <= tms_y < 2 ** 13


@pytest.mark.parametrize("args, message", [
    (["tiles", "export", "basemap", "out.zip"], "pmtiles"),
    (["tiles", "export", "land", "x.pmtiles"], "unknown tileset"),  # internal: not for --as public
    (["tiles", "seed", "basemap", "--maxzoom", "30"], "zoom range"),
    (["tiles", "seed", "basemap", "--maxzoom", "8", "--as", "boss"], "visibility level"),
    (["tiles", "seed", "basemap", "--maxzoom", "8", "--bbox", "1,2,3"], "bounding box"),
])
def test_bad_tile_commands_say_what_to_fix(cli_env: dict[str, str], args: list[str],
                                           message: str) -> None:
    from iocgis.errors import IocgisError

    result = CliRunner().invoke(full_app(), args)
    assert result.exit_code != 0
    assert isinstance(result.exception, IocgisError) and message in str(result.exception)
    assert not Path(args[3]).exists() if args[1] == "export" else True  # no stray archive


def test_styles_qml_and_show(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    qml = runner.invoke(full_app(), ["styles", "qml", "land.parcels"])
    assert qml.exit_code == 0 and 'attr="land_use"' in qml.output
    shown = runner.invoke(full_app(), ["styles", "show", "planning"])
    assert shown.exit_code == 0 and '"Quy hoạch"' in shown.output
