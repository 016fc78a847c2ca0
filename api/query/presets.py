"""Scenario presets: named, parameterised queries kept as data in ``layers/scenarios/*.yaml``.

Loaded once at start-up into frozen models and checked against the layer registry: every
layer, field, code and ``$parameter`` a preset names must exist, and no preset may group or
filter by a personal-data field. A wrong file fails at start-up with the file, the key and
the reason. A new scenario is a new file, not a new endpoint.

A preset either runs layer ``steps`` through the query engine, or names a ``service``: a
domain's own engine answering with the same parameter checks (``SERVICES``), e.g. the planning
lookup; its ``layers`` say what it reads (a caller who cannot see them does not see the preset).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from iocgis.errors import ConfigError
from iocgis.layers import LayerDef, Registry, get_registry
from iocgis.layers.model import NAME_RE, Frozen, Text
from iocgis.layers.registry import REGISTRY_DIR
from iocgis.yamlfile import read_definitions, validated

PRESETS_DIR = REGISTRY_DIR / "scenarios"
ParamType = Literal["number", "integer", "boolean", "text", "code", "point", "feature", "admin"]
# A literal, or "$name" naming one of the preset's parameters.
Ref = str | int | float | bool | None
# Presets answered by a domain's engine: name -> "module:function", an async function taking
# (QueryContext, Params, head) and returning the response.
SERVICES = {"planning_lookup": "iocgis.planning_docs.http_lookup:scenario_answer"}


def is_ref(value: object) -> bool:
    return isinstance(value, str) and value.startswith("$")


class ParamDef(Frozen):
    type: ParamType
    title: Text
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    multiple: bool = False  # code: several codes separated by | or ,
    layer: str | None = None  # code: the layer of the field; feature: the layer looked up
    field: str | None = None  # code: the field whose code list applies

    @model_validator(mode="after")
    def _consistent(self) -> ParamDef:
        if self.type == "code" and not (self.layer and self.field):
            raise ValueError("a code parameter names its layer and field")
        if self.type == "feature" and not self.layer:
            raise ValueError("a feature parameter names the layer it looks up")
        if self.required and self.default is not None:
            raise ValueError("a required parameter has no default")
        return self


class RelatedDef(Frozen):
    """Keep features whose ``field`` is among ``other_field`` of ``layer`` rows meeting ``where``."""

    field: str
    layer: str
    other_field: str
    where: dict[str, Ref] = Field(default_factory=dict)


class TargetDef(Frozen):
    """A target: an indicator's in ``kpi.indicators`` if present, else ``value``."""

    value: Ref = None
    indicator: str | None = None


class RatioDef(Frozen):
    name: str
    numerator: str
    denominator: str | None = None  # None: per feature
    target: TargetDef = TargetDef()
    direction: Literal["higher_better", "lower_better"] = "higher_better"


Sources = tuple[str, ...]  # "$param" alternatives; the first one given is used


class Everywhere(Frozen):
    kind: Literal["everywhere"]


class Intersects(Frozen):
    """Features at a point (containing it) or intersecting a polygon (areas clipped)."""

    kind: Literal["intersects"]
    geometry: Sources
    clip: bool = True
    tolerance_m: Ref = 0


class Radius(Frozen):
    kind: Literal["radius"]
    center: Sources
    radius_m: Ref


class NearestSel(Frozen):
    kind: Literal["nearest"]
    center: Sources
    count: Ref = 5
    max_distance_m: Ref = None


class InsideLayerSel(Frozen):
    kind: Literal["inside_layer"]
    layer: str
    where: dict[str, Ref] = Field(default_factory=dict)


class FartherThanSel(Frozen):
    kind: Literal["farther_than"]
    layer: str
    distance_m: Ref
    where: dict[str, Ref] = Field(default_factory=dict)


SelectDef = Annotated[Everywhere | Intersects | Radius | NearestSel | InsideLayerSel
                      | FartherThanSel, Field(discriminator="kind")]


class StepDef(Frozen):
    title: Text
    layer: str
    select: SelectDef
    when: tuple[str, ...] = ()  # run only when one of these parameters is given
    within: str | None = None  # "$param" (admin or feature): also keep to that area
    where: dict[str, Ref] = Field(default_factory=dict)
    related: tuple[RelatedDef, ...] = ()
    group_by: str | None = None
    totals: tuple[str, ...] | None = None  # None: the registry's totalled fields
    flags: tuple[str, ...] | None = None  # None: every boolean field
    ratios: tuple[RatioDef, ...] = ()
    only_failing: Ref = False
    features: bool = True
    limit: Ref = 100


