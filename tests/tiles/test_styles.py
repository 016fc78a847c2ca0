"""Styles: every generated style passes MapLibre's validator; glyphs hold every Vietnamese
letter; sprites, QML, visibility and wrong definitions."""

from __future__ import annotations

import json
import subprocess
import unicodedata
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
import yaml

from iocgis.errors import ConfigError, NotFound
from iocgis.layers import get_registry
from iocgis.settings import PROJECT_ROOT
from iocgis.styles.definitions import THEMES_DIR, get_themes, load_themes
from iocgis.styles.glyphs import VIETNAMESE_RANGES, glyph_ids
from iocgis.styles.maplibre import style_json
from iocgis.styles.qml import qml_for
from iocgis.tiles.tilesets import get_tilesets

from .conftest import ADMIN, ANONYMOUS

VALIDATOR = PROJECT_ROOT / "node_modules" / ".bin" / "gl-style-validate"
BASE = "http://127.0.0.1:8000"
# Every letter of the Vietnamese alphabet with every tone mark, lower and upper case (NFC).
VOWELS = "aăâeêioôơuưy"
TONES = "\u0300\u0301\u0309\u0303\u0323"
VIETNAMESE = {unicodedata.normalize("NFC", v + t) for v in VOWELS for t in ("", *TONES)}
VIETNAMESE |= {c.upper() for c in VIETNAMESE} | set("đĐ") | set("bcdghklmnpqrstvx")


