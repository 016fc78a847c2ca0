"""Typed, frozen models of the layer registry (one YAML file per group in ``layers/``)."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from iocgis.layers.types import field_type

Sensitivity = Literal["public", "internal", "restricted"]
GeometryType = Literal["Point", "MultiPoint", "MultiLineString", "MultiPolygon"]
# The outline a layer located by a point may keep beside it (a house's footprint, a school's
# site): stored in its own ``footprint`` column, while ``geom`` stays the position.
FootprintType = Literal["MultiPolygon"]
FieldType = Literal["text", "integer", "bigint", "numeric", "boolean", "date", "timestamptz"]
# How the importer fills a field a file lacks (importers/derive.py): the commune or province
# the feature lies in, or a generated key (a hash of the geometry, or commune + sequence).
Derivation = Literal["commune_from_location", "province_from_location", "key_hash",
                     "key_sequence"]
LOCATION_DERIVATIONS = ("commune_from_location", "province_from_location")
KEY_DERIVATIONS = ("key_hash", "key_sequence")

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
# Columns every layer table has besides its own fields; no field may reuse these names.
SYSTEM_COLUMNS = ("fid", "geom", "footprint", "extra", "source_date", "import_id", "updated_at")
SENSITIVITY_RANK: dict[str, int] = {"public": 0, "internal": 1, "restricted": 2}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(Frozen):
    """A text in Vietnamese and English; both are required."""

    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)

    @field_validator("vi", "en")
    @classmethod
    def _nfc(cls, value: str) -> str:
        return nfc(value.strip())


class Code(Frozen):
    """One entry of a code list: the stored code and its titles."""

    code: str
    vi: str
    en: str

    @field_validator("vi", "en", "code")
    @classmethod
    def _nfc(cls, value: str) -> str:
        return nfc(str(value).strip())


class FieldDef(Frozen):
    name: str
    type: FieldType
    title: Text
    required: bool = False
    # A code list: inline codes, or the name of a list in codelists.yaml.
    domain: tuple[Code, ...] | str | None = None
    pii: bool = False
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    # Numeric fields are totalled by queries unless told otherwise (codes, years).
    total: bool | None = None
    # Filled by the importer when a file lacks the field (see Derivation); a mapping may ask too.
    derive: Derivation | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(f"field name {value!r} must be lower-case letters, digits and _")
        if value in SYSTEM_COLUMNS:
            raise ValueError(f"field name {value!r} is reserved for a system column")
        return value

    @model_validator(mode="after")
    def _derivable(self) -> FieldDef:
        if self.derive and self.type != "text":
            raise ValueError(f"field {self.name!r}: derive {self.derive} fills text fields only")
        return self

    @property
    def is_numeric(self) -> bool:
        return field_type(self.type).numeric

    @property
    def totalled(self) -> bool:
        return self.is_numeric and (self.total if self.total is not None else self.domain is None)


class ZoomRank(Frozen):
    """Feature thinning at low zoom: the minimum zoom at which each value of a field appears."""

    field: str
    values: dict[str, int]
    default: int


class TileSpec(Frozen):
    minzoom: int = Field(ge=0, le=24)
    maxzoom: int = Field(default=22, ge=0, le=24)
    # Attributes carried in tiles, from a zoom on: {zoom: [fields]}; the highest zoom <= z wins.
    attributes: dict[int, tuple[str, ...]] = Field(default_factory=dict)
    minzoom_by: ZoomRank | None = None
    # Polygons smaller than this many square pixels at a zoom are dropped from the tile.
    min_area_px: float = 1.0

    @model_validator(mode="after")
    def _range(self) -> TileSpec:
        if self.minzoom > self.maxzoom:
            raise ValueError(f"minzoom {self.minzoom} is above maxzoom {self.maxzoom}")
        return self

    def attributes_at(self, zoom: int) -> tuple[str, ...]:
        chosen: tuple[str, ...] = ()
        for z in sorted(self.attributes):
            if z <= zoom:
                chosen = self.attributes[z]
        return chosen


# Licences an open layer may carry (SPDX id -> the licence's page, for the DCAT catalogue).
OPEN_LICENCES: dict[str, str] = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "ODbL-1.0": "https://opendatacommons.org/licenses/odbl/1-0/",
}


class OpenData(Frozen):
    """A layer published as open data (iocgis/sharing/open_data.py): bulk downloads under a
    licence, listed in the DCAT catalogue a national portal harvests."""

    licence: str
    # Who publishes it (DCAT publisher); default: the IOC of the province.
    publisher: Text | None = None

    @field_validator("licence")
    @classmethod
    def _licence(cls, value: str) -> str:
        if value not in OPEN_LICENCES:
            raise ValueError(f"licence {value!r} is not one of {', '.join(OPEN_LICENCES)}")
        return value


class LayerDef(Frozen):
    group: str
    name: str
    title: Text
    description: Text
    keywords: tuple[str, ...] = ()
    # The position (``geom``): for a layer with a footprint, a Point.
    geometry: GeometryType | None
    # An optional outline beside the position: a file of points loads positions, a file of
    # polygons loads footprints and their point on surface as the position, mixed files both.
    footprint: FootprintType | None = None
    fields: tuple[FieldDef, ...]
    key: tuple[str, ...] = ()
    sensitivity: Sensitivity
    cadence: timedelta
    style: str
    label: str | None = None
    temporal: str | None = None
    admin_level: Literal["province", "commune"] | None = None
    # The field holding the commune a row belongs to: a caller limited to some communes reads
    # only their rows (the access plan, and row-level security in PostgreSQL).
    commune_field: str | None = None
    tiles: TileSpec | None = None
    # Its personal-data fields may be shared with another agency under a sharing agreement
    # that names them (iocgis/sharing; Decree 356/2025: only where the law allows it).
    share_pii: bool = False
    # Published as open data under a licence (public layers only).
    open: OpenData | None = None
    # Set only on a copy from ``kept_in``: the table holding an older data version.
    _kept: tuple[str, str] | None = PrivateAttr(default=None)

    @property
    def id(self) -> str:
        return f"{self.group}.{self.name}"

    @property
    def schema_name(self) -> str:
        return self._kept[0] if self._kept else self.group

    @property
    def table_name(self) -> str:
        return self._kept[1] if self._kept else self.name

    @property
    def kept(self) -> tuple[str, str] | None:
        """The kept table this copy reads (an older data version), None for the live one."""
        return self._kept

    def kept_in(self, schema: str, table: str) -> LayerDef:
        """The same layer read from a kept table of an older data version (the import
        history): every statement built from the copy names that table instead."""
        copy = self.model_copy()
        copy._kept = (schema, table)
        return copy

    @property
    def is_spatial(self) -> bool:
        return self.geometry is not None

    @property
    def geometry_columns(self) -> tuple[str, ...]:
        """The table's geometry columns: the position, then the footprint if the layer has one."""
        if self.geometry is None:
            return ()
        return ("geom", "footprint") if self.footprint else ("geom",)

    @property
    def area_column(self) -> str | None:
        """The column areas are measured on: the footprints of a layer that keeps them beside
        its positions, the polygons of a polygon layer; None for points and lines."""
        if self.footprint:
            return "footprint"
        return "geom" if self.geometry == "MultiPolygon" else None

    @property
    def accepted_geometries(self) -> tuple[str, ...]:
        """The geometry types a file of this layer may carry (Multi* promoted on import)."""
        if self.geometry is None:
            return ()
        return (self.geometry, self.footprint) if self.footprint else (self.geometry,)

    @property
    def pii_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.pii)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def has_field(self, name: str) -> bool:
        return name in self.field_names

    @model_validator(mode="after")
    def _consistent(self) -> LayerDef:
        names = self.field_names
        if len(set(names)) != len(names):
            raise ValueError(f"layer {self.id}: a field name appears twice")
        refs: list[tuple[str, str]] = [("key", k) for k in self.key]
        refs += [("label", self.label)] if self.label else []
        refs += [("temporal", self.temporal)] if self.temporal else []
        refs += [("commune_field", self.commune_field)] if self.commune_field else []
        if self.tiles:
            refs += [("tiles.attributes", a) for attrs in self.tiles.attributes.values() for a in attrs]
            if self.tiles.minzoom_by:
                refs.append(("tiles.minzoom_by.field", self.tiles.minzoom_by.field))
        for where, name in refs:
            if name not in names:
                raise ValueError(f"layer {self.id}: {where} names unknown field {name!r}")
        if self.footprint and self.geometry != "Point":
            raise ValueError(f"layer {self.id}: a footprint goes beside a Point position "
                             f"(geometry: Point), not a {self.geometry}")
        if self.tiles and not self.is_spatial:
            raise ValueError(f"layer {self.id}: a layer without geometry cannot have tiles")
        if self.tiles:
            leaked = [a for attrs in self.tiles.attributes.values() for a in attrs
                      if self.field(a).pii]
            if leaked:
                raise ValueError(f"layer {self.id}: personal-data fields {leaked} may not go into tiles")
        if self.commune_field and self.field(self.commune_field).type != "text":
            raise ValueError(f"layer {self.id}: commune_field {self.commune_field!r} must be text")
        if self.temporal and self.field(self.temporal).type not in ("date", "timestamptz"):
            raise ValueError(f"layer {self.id}: temporal field {self.temporal!r} must be a date "
                             "or timestamptz")
        if self.open is not None and self.sensitivity != "public":
            raise ValueError(f"layer {self.id}: only public layers may be open data (this one "
                             f"is {self.sensitivity}); remove 'open' or make the layer public")
        if self.share_pii and not self.pii_fields:
            raise ValueError(f"layer {self.id}: share_pii is set but the layer has no "
                             "personal-data field")
        return self

    @model_validator(mode="after")
    def _derivations(self) -> LayerDef:
        for f in self.fields:
            if f.derive in LOCATION_DERIVATIONS and not self.is_spatial:
                raise ValueError(f"layer {self.id}: field {f.name!r} derives {f.derive} but "
                                 "the layer has no geometry")
            if f.derive in KEY_DERIVATIONS and f.name not in self.key:
                raise ValueError(f"layer {self.id}: field {f.name!r} derives {f.derive}, which "
                                 "generates keys, but it is not part of the layer's key")
            if f.derive == "key_hash" and not self.is_spatial:
                raise ValueError(f"layer {self.id}: key_hash hashes the geometry; the layer "
                                 "has none")
        return self


class GroupDef(Frozen):
    group: str
    title: Text
    # Position in listings and catalogs (base map first, indicators last).
    order: int = 100
    # Imports of the group's layers stop at *pending* until a data steward of the group
    # approves them (Điều 9.4: data goes live approved); false for data no department
    # supplies (importers/review.py).
    approval: bool = True
    layers: tuple[LayerDef, ...]
