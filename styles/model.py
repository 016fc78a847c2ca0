"""Style definitions as typed, frozen models: one theme per file in ``styles/themes/``.

A rule says how one registry layer is drawn (fill, line, circle, icon, label or 3-D
extrusion), with colours and sizes that may depend on a field (by code) or on the zoom. The
same rules produce MapLibre GL style JSON and QGIS QML.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from iocgis.layers.model import Text

COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
Draw = Literal["fill", "line", "circle", "icon", "label", "extrusion"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_color(value: str) -> str:
    if not COLOR_RE.match(value):
        raise ValueError(f"colour {value!r} must be written #rrggbb")
    return value.lower()


class ByField(Frozen):
    """A value chosen by a field of the feature: an explicit table or a named palette, with a
    default; ``scale`` multiplies it along the zoom (for widths and radii)."""

    by: str
    values: dict[str, str | float] = Field(default_factory=dict)
    palette: str | None = None
    default: str | float
    scale: dict[int, float] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ByField:
        if not self.values and not self.palette:
            raise ValueError(f"'by: {self.by}' needs 'values' or 'palette'")
        return self


ColorValue = str | ByField
# A number, a number per zoom ({zoom: value}, interpolated), or a number per field value.
NumberValue = float | dict[int, float] | ByField


class Rule(Frozen):
    layer: str
    draw: Draw
    color: ColorValue | None = None
    opacity: float = Field(default=1.0, ge=0, le=1)
    outline: str | None = None  # fills: outline colour
    width: NumberValue | None = None  # lines, outlines (px)
    dash: tuple[float, ...] | None = None
    radius: NumberValue | None = None  # circles (px)
    stroke: str | None = None  # circles: ring colour
    icon: str | None = None  # icons: sprite name
    field: str | None = None  # labels: the text
    size: NumberValue | None = None  # labels, icons
    halo: str = "#ffffff"
    bold: bool = False
    height: str | None = None  # extrusions: the height field, in metres
    where: dict[str, tuple[str, ...]] | None = None  # draw only these values of a field
    minzoom: int | None = Field(default=None, ge=0, le=24)
    maxzoom: int | None = Field(default=None, ge=0, le=24)

    @field_validator("outline", "stroke", "halo")
    @classmethod
    def _colors(cls, value: str | None) -> str | None:
        return None if value is None else _check_color(value)

    @field_validator("color")
    @classmethod
    def _color(cls, value: ColorValue | None) -> ColorValue | None:
        if isinstance(value, str):
            return _check_color(value)
        return value

    @model_validator(mode="after")
    def _needs(self) -> Rule:
        required = {"label": ("field",), "extrusion": ("height",), "icon": ("icon",)}
        for name in required.get(self.draw, ()):
            if getattr(self, name) is None:
                raise ValueError(f"a {self.draw} rule of {self.layer} needs '{name}'")
        if self.draw in ("fill", "line", "circle", "extrusion") and self.color is None:
            raise ValueError(f"a {self.draw} rule of {self.layer} needs 'color'")
        return self

    def fields_used(self) -> tuple[str, ...]:
        used: list[str] = []
        for value in (self.color, self.width, self.radius, self.size):
            if isinstance(value, ByField):
                used.append(value.by)
        used += [f for f in (self.field, self.height) if f]
        used += list(self.where or ())
        return tuple(dict.fromkeys(used))


class Theme(Frozen):
    name: str
    title: Text
    description: Text
    # The theme's own tilesets; ``extends`` draws another theme (the base map) underneath.
    tilesets: tuple[str, ...] = Field(min_length=1)
    extends: str | None = None
    center: tuple[float, float] | None = None
    zoom: float | None = None
    pitch: float = Field(default=0, ge=0, le=85)
    background: str | None = None
    rules: tuple[Rule, ...] = Field(min_length=1)

    @field_validator("background")
    @classmethod
    def _bg(cls, value: str | None) -> str | None:
        return None if value is None else _check_color(value)