class PresetDef(Frozen):
    name: str
    title: Text
    description: Text
    parameters: dict[str, ParamDef] = Field(default_factory=dict)
    requires_one_of: tuple[tuple[str, ...], ...] = ()
    steps: dict[str, StepDef] = Field(default_factory=dict)
    service: str | None = None  # a name of SERVICES, instead of steps
    layers: tuple[str, ...] = ()  # what a service reads

    @model_validator(mode="after")
    def _steps_or_service(self) -> PresetDef:
        if bool(self.steps) == bool(self.service):
            raise ValueError("a preset has either steps or a service")
        if self.service and self.service not in SERVICES:
            raise ValueError(f"unknown service {self.service!r} (known: {', '.join(SERVICES)})")
        if self.service and not self.layers:
            raise ValueError("a service preset lists the layers it reads")
        return self

    def layer_ids(self) -> tuple[str, ...]:
        """Every layer the preset reads (visible to the caller, or the preset is not)."""
        ids: list[str] = list(self.layers)
        for step in self.steps.values():
            ids.append(step.layer)
            if isinstance(step.select, (InsideLayerSel, FartherThanSel)):
                ids.append(step.select.layer)
            ids += [r.layer for r in step.related]
        return tuple(dict.fromkeys(ids))


class PresetSet:
    def __init__(self, presets: dict[str, PresetDef]) -> None:
        self.presets = presets

    def __iter__(self):  # noqa: ANN204
        return iter(self.presets.values())

    def get(self, name: str) -> PresetDef | None:
        return self.presets.get(name)


