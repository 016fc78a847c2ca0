"""The preset loader: the shipped presets load; a wrong file fails with the file, key and reason.
And the nearest-feature search widens its candidate set when the index's planar order is not
enough."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from iocgis.api.query.engine import nearest_is_complete
from iocgis.api.query.presets import PRESETS_DIR, load_presets
from iocgis.api.query.spec import Nearest
from iocgis.errors import ConfigError
from iocgis.layers import get_registry

GOOD = """
name: demo
title: {vi: Thử, en: Demo}
description: {vi: Thử, en: Demo}
parameters:
  point: {type: point, title: {vi: Điểm, en: Point}}
  radius_m: {type: number, default: 500, min: 1, max: 50000, title: {vi: R, en: R}}
steps:
  schools:
    title: {vi: Trường, en: Schools}
    layer: infra.schools
    select: {kind: radius, center: [$point], radius_m: $radius_m}
    group_by: level
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "demo.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_shipped_presets_load() -> None:
    presets = load_presets(get_registry(), PRESETS_DIR)
    names = {p.name for p in presets}
    assert {"education", "health", "flood", "planning_check", "land"} <= names
    flood = presets.get("flood")
    assert flood is not None and "housing.houses" in flood.layer_ids()


def test_a_good_preset_loads_frozen(tmp_path: Path) -> None:
    preset = load_presets(get_registry(), write(tmp_path, GOOD)).get("demo")
    assert preset is not None
    with pytest.raises(ValidationError):  # frozen
        preset.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(("change", "words"), [
    (("layer: infra.schools", "layer: infra.nothing"), "unknown layer 'infra.nothing'"),
    (("group_by: level", "group_by: colour"), "has no field 'colour'"),
    (("radius_m: $radius_m}", "radius_m: $radius}"), "$radius names no parameter"),
    (("center: [$point]", "center: [$radius_m]"), "number parameter"),
    (("kind: radius", "kind: teleport"), "select"),
    (("group_by: level", "group_by: level\n    where: {level: university}"), "not a code"),
])
def test_a_wrong_preset_fails_with_file_and_key(tmp_path: Path, change: tuple[str, str],
                                                words: str) -> None:
    folder = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_presets(get_registry(), folder)
    message = str(caught.value)
    assert words in message and "demo.yaml" in message


def test_a_preset_may_not_group_by_personal_data(tmp_path: Path) -> None:
    text = GOOD.replace("layer: infra.schools", "layer: housing.houses").replace(
        "group_by: level", "group_by: household_head")
    with pytest.raises(ConfigError, match="personal data"):
        load_presets(get_registry(), write(tmp_path, text))


def test_nearest_candidates_are_widened_when_needed() -> None:
    sel = Nearest(106.8, 10.9, 3)
    # fewer candidates than asked: the table had no more rows, the answer is complete
    assert nearest_is_complete(sel, 19, 7, 0.5, 50_000)
    # the farthest chosen is nearer than any feature outside the candidates can be
    assert nearest_is_complete(sel, 19, 19, 0.01, 1_000)
    # an outsider 0.01° away (>= about 1,080 m) might beat a chosen one 1,500 m away
    assert not nearest_is_complete(sel, 19, 19, 0.01, 1_500)