def test_every_generated_style_passes_the_maplibre_validator(tmp_path: Path) -> None:
    files = []
    for theme in get_themes():
        path = tmp_path / f"{theme.name}.json"
        path.write_text(json.dumps(style_json(get_themes(), theme.name, ADMIN, BASE),
                                   ensure_ascii=False), encoding="utf-8")
        files.append(path)
    assert {p.stem for p in files} == {"basemap", "land", "housing", "infrastructure",
                                       "planning", "emergency"}
    result = subprocess.run([str(VALIDATOR), *map(str, files)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_validator_does_catch_a_broken_style(tmp_path: Path) -> None:
    style = style_json(get_themes(), "basemap", ADMIN, BASE)
    style["layers"][1]["source"] = "nowhere"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(style), encoding="utf-8")
    result = subprocess.run([str(VALIDATOR), str(path)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 1 and "nowhere" in result.stdout + result.stderr


def test_housing_extrudes_houses_by_height() -> None:
    style = style_json(get_themes(), "housing", ADMIN, BASE)
    extrusion = next(layer for layer in style["layers"] if layer["type"] == "fill-extrusion")
    assert extrusion["source-layer"] == "housing.houses"
    assert extrusion["paint"]["fill-extrusion-height"] == ["coalesce", ["get", "height_m"], 3]
    assert style["pitch"] > 0


def test_styles_use_only_local_resources_and_vietnamese_fonts() -> None:
    style = style_json(get_themes(), "emergency", ADMIN, BASE)
    assert style["glyphs"] == f"{BASE}/styles/glyphs/{{fontstack}}/{{range}}.pbf"
    assert style["sprite"].startswith(BASE)
    assert all(s["url"].startswith(BASE + "/tiles/") for s in style["sources"].values())
    fonts = {f for layer in style["layers"] for f in layer.get("layout", {}).get("text-font", [])}
    assert fonts <= {"Noto Sans Regular", "Noto Sans Bold"}
    meta = style["metadata"]["iocgis:layers"]["emergency.incidents"]
    assert meta["fields"]["title"] == "Tiêu đề" and meta["codes"]["kind"]["chay"] == "Cháy, nổ"
    assert "reporter_phone" not in meta["fields"]


def test_a_theme_shows_only_layers_the_caller_may_see() -> None:
    themes = get_themes()
    for name in ("land", "housing"):  # their own layers are internal
        with pytest.raises(NotFound):
            style_json(themes, name, ANONYMOUS, BASE)
    infra = style_json(themes, "infrastructure", ANONYMOUS, BASE)
    assert not any(layer.get("source-layer", "").startswith(("infra.substations", "infra.power"))
                   for layer in infra["layers"])
    assert set(infra["sources"]) == {"basemap", "infrastructure"}


@pytest.mark.parametrize("glyph_range", VIETNAMESE_RANGES)
def test_glyph_ranges_are_served(tiles_http: httpx.Client, glyph_range: str) -> None:
    response = tiles_http.get(f"/styles/glyphs/Noto Sans Regular/{glyph_range}.pbf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"


def test_glyphs_hold_every_vietnamese_letter(tiles_http: httpx.Client) -> None:
    for stack in ("Noto Sans Regular", "Noto Sans Bold"):
        held: set[int] = set()
        for glyph_range in VIETNAMESE_RANGES:
            held |= glyph_ids(tiles_http.get(f"/styles/glyphs/{stack}/{glyph_range}.pbf").content)
        missing = sorted(c for c in VIETNAMESE if ord(c) not in held)
        assert not missing, f"{stack} lacks {missing}"
        assert {0x0300, 0x0301, 0x0303, 0x0309, 0x0323} <= held  # combining tones (not NFC)


def test_glyph_requests_that_are_wrong(tiles_http: httpx.Client) -> None:
    empty = tiles_http.get("/styles/glyphs/Noto Sans Regular/65024-65279.pbf")
    assert empty.status_code == 200 and glyph_ids(empty.content) <= set(range(65024, 65280))
    assert tiles_http.get("/styles/glyphs/Comic Sans/0-255.pbf").status_code == 404
    assert tiles_http.get("/styles/glyphs/Noto Sans Regular/0-100.pbf").status_code == 400
    assert tiles_http.get("/styles/glyphs/Noto Sans Regular/../../x.pbf").status_code == 404


def test_sprites_are_local_pngs_with_an_index(tiles_http: httpx.Client) -> None:
    import io

    from PIL import Image

    for suffix, ratio in (("", 1), ("@2x", 2)):
        index = tiles_http.get(f"/styles/sprites/iocgis{suffix}.json").json()
        png = tiles_http.get(f"/styles/sprites/iocgis{suffix}.png")
        assert png.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(png.content))
        assert {"school", "health", "shelter", "substation"} <= set(index)
        for entry in index.values():
            assert entry["pixelRatio"] == ratio and entry["x"] + entry["width"] <= image.width
    assert tiles_http.get("/styles/sprites/other.png").status_code == 404


def test_styles_over_http(tiles_http: httpx.Client) -> None:
    listed = {s["name"] for s in tiles_http.get("/styles").json()["styles"]}
    assert listed == {"basemap", "infrastructure", "planning", "emergency"}  # anonymous
    style = tiles_http.get("/styles/planning.json")
    assert style.status_code == 200 and "Quy hoạch".encode() in style.content
    assert tiles_http.get("/styles/housing.json").status_code == 404
    assert tiles_http.get("/styles/nothing.json").status_code == 404


def test_qml_of_every_tiled_layer_is_a_qgis_style() -> None:
    for layer in get_registry():
        if not layer.tiles:
            continue
        root = ET.fromstring(qml_for(layer.id).split("\n", 1)[1])
        assert root.tag == "qgis"
        renderer = root.find("renderer-v2")
        assert renderer is not None and renderer.get("type") in ("singleSymbol", "categorizedSymbol")
        assert root.findtext("layerGeometryType") in ("0", "1", "2")
    parcels = ET.fromstring(qml_for("land.parcels").split("\n", 1)[1])
    categories = parcels.find("renderer-v2/categories")
    labels = {c.get("value"): c.get("label") for c in categories}
    assert labels["LUC"] == "LUC – Đất chuyên trồng lúa" and labels[""] == "Khác (other)"
    assert parcels.find("labeling/settings/text-style").get("fieldName") == "parcel_no"
    with pytest.raises(NotFound):
        qml_for("kpi.indicators")  # no geometry, no style


def test_qml_over_http_follows_visibility(tiles_http: httpx.Client) -> None:
    assert tiles_http.get("/styles/layers/base.roads.qml").status_code == 200
    assert tiles_http.get("/styles/layers/land.parcels.qml").status_code == 404


def _theme_dir(tmp_path: Path, body: dict) -> Path:
    folder = tmp_path / "themes"
    folder.mkdir()
    for path in THEMES_DIR.glob("*.yaml"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / f"{body['name']}.yaml").write_text(yaml.safe_dump(body, allow_unicode=True),
                                                   encoding="utf-8")
    return folder


@pytest.mark.parametrize("rule, message", [
    ({"layer": "base.roads", "draw": "label", "field": "name"}, "not in the tiles"),
    ({"layer": "land.parcels", "draw": "fill", "color": "#ffffff"}, "not in the theme's tilesets"),
    ({"layer": "base.roads", "draw": "line", "color": "red"}, "#rrggbb"),
    ({"layer": "base.places", "draw": "icon", "icon": "unicorn"}, "unknown icon"),
    ({"layer": "base.roads", "draw": "line"}, "needs 'color'"),
])
def test_wrong_theme_definitions_fail_naming_file_and_rule(tmp_path: Path, rule: dict,
                                                           message: str) -> None:
    body = {"name": "broken", "title": {"vi": "Hỏng", "en": "Broken"},
            "description": {"vi": "x", "en": "x"}, "tilesets": ["basemap"], "rules": [rule]}
    with pytest.raises(ConfigError) as caught:
        load_themes(get_registry(), get_tilesets(), _theme_dir(tmp_path, body))
    assert message in str(caught.value) and "broken.yaml" in str(caught.value)