class _Checker:
    """Cross-checks of one preset against the registry."""

    def __init__(self, preset: PresetDef, registry: Registry, path: Path) -> None:
        self.preset, self.registry, self.path = preset, registry, path

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"invalid scenario preset: {message}", where=f"{self.path}: {key}",
                           hint="fix the preset and restart")

    def layer(self, key: str, layer_id: str) -> LayerDef:
        if layer_id not in self.registry:
            raise self.fail(key, f"unknown layer {layer_id!r}")
        return self.registry.get(layer_id)

    def field(self, key: str, layer: LayerDef, name: str, *, numeric: bool = False,
              boolean: bool = False, pii_ok: bool = False) -> None:
        if not layer.has_field(name):
            raise self.fail(key, f"layer {layer.id} has no field {name!r}")
        fdef = layer.field(name)
        if fdef.pii and not pii_ok:
            raise self.fail(key, f"{layer.id}.{name} is personal data and cannot be used here")
        if numeric and not fdef.is_numeric:
            raise self.fail(key, f"{layer.id}.{name} is not numeric")
        if boolean and fdef.type != "boolean":
            raise self.fail(key, f"{layer.id}.{name} is not a true/false field")

    def ref(self, key: str, value: object, types: tuple[str, ...] | None = None) -> None:
        if not is_ref(value):
            return
        name = str(value)[1:]
        param = self.preset.parameters.get(name)
        if param is None:
            raise self.fail(key, f"{value} names no parameter "
                                 f"(parameters: {', '.join(self.preset.parameters)})")
        if types and param.type not in types:
            raise self.fail(key, f"{value} is a {param.type} parameter; {'/'.join(types)} needed")

    def where(self, key: str, layer: LayerDef, where: dict[str, Ref]) -> None:
        for name, value in where.items():
            self.field(f"{key}.{name}", layer, name)
            self.ref(f"{key}.{name}", value)
            codes = self.registry.domain_codes(layer.field(name))
            if codes is not None and not is_ref(value) and str(value) not in codes:
                raise self.fail(f"{key}.{name}", f"{value!r} is not a code of {layer.id}.{name}")

    def run(self) -> None:
        p = self.preset
        if not NAME_RE.match(p.name):
            raise self.fail("name", f"{p.name!r} must be lower-case letters, digits and _")
        for pname, param in p.parameters.items():
            if not NAME_RE.match(pname):
                raise self.fail(f"parameters.{pname}", "names are lower-case letters, digits, _")
            if param.layer:
                layer = self.layer(f"parameters.{pname}.layer", param.layer)
                if param.type == "code":
                    self.field(f"parameters.{pname}.field", layer, str(param.field))
                    if self.registry.domain_codes(layer.field(str(param.field))) is None:
                        raise self.fail(f"parameters.{pname}.field",
                                        f"{layer.id}.{param.field} has no code list")
                if param.type == "feature" and not layer.key:
                    raise self.fail(f"parameters.{pname}.layer", f"{layer.id} has no key")
        for group in p.requires_one_of:
            for pname in group:
                self.ref("requires_one_of", f"${pname}")
        for sname, step in p.steps.items():
            self.step(f"steps.{sname}", step)
        for layer_id in p.layers:
            self.layer("layers", layer_id)

    def step(self, key: str, step: StepDef) -> None:
        layer = self.layer(f"{key}.layer", step.layer)
        if not layer.is_spatial:
            raise self.fail(f"{key}.layer", f"{layer.id} has no geometry")
        for pname in step.when:
            self.ref(f"{key}.when", f"${pname}")
        sel = step.select
        places = ("point", "feature", "admin")
        if isinstance(sel, Intersects):
            for source in sel.geometry:
                self.ref(f"{key}.select.geometry", source, places)
            self.ref(f"{key}.select.tolerance_m", sel.tolerance_m, ("number", "integer"))
        elif isinstance(sel, Radius):
            for source in sel.center:
                self.ref(f"{key}.select.center", source, places)
            self.ref(f"{key}.select.radius_m", sel.radius_m, ("number", "integer"))
        elif isinstance(sel, NearestSel):
            for source in sel.center:
                self.ref(f"{key}.select.center", source, places)
            self.ref(f"{key}.select.count", sel.count, ("integer",))
            self.ref(f"{key}.select.max_distance_m", sel.max_distance_m, ("number", "integer"))
        elif isinstance(sel, (InsideLayerSel, FartherThanSel)):
            other = self.layer(f"{key}.select.layer", sel.layer)
            self.where(f"{key}.select.where", other, sel.where)
            if isinstance(sel, FartherThanSel):
                self.ref(f"{key}.select.distance_m", sel.distance_m, ("number", "integer"))
        for source_key in ("geometry", "center"):
            sources = getattr(sel, source_key, ())
            if any(not is_ref(s) for s in sources):
                raise self.fail(f"{key}.select.{source_key}", "list parameters as $name")
        if step.within:
            self.ref(f"{key}.within", step.within, ("admin", "feature"))
        self.where(f"{key}.where", layer, step.where)
        for i, rel in enumerate(step.related):
            self.field(f"{key}.related.{i}.field", layer, rel.field)
            other = self.layer(f"{key}.related.{i}.layer", rel.layer)
            self.field(f"{key}.related.{i}.other_field", other, rel.other_field)
            self.where(f"{key}.related.{i}.where", other, rel.where)
        if step.group_by:
            self.field(f"{key}.group_by", layer, step.group_by)
        for name in step.totals or ():
            self.field(f"{key}.totals", layer, name, numeric=True)
        for name in step.flags or ():
            self.field(f"{key}.flags", layer, name, boolean=True)
        for ratio in step.ratios:
            self.field(f"{key}.ratios.{ratio.name}.numerator", layer, ratio.numerator,
                       numeric=True)
            if ratio.denominator:
                self.field(f"{key}.ratios.{ratio.name}.denominator", layer, ratio.denominator,
                           numeric=True)
            self.ref(f"{key}.ratios.{ratio.name}.target", ratio.target.value,
                     ("number", "integer"))
            if ratio.name in layer.field_names or not NAME_RE.match(ratio.name):
                raise self.fail(f"{key}.ratios.{ratio.name}", "the ratio needs a new simple name")
        self.ref(f"{key}.only_failing", step.only_failing, ("boolean",))
        self.ref(f"{key}.limit", step.limit, ("integer",))


def load_presets(registry: Registry, directory: Path = PRESETS_DIR) -> PresetSet:
    presets: dict[str, PresetDef] = {}
    for path in sorted(directory.glob("*.yaml")):
        raw = read_definitions(path, "scenario preset")
        preset = validated(PresetDef, raw, "scenario preset", str(path))
        if preset.name in presets:
            raise ConfigError(f"scenario {preset.name!r} is defined twice", where=str(path),
                              hint="give each preset its own name")
        _Checker(preset, registry, path).run()
        presets[preset.name] = preset
    return PresetSet(presets)


@lru_cache(maxsize=1)
def get_presets() -> PresetSet:
    return load_presets(get_registry())
