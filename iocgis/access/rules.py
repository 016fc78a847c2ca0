"""The rules: who a caller is, which layers and fields they may see, which communes' rows.

A caller without the right to a layer is told it does not exist (404), never that it is
forbidden. Paths do not combine these rules themselves: they ask ``iocgis.access.plan_for``.
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
    "admin": {"sensitivity": "restricted", "pii": True, "import": True, "admin": True,
              "approve": True, "groups": "all", "metrics": True},  # metrics: GET /metrics
    # Approves (or rejects) the pending imports of the layer groups stored with the account
    # (``security.accounts.steward_groups``, like its communes); see importers/review.py.
    "data_steward": {"sensitivity": "restricted", "pii": False, "import": False, "admin": False,
                     "approve": True, "groups": "account"},
}


@dataclass(frozen=True)
class Narrowing:
    """What a sharing agreement lets its agency read (``iocgis.sharing``): only these layers,
    only these fields of each (personal-data ones among them only where the agreement grants
    them); its communes are the caller's ``commune_codes``. Set on the caller by the API-key
    check, so every path's plan and the PostgreSQL scope follow it."""

    agreement_id: int
    layers: tuple[tuple[str, frozenset[str]], ...]  # (layer id, fields), sorted by layer id

    def fields_of(self, layer_id: str) -> frozenset[str] | None:
        """The fields shared of ``layer_id``; None when the layer is not shared at all."""
        for shared, fields in self.layers:
            if shared == layer_id:
                return fields
        return None


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
    narrowing: Narrowing | None = None  # a sharing agreement's layers and fields

    @property
    def is_anonymous(self) -> bool:
        return self.roles == frozenset({"public"}) and self.narrowing is None

    @property
    def admin_without_mfa(self) -> bool:
        """An administrator's credential presented without a second factor (an API key, or a
        session opened without TOTP): it reads data as an analyst, never restricted layers or
        personal data, so a leaked admin key cannot read what only a TOTP session may."""
        return "admin" in self.roles and (self.auth == "api_key"
                                          or (self.auth == "bearer" and not self.mfa))

    @property
    def data_roles(self) -> frozenset[str]:
        """The roles that decide what data this caller reads (see ``admin_without_mfa``)."""
        if self.admin_without_mfa:
            return (self.roles - {"admin"}) | {"analyst"}
        return self.roles

    @property
    def max_sensitivity(self) -> int:
        roles = [r for r in self.data_roles if r in ROLE_RIGHTS]
        return max(SENSITIVITY_RANK[str(ROLE_RIGHTS[r]["sensitivity"])] for r in roles) \
            if roles else 0

    @property
    def level(self) -> str:
        """The caller's level: the highest sensitivity it may read (public, internal,
        restricted); what the per-level OGC configuration and tile cache keys follow."""
        return LEVEL_NAMES[min(self.max_sensitivity, len(LEVEL_NAMES) - 1)]

    @property
    def sees_pii(self) -> bool:
        if self.admin_without_mfa:
            return False
        return self.pii or any(bool(ROLE_RIGHTS.get(r, {}).get("pii")) for r in self.data_roles)

    def may(self, right: str) -> bool:
        """An action right of the caller's roles; a caller under a sharing agreement only
        reads (it never imports, approves or administers, whatever its account's role)."""
        if self.narrowing is not None:
            return False
        return any(bool(ROLE_RIGHTS.get(r, {}).get(right)) for r in self.roles)


LEVEL_NAMES = tuple(sorted(SENSITIVITY_RANK, key=SENSITIVITY_RANK.__getitem__))
ANONYMOUS = Caller()
# The platform itself measuring its layers (extents, the province frame): never a request's
# caller, and never the source of rows returned to one.
SYSTEM = Caller(name="iocgis", roles=frozenset({"admin"}), auth="system", mfa=True)

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
    # Layers read under a sharing agreement: rows returned and tiles served (usage report).
    shared: dict[str, SharedRead] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.restricted or self.pii or self.denied or self.shared)


