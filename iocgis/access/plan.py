"""The access plan: asked once per caller and layer, required by every SQL builder.

A plan says whether the caller may read the layer at all (``plan_for`` raises NotFound
otherwise, so a hidden layer looks exactly like a missing one), which fields they read, which
communes' rows, and whether personal data is in play. The same caller's ``DbScope`` is what
PostgreSQL enforces for the request (``iocgis.access.database``): the group role of the
caller's level and the communes, so a statement built without a plan reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from iocgis.access.rules import (
    ROLE_RIGHTS,
    Caller,
    commune_scope,
    note,
    note_shared,
    require_layer,
    visible_fields,
)
from iocgis.errors import InvalidInput
from iocgis.layers import FieldDef, LayerDef, Registry
from iocgis.layers.model import SENSITIVITY_RANK


@dataclass(frozen=True)
class AccessPlan:
    """What one caller may read of one layer. Immutable; narrow it with ``with_fields``."""

    caller: Caller
    layer: LayerDef
    fields: tuple[str, ...]  # the fields read, in registry order (never a hidden one)
    communes: tuple[str, ...] | None  # rows of these communes only; None: every row

    @property
    def pii(self) -> bool:
        """Personal data is read: a personal-data field is among the fields."""
        pii = set(self.layer.pii_fields)
        return any(name in pii for name in self.fields)

    @property
    def reads_extra(self) -> bool:
        """The row's source leftovers (``extra``) are read: not when the layer has personal
        data the caller may not see (leftovers may be personal too; PostgreSQL's masked views
        hide them the same way, ``iocgis.roles.dbroles``)."""
        return not self.layer.pii_fields or self.caller.sees_pii

    @property
    def restricted(self) -> bool:
        return self.layer.sensitivity == "restricted"

    @property
    def commune_field(self) -> str | None:
        """The field the row filter applies to, when there is a row filter."""
        return self.layer.commune_field if self.communes is not None else None

    @property
    def field_defs(self) -> tuple[FieldDef, ...]:
        return tuple(self.layer.field(name) for name in self.fields)

    def field(self, name: str, *, where: str = "field") -> FieldDef:
        """A field the plan reads, else InvalidInput as for an unknown field (a personal-data
        field does not exist for a caller without that right)."""
        if name not in self.fields:
            raise InvalidInput(f"unknown field {name!r} of layer {self.layer.id}", where=where,
                               hint=f"use one of: {', '.join(self.fields)}")
        return self.layer.field(name)

    def with_fields(self, names: tuple[str, ...] | list[str]) -> AccessPlan:
        """The same plan reading only ``names`` (each one the plan may read)."""
        wanted = set(names)
        for name in wanted:
            self.field(name)
        return replace(self, fields=tuple(f for f in self.fields if f in wanted))

    @property
    def audit_note(self) -> tuple[str, ...]:
        """What reading rows under this plan puts in the request's audit notes."""
        return (("restricted",) if self.restricted else ()) + (("pii",) if self.pii else ())


def plan_for(caller: Caller, layer: str | LayerDef, registry: Registry | None = None) -> AccessPlan:
    """The plan for ``caller`` reading ``layer``; NotFound when the caller may not see it."""
    layer_id = layer if isinstance(layer, str) else layer.id
    found = require_layer(caller, layer_id, registry, note_read=False)
    return AccessPlan(caller=caller, layer=found, fields=visible_fields(caller, found),
                      communes=commune_scope(caller, found))


def note_read(plan: AccessPlan) -> None:
    """Note, for this request's audit record, that rows were read under ``plan`` (under a
    sharing agreement: every read, whatever the layer's sensitivity)."""
    for kind in plan.audit_note:
        note(kind, plan.layer.id)
    note_shared(plan.caller, plan.layer.id)


@dataclass(frozen=True)
class DbScope:
    """What PostgreSQL enforces for one caller's statements: the group role of the app role
    that decides the caller's level (``<prefix><role>[_pii]``) and the communes setting."""

    role: str
    pii: bool
    communes: str  # '*' for every commune, else comma-separated codes

    def group_role(self, prefix: str) -> str:
        return group_role(prefix, self.role, self.pii)


def group_role(prefix: str, role: str, pii: bool = False) -> str:
    """The PostgreSQL group role mirroring an app role (with the personal-data right)."""
    return f"{prefix}{role}{'_pii' if pii else ''}"


def _level(role: str) -> tuple[int, bool, str]:
    rights = ROLE_RIGHTS[role]
    return SENSITIVITY_RANK[str(rights["sensitivity"])], bool(rights["pii"]), role


def db_scope(caller: Caller) -> DbScope:
    """The caller's database scope: the data role of the highest level (with the PII group
    when the caller has the personal-data right and that role lacks it)."""
    roles = [r for r in caller.data_roles if r in ROLE_RIGHTS] or ["public"]
    role = max(roles, key=_level)
    pii = caller.sees_pii and not ROLE_RIGHTS[role]["pii"]
    communes = ",".join(sorted(caller.commune_codes)) if caller.commune_codes else "*"
    return DbScope(role=role, pii=pii, communes=communes)
