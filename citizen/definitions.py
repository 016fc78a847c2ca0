"""The citizen-report process as data: categories, routing, units, workflow, privacy.

Read once from ``citizen/*.yaml`` into frozen models and checked against the layer registry
(the category and status code lists of ``citizen.reports``): a wrong file stops the server
naming the file, the key and the reason.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from iocgis.errors import ConfigError
from iocgis.layers import Registry, get_registry
from iocgis.layers.model import Text
from iocgis.yamlfile import read_definitions, validated

DEFINITIONS_DIR = Path(__file__).resolve().parent
REPORTS_LAYER = "citizen.reports"
PUBLIC_LAYER = "citizen.public_reports"
COMMUNE = "commune"
Actor = Literal["handler", "system", "reporter"]
Need = Literal["note", "unit", "answer", "reason"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Category(Frozen):
    sector: str
    sla_working_days: int = Field(ge=1, le=90)
    unit: str
    public_location: Literal["grid_100m", "commune"]


class Rule(Frozen):
    categories: tuple[str, ...] = ()
    commune_types: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    unit: str

    def matches(self, category: str, commune_code: str, commune_type: str | None) -> bool:
        return ((not self.categories or category in self.categories)
                and (not self.commune_types or commune_type in self.commune_types)
                and (not self.communes or commune_code in self.communes))


class CommuneUnit(Frozen):
    code: str
    vi: str
    en: str


class Escalation(Frozen):
    after_working_days: int = Field(ge=1)
    escalate_to: str
    max_level: int = Field(ge=1, le=9)


class Routing(Frozen):
    """categories.yaml"""

    categories: dict[str, Category]
    rules: tuple[Rule, ...] = ()
    departments: dict[str, Text]
    commune_unit: CommuneUnit
    escalation: Escalation
    extra_days_off: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _units_known(self) -> Routing:
        units = [("categories." + c, cat.unit) for c, cat in self.categories.items()]
        units += [(f"rules[{i}]", r.unit) for i, r in enumerate(self.rules)]
        units.append(("escalation.escalate_to", self.escalation.escalate_to))
        for where, unit in units:
            if unit != COMMUNE and unit not in self.departments:
                raise ValueError(f"{where}: unknown unit {unit!r} (a department code or "
                                 f"'{COMMUNE}')")
        for i, rule in enumerate(self.rules):
            unknown = set(rule.categories) - set(self.categories)
            if unknown:
                raise ValueError(f"rules[{i}]: unknown categories {sorted(unknown)}")
        if self.escalation.escalate_to == COMMUNE:
            raise ValueError("escalation.escalate_to must be a department")
        return self


class Transition(Frozen):
    from_: str = Field(alias="from")
    to: str
    by: tuple[Actor, ...]
    needs: tuple[Need, ...] = ()

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Intake(Frozen):
    auto_classify: bool = True
    auto_assign: bool = True


class RatingRule(Frozen):
    scale: int = Field(default=5, ge=2, le=10)
    reopen_at_or_below: int = Field(ge=0)


class Workflow(Frozen):
    """workflow.yaml"""

    handler_roles: tuple[str, ...]
    open_statuses: tuple[str, ...]
    final_statuses: tuple[str, ...]
    intake: Intake = Intake()
    transitions: tuple[Transition, ...]
    rating: RatingRule

    def transition(self, source: str, target: str) -> Transition | None:
        for t in self.transitions:
            if t.from_ == source and t.to == target:
                return t
        return None

    def targets(self, source: str) -> tuple[str, ...]:
        return tuple(t.to for t in self.transitions if t.from_ == source)


class Retention(Frozen):
    identity_days_after_final: int = Field(ge=0)
    photo_location_days_after_final: int = Field(ge=0)
    unpublished_photos_days_after_final: int = Field(ge=0)


class PhotoRules(Frozen):
    max_count: int = Field(ge=0, le=10)
    max_bytes: int = Field(ge=10_000)
    types: tuple[str, ...]
    max_pixels: int = Field(ge=1_000_000)
    publish_max_side: int = Field(ge=320, le=4096)


class Privacy(Frozen):
    """privacy.yaml"""

    purpose: Text
    retention: Retention
    identity_read: dict[str, int]
    photos: PhotoRules


class Process(Frozen):
    routing: Routing
    workflow: Workflow
    privacy: Privacy

    def category(self, code: str) -> Category:
        return self.routing.categories[code]


def _model(path: Path, model: type[BaseModel]) -> BaseModel:
    raw = read_definitions(path, "citizen process definition")
    return validated(model, raw or {}, "citizen process definition", str(path))


def _check_against_registry(process: Process, registry: Registry, directory: Path) -> None:
    layer = registry.get(REPORTS_LAYER)
    categories = set(registry.domain_codes(layer.field("category")) or ())
    statuses = set(registry.domain_codes(layer.field("status")) or ())
    sectors = {c.code for c in registry.codelists.get("sector", ())}
    where = directory / "categories.yaml"
    if set(process.routing.categories) != categories:
        missing = sorted(categories - set(process.routing.categories))
        extra = sorted(set(process.routing.categories) - categories)
        raise ConfigError("the categories differ from the registry's code list of "
                          f"{REPORTS_LAYER}.category (missing {missing}, unknown {extra})",
                          where=f"{where}: categories", hint="define each code exactly once")
    for code, category in process.routing.categories.items():
        if sectors and category.sector not in sectors:
            raise ConfigError(f"unknown sector {category.sector!r}",
                              where=f"{where}: categories.{code}.sector",
                              hint=f"use one of {sorted(sectors)} (layers/codelists.yaml)")
    wf = process.workflow
    used = {t.from_ for t in wf.transitions} | {t.to for t in wf.transitions}
    used |= set(wf.open_statuses) | set(wf.final_statuses)
    unknown = sorted(used - statuses)
    if unknown:
        raise ConfigError(f"unknown statuses {unknown}", where=f"{directory / 'workflow.yaml'}",
                          hint=f"the registry's statuses are {sorted(statuses)}")
    for final in wf.final_statuses:
        if wf.targets(final):
            raise ConfigError(f"final status {final!r} has transitions out of it",
                              where=f"{directory / 'workflow.yaml'}: transitions",
                              hint="remove them or the status from final_statuses")


def load_process(directory: Path = DEFINITIONS_DIR, registry: Registry | None = None) -> Process:
    routing = _model(directory / "categories.yaml", Routing)
    workflow = _model(directory / "workflow.yaml", Workflow)
    privacy = _model(directory / "privacy.yaml", Privacy)
    process = Process(routing=routing, workflow=workflow, privacy=privacy)  # type: ignore[arg-type]
    _check_against_registry(process, registry or get_registry(), directory)
    return process


@lru_cache(maxsize=1)
def get_process() -> Process:
    """The process definitions, loaded once per process."""
    return load_process()
