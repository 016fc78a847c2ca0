"""The layer registry is consistent and a wrong file fails with its file, key and reason."""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import pytest

from iocgis.errors import ConfigError
from iocgis.layers import get_registry, load_registry
from iocgis.layers.registry import REGISTRY_DIR

REQUIRED_LAYERS = {
    "admin.provinces", "admin.communes", "base.roads", "base.waterways", "base.water_areas",
    "base.places", "land.parcels", "housing.houses", "planning.projects", "planning.zones",
    "iot.stations", "iot.observations", "emergency.incidents", "emergency.flood_zones",
    "citizen.reports", "kpi.indicators", "kpi.values",
    "infra.power_lines", "infra.substations", "infra.schools", "infra.health_facilities",
    "infra.water_pipes", "infra.drainage_lines", "infra.drainage_outlets", "infra.trees",
    "infra.green_areas", "infra.public_stations",
}


def test_every_required_layer_is_declared() -> None:
    assert REQUIRED_LAYERS <= set(get_registry().ids)


def test_layers_have_both_titles_nfc_and_valid_sensitivity() -> None:
    for layer in get_registry():
        for text in (layer.title.vi, layer.title.en, layer.description.vi, layer.description.en):
            assert text and unicodedata.is_normalized("NFC", text), layer.id
        assert layer.title.vi != layer.title.en, f"{layer.id}: Vietnamese title is a copy"
        assert layer.sensitivity in ("public", "internal", "restricted")
        for field in layer.fields:
            assert field.title.vi and field.title.en, f"{layer.id}.{field.name}"


def test_personal_data_is_declared_where_the_law_expects_it() -> None:
    registry = get_registry()
    assert {"holder_name", "certificate_no"} <= set(registry.get("land.parcels").pii_fields)
    assert "household_head" in registry.get("housing.houses").pii_fields
    assert {"reporter_name", "reporter_phone"} <= set(registry.get("citizen.reports").pii_fields)


def test_no_personal_data_in_tiles() -> None:
    for layer in get_registry():
        if layer.tiles:
            for attrs in layer.tiles.attributes.values():
                assert not set(attrs) & set(layer.pii_fields), layer.id


def test_two_level_admin_units() -> None:
    registry = get_registry()
    communes = registry.admin_layer("commune")
    assert communes.id == "admin.communes"
    assert registry.domain_codes(communes.field("type")) == ("Xã", "Phường", "Đặc khu")
    assert registry.admin_layer("province").field("code").pattern == r"^\d{2}$"
    assert not any("district" in layer.id or "huyen" in layer.id for layer in registry)


def test_land_use_code_list_is_national() -> None:
    registry = get_registry()
    codes = registry.domain_codes(registry.get("land.parcels").field("land_use"))
    assert codes is not None
    assert {"ODT", "ONT", "LUC", "CLN", "SKC", "DGT"} <= set(codes)


def test_tile_attributes_change_with_zoom() -> None:
    roads = get_registry().get("base.roads").tiles
    assert roads is not None
    assert "name" not in roads.attributes_at(8)
    assert "name" in roads.attributes_at(12)
    assert roads.attributes_at(roads.minzoom - 1) == ()


def _copy_registry(tmp_path: Path) -> Path:
    target = tmp_path / "layers"
    target.mkdir()
    for f in REGISTRY_DIR.glob("*.yaml"):
        shutil.copy(f, target / f.name)
    return target


def test_copy_of_registry_loads(tmp_path: Path) -> None:
    assert load_registry(_copy_registry(tmp_path)).ids == get_registry().ids


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("sensitivity: internal\n    cadence: P90D", "sensitivity: secret\n    cadence: P90D",
         "layers.parcels.sensitivity"),
        ("label: parcel_no", "label: no_such_field", "unknown field 'no_such_field'"),
        ("domain: land_use", "domain: land_uses", "unknown code list 'land_uses'"),
        ("attributes: {13: [land_use], 16: [land_use, sheet_no, parcel_no, area_m2]}",
         "attributes: {13: [land_use, holder_name]}", "personal-data fields"),
    ],
)
def test_wrong_registry_file_names_file_key_and_reason(tmp_path: Path, old: str, new: str,
                                                       expected: str) -> None:
    directory = _copy_registry(tmp_path)
    land = directory / "land.yaml"
    text = land.read_text(encoding="utf-8")
    assert old in text
    land.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_registry(directory)
    message = str(info.value)
    assert "land.yaml" in message
    assert expected in message


def test_broken_yaml_is_reported(tmp_path: Path) -> None:
    directory = _copy_registry(tmp_path)
    (directory / "land.yaml").write_text("group: land\nlayers: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="land.yaml"):
        load_registry(directory)
