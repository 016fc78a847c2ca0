"""``iocgis import``: exit 0 and a JSON report on success, non-zero with a message naming the
file, the feature and the field on failure; history, rollback and ``layers --stale``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from iocgis.cli.main import main
from iocgis.settings import get_settings

from .importer_fixtures import places, write_vector


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(imp_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Callable[..., Done]:
    """``iocgis ...`` in this process (main() with its error handling), on the test database."""
    monkeypatch.setenv("DATABASE_URL", imp_url)
    monkeypatch.setenv("IOCGIS_IMPORTS_AUTO_APPROVE", "1")  # approval: test_import_review_cli
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> Done:
        get_settings.cache_clear()
        monkeypatch.setattr(sys, "argv", ["iocgis", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            get_settings.cache_clear()
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


def test_import_json_history_rollback_and_stale(cli, tmp_path: Path) -> None:
    geoms, fields = places(3)
    first = write_vector(tmp_path / "mot.gpkg", geoms, fields)
    done = cli("import", str(first), "--layer", "base.places", "--json",
                  "--source-date", "2025-07-01")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "loaded" and report["rows_loaded"] == 3
    geoms, fields = places(2)
    second = write_vector(tmp_path / "hai.gpkg", geoms, fields)
    done = cli("import", str(second), "--layer", "base.places")
    assert done.returncode == 0 and "loaded" in done.stdout and "rows in" in done.stdout

    listed = json.loads(cli("import", "history", "base.places", "--json").stdout)
    assert [r["status"] for r in listed[:2]] == ["loaded", "loaded"]
    back = cli("import", "rollback", "base.places", "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["row_count"] == 3

    stale = json.loads(cli("layers", "--stale", "--json").stdout)
    ids = {r["id"] for r in stale}
    assert "base.places" not in ids  # just imported
    assert "land.parcels" in ids or "emergency.flood_zones" in ids


def test_failure_exit_code_and_message(cli, tmp_path: Path) -> None:
    path = tmp_path / "diem.csv"
    path.write_text("place_id,name,kind,lon,lat\nC1,Một,khu_dan_cu,106.8,abc\n")
    done = cli("import", str(path), "--layer", "base.places")
    assert done.returncode == 6  # ImportFailed
    message = " ".join(done.stderr.split())
    assert "diem.csv" in message and "row 2" in message and "column lat" in message
    assert "'abc'" in message and "--max-rejected" in message
    missing = cli("import", str(tmp_path / "nowhere.gpkg"), "--layer", "base.places")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    bad_mode = cli("import", str(path), "--layer", "base.places", "--mode", "merge")
    assert bad_mode.returncode == 2 and "unknown import mode 'merge'" in bad_mode.stderr