@dataclass
class SharedRead:
    """How much of one layer a request read under a sharing agreement."""

    rows: int = 0
    tiles: int = 0


ACCESS_NOTES: ContextVar[AccessNotes | None] = ContextVar("iocgis_access_notes", default=None)


def note(kind: str, layer_id: str) -> None:
    """Note for this request's audit record: ``kind`` is restricted, pii or denied."""
    notes = ACCESS_NOTES.get()
    if notes is not None:
        getattr(notes, kind).add(layer_id)


def note_shared(caller: Caller, layer_id: str, *, rows: int = 0, tiles: int = 0) -> None:
    """Note for this request's audit record what a caller under a sharing agreement read of
    ``layer_id`` (nothing for other callers): the read itself, and rows or tiles returned."""
    notes = ACCESS_NOTES.get()
    if notes is None or caller.narrowing is None:
        return
    read = notes.shared.setdefault(layer_id, SharedRead())
    read.rows += rows
    read.tiles += tiles


def can_see(caller: Caller, layer: LayerDef) -> bool:
    if caller.narrowing is not None and caller.narrowing.fields_of(layer.id) is None:
        return False
    return may_read_level(caller, layer.sensitivity)


def may_read_level(caller: Caller, sensitivity: str) -> bool:
    """May the caller read data of this sensitivity (an unknown level: no one may)."""
    return level_allows(caller.level, sensitivity)


def level_caller(level: str, name: str | None = None) -> Caller:
    """A caller who reads exactly ``level`` and no personal data (the first role of that
    level): whose OpenAPI document, seeded tiles or exported style it is."""
    if level not in LEVEL_NAMES:
        raise InvalidInput(f"unknown level {level!r}", where="level",
                           hint=f"use one of: {', '.join(LEVEL_NAMES)}")
    role = next(r for r, rights in ROLE_RIGHTS.items()
                if rights["sensitivity"] == level and not rights["pii"])
    return Caller(name=name or f"level-{level}", roles=frozenset({role}))


def level_allows(level: str, sensitivity: str) -> bool:
    """Does a caller of ``level`` read data of ``sensitivity``: the one comparison of levels."""
    return SENSITIVITY_RANK.get(sensitivity, 99) <= SENSITIVITY_RANK[level]


def visible_layers(caller: Caller, registry: Registry | None = None) -> tuple[LayerDef, ...]:
    registry = registry or get_registry()
    return tuple(layer for layer in registry if can_see(caller, layer))


def require_layer(caller: Caller, layer_id: str, registry: Registry | None = None, *,
                  note_read: bool = True) -> LayerDef:
    """The layer, or NotFound: a caller without the right never learns it exists. The
    answer for a hidden layer is the answer for a missing one, word for word."""
    registry = registry or get_registry()
    if layer_id in registry:
        layer = registry.get(layer_id)
        if can_see(caller, layer):
            if note_read and layer.sensitivity == "restricted":
                note("restricted", layer.id)
            return layer
        note("denied", layer.id)  # a probe for a layer the caller may not know of
    raise NotFound(f"unknown layer {str(layer_id)[:80]!r}", where="layer",
                   hint="list the layers you may see at /collections")


def commune_scope(caller: Caller, layer: LayerDef) -> tuple[str, ...] | None:
    """The communes whose rows of ``layer`` the caller may read (sorted), or None for every
    row: callers without a commune limit, and layers that record no commune (the registry's
    ``commune_field``)."""
    if not caller.commune_codes or layer.commune_field is None:
        return None
    return tuple(sorted(caller.commune_codes))


def visible_fields(caller: Caller, layer: LayerDef) -> tuple[str, ...]:
    """The layer's fields this caller may read; personal-data fields only with the PII right.
    (Reading rows that hold them is noted by the statement runner, not here: a field list
    read for metadata is not a read of personal data.)"""
    shared = caller.narrowing.fields_of(layer.id) if caller.narrowing is not None else None
    return tuple(f.name for f in layer.fields if (caller.sees_pii or not f.pii)
                 and (shared is None or f.name in shared))


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
