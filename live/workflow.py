"""The incident workflow as data (``live/workflow.yaml``): statuses, the steps allowed from
each, the unit a step names, and the time an incident may stay in a status."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from iocgis.yamlfile import read_definitions, validated

WORKFLOW_FILE = Path(__file__).with_name("workflow.yaml")


class Status(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    next: tuple[str, ...] = ()
    names_unit: bool = False
    overdue_after: timedelta | None = None  # none: the status is final
    by_kind: dict[str, timedelta] = Field(default_factory=dict)

    def allowed(self, kind: str | None) -> timedelta | None:
        """How long an incident of ``kind`` may stay in this status."""
        return self.by_kind.get(kind or "", self.overdue_after)


class Workflow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    statuses: dict[str, Status]

    @model_validator(mode="after")
    def _steps_known(self) -> Workflow:
        for name, status in self.statuses.items():
            unknown = set(status.next) - set(self.statuses)
            if unknown:
                raise ValueError(f"status {name} goes to unknown statuses {sorted(unknown)}")
        return self

    @property
    def first(self) -> str:
        return next(iter(self.statuses))

    def steps_from(self, status: str) -> frozenset[str]:
        found = self.statuses.get(status)
        return frozenset(found.next) if found else frozenset()

    def overdue_rules(self) -> list[tuple[str, str | None, timedelta]]:
        """(status, kind or None for every kind, allowed time) of each status with a limit."""
        out: list[tuple[str, str | None, timedelta]] = []
        for name, status in self.statuses.items():
            if status.overdue_after is not None:
                out.append((name, None, status.overdue_after))
            out += [(name, kind, allowed) for kind, allowed in status.by_kind.items()]
        return out


def load_workflow(path: Path = WORKFLOW_FILE) -> Workflow:
    return validated(Workflow, read_definitions(path, "incident workflow"),
                     "incident workflow", str(path))


@cache
def workflow() -> Workflow:
    return load_workflow()
