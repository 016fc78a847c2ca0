"""The one enforcement point: what a caller may see of the registry's layers and fields.

Every path (OGC API, tiles, queries, scenarios, exports, imports, HTML) asks here. A caller
without the right to a layer is told it does not exist (404), never that it is forbidden.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from iocgis.errors import Forbidden, InvalidInput, NotFound
from iocgis.layers import LayerDef, Registry, get_registry
from iocgis.layers.model import SENSITIVITY_RANK

# What each role may do. Sensitivity is the highest level the role may read.
ROLE_RIGHTS: dict[str, dict[str, object]] = {
    "public": {"sensitivity": "public", "pii": False, "import": False, "admin": False},
    "viewer": {"sensitivity": "internal", "pii": False, "import": False, "admin": False},
    "analyst": {"sensitivity": "internal", "pii": False, "import": False, "admin": False},
    "gis_officer": {"sensitivity": "restricted", "pii": False, "import": True, "admin": False},
    "admin": {"sensitivity": "restricted", "pii": True, "import": True, "admin": True},
}


@dataclass(frozen=True)
class Caller:
    """Who is asking: an account (or anonymous) with its roles and extra rights."""

    name: str = "anonymous"
    roles: frozenset[str] = frozenset({"public"})
    pii: bool = False  # the separate right to see personal-data fields
    commune_codes: frozenset[str] = field(default_factory=frozenset)  # empty: every commune
    client: str | None = None  # address the request came from, for the audit trail
    account_id: int | None = None  # security.accounts id; None for anonymous
    session_id: str | None = None  # the login session (bearer tokens); None for API keys
    auth: str = "anonymous"  # how the caller proved who they are: bearer, api_key, anonymous
    mfa: bool = False  # the session was opened with a second factor

    @property
    def is_anonymous(self) -> bool:
        return self.roles == frozenset({"public"})

    @property
    def max_sensitivity(self) -> int:
        return max(SENSITIVITY_RANK[str(ROLE_RIGHTS[r]["sensitivity"])] for r in self.roles
                   if r in ROLE_RIGHTS) if self.roles else 0

    @property
    def sees_pii(self) -> bool:
        return self.pii or any(bool(ROLE_RIGHTS.get(r, {}).get("pii")) for r in self.roles)

    def may(self, right: str) -> bool:
        return any(bool(ROLE_RIGHTS.get(r, {}).get(right)) for r in self.roles)


ANONYMOUS = Caller()

# Set once per request by the authentication middleware; code deep inside a request
# (pygeoapi providers, tile and query SQL) reads it from here. Thread pools copy the context.
CURRENT_CALLER: ContextVar[Caller] = ContextVar("iocgis_caller", default=ANONYMOUS)


def current_caller() -> Caller:
    return CURRENT_CALLER.get()


@dataclass
class AccessNotes:
    """What one request read or was refused, for the audit trail (flushed per request by the
    security middleware). Thread-pool copies of the context share this one object."""

    restricted: set[str] = field(default_factory=set)  # restricted layers read
    pii: set[str] = field(default_factory=set)  # layers whose personal-data fields were read
    denied: set[str] = field(default_factory=set)  # existing layers asked for without the right

    def __bool__(self) -> bool:
        return bool(self.restricted or self.pii or self.denied)


ACCESS_NOTES: ContextVar[AccessNotes | None] = ContextVar("iocgis_access_notes", default=None)


def _note(kind: str, layer_id: str) -> None:
    notes = ACCESS_NOTES.get()
    if notes is not None:
        getattr(notes, kind).add(layer_id)


def can_see(caller: Caller, layer: LayerDef) -> bool:
    return SENSITIVITY_RANK[layer.sensitivity] <= caller.max_sensitivity


def visible_layers(caller: Caller, registry: Registry | None = None) -> tuple[LayerDef, ...]:
    registry = registry or get_registry()
    return tuple(layer for layer in registry if can_see(caller, layer))


def require_layer(caller: Caller, layer_id: str, registry: Registry | None = None) -> LayerDef:
    """The layer, or NotFound: a caller without the right never learns it exists."""
    registry = registry or get_registry()
    if layer_id in registry:
        layer = registry.get(layer_id)
        if can_see(caller, layer):
            if layer.sensitivity == "restricted":
                _note("restricted", layer.id)
            return layer
        _note("denied", layer.id)  # a probe for a layer the caller may not know of
    raise NotFound(f"unknown layer {layer_id!r}", where="layer",
                   hint="list the layers you may see at /collections")


# Layers recording a commune carry this field; a caller limited to some communes reads only
# their rows of such layers (queries, features, tiles alike).
COMMUNE_FIELD = "commune_code"


def commune_scope(caller: Caller, layer: LayerDef) -> tuple[str, ...] | None:
    """The communes whose rows of ``layer`` the caller may read (sorted), or None for every
    row: callers without a commune limit, and layers that record no commune."""
    if not caller.commune_codes or not layer.has_field(COMMUNE_FIELD):
        return None
    return tuple(sorted(caller.commune_codes))


def visible_fields(caller: Caller, layer: LayerDef) -> tuple[str, ...]:
    """The layer's fields this caller may read; personal-data fields only with the PII right."""
    if caller.sees_pii:
        if layer.pii_fields:
            _note("pii", layer.id)
        return layer.field_names
    return tuple(f.name for f in layer.fields if not f.pii)


def require_field(caller: Caller, layer: LayerDef, name: str, *, where: str = "field") -> str:
    """A field the caller may use (filter, group_by, sort), else InvalidInput as for an unknown
    field: a personal-data field does not exist for a caller without the PII right."""
    if name not in visible_fields(caller, layer):
        raise InvalidInput(f"unknown field {name!r} of layer {layer.id}", where=where,
                           hint=f"use one of: {', '.join(visible_fields(caller, layer))}")
    return name


def require_right(caller: Caller, right: str) -> None:
    if not caller.may(right):
        raise Forbidden(f"this action needs the {right!r} right", where=caller.name,
                        hint="ask an administrator for a role that grants it")
