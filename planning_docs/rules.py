"""Who may read and change dossiers, and how a dossier's status may move.

Dossiers are not registry layers; their rule is stated here once and asked by every path
(HTTP, search, lookup, downloads), in the terms of the access plan's sensitivity levels:

- a dossier in ``draft`` is internal (``may_read_level(caller, "internal")``: viewer, analyst
  and above); from ``consultation`` on it is public;
- a document is readable at the higher of its own sensitivity (set at upload: drawings, notes
  and decisions default to public, consultation records — which name residents — to
  internal) and its dossier's level: a draft's decision is internal, an approved one public;
- changing dossiers needs the ``import`` right (gis_officer, admin), like importing layers,
  by an account without a commune limit: plans are shared by every commune.
"""

from __future__ import annotations

from iocgis.access import Caller, may_read_level, require_right
from iocgis.errors import Forbidden, InvalidInput, Unauthorized
from iocgis.layers.model import SENSITIVITY_RANK
from iocgis.planning_docs import sniff

STATUSES = ("draft", "consultation", "approved", "adjusted", "expired")
# Statuses of a plan that was approved: it has an effective window (effective_from ... to).
APPROVED_STATUSES = ("approved", "adjusted", "expired")
PENDING_STATUSES = ("draft", "consultation")
# Moves an officer may make; "adjusted" is set when an adjustment of the plan is approved.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("consultation", "approved"),
    "consultation": ("draft", "approved"),
    "approved": ("expired",),
    "adjusted": ("expired",),
    "expired": (),
}
STATUS_TITLES = {
    "draft": {"vi": "Dự thảo", "en": "Draft"},
    "consultation": {"vi": "Lấy ý kiến", "en": "Consultation"},
    "approved": {"vi": "Đã phê duyệt", "en": "Approved"},
    "adjusted": {"vi": "Đã điều chỉnh", "en": "Adjusted"},
    "expired": {"vi": "Hết hiệu lực", "en": "Expired"},
}
DOCUMENT_KINDS: dict[str, tuple[str, ...]] = {
    "drawing": (sniff.DXF, sniff.PDF, sniff.TIFF, sniff.PNG, sniff.JPEG),
    "note": (sniff.PDF, sniff.DOCX),
    "decision": (sniff.PDF, sniff.PNG, sniff.JPEG, sniff.TIFF),
    "consultation": (sniff.PDF, sniff.DOCX, sniff.PNG, sniff.JPEG),
}
DOCUMENT_TITLES = {
    "drawing": {"vi": "Bản vẽ", "en": "Drawing"},
    "note": {"vi": "Thuyết minh", "en": "Explanatory note"},
    "decision": {"vi": "Quyết định phê duyệt", "en": "Approval decision"},
    "consultation": {"vi": "Hồ sơ lấy ý kiến", "en": "Consultation record"},
}
DEFAULT_SENSITIVITY = {"drawing": "public", "note": "public", "decision": "public",
                       "consultation": "internal"}
# Documents served as map tiles (``scan_tiles``): GeoTIFF scans; the lookup lists them too.
MAP_TILE_TYPES = (sniff.TIFF,)


def has_map_tiles(media_type: str) -> bool:
    return media_type in MAP_TILE_TYPES


def dossier_level(status: str) -> str:
    return "internal" if status == "draft" else "public"


def may_read_dossier(caller: Caller, status: str) -> bool:
    return may_read_level(caller, dossier_level(status))


def document_level(sensitivity: str, dossier_status: str) -> str:
    levels = (sensitivity, dossier_level(dossier_status))
    return max(levels, key=lambda level: SENSITIVITY_RANK.get(level, 99))


def may_read_document(caller: Caller, sensitivity: str, dossier_status: str) -> bool:
    return may_read_level(caller, document_level(sensitivity, dossier_status))


def readable_levels(caller: Caller) -> list[str]:
    """The sensitivity levels the caller reads (for SQL filters)."""
    return [level for level in SENSITIVITY_RANK if may_read_level(caller, level)]


def visible_statuses(caller: Caller) -> list[str]:
    return [s for s in STATUSES if may_read_dossier(caller, s)]


def sees_staff(caller: Caller) -> bool:
    """Whether the caller sees which accounts made each change (internal information)."""
    return may_read_level(caller, "internal")


def require_editor(caller: Caller) -> None:
    """The one check before any change to a dossier."""
    if caller.is_anonymous:
        raise Unauthorized("changing planning dossiers needs a signed-in account",
                           where="Authorization",
                           hint="sign in (POST /auth/token) or send an API key of an account "
                                "with the gis_officer or admin role")
    require_right(caller, "import")
    if caller.commune_codes:
        raise Forbidden("planning dossiers are shared by every commune; an account limited to "
                        f"{', '.join(sorted(caller.commune_codes))} cannot change them",
                        where="account", hint="ask an officer of the province (no commune "
                                              "limit) to make the change")


def check_transition(current: str, wanted: str) -> None:
    if wanted not in STATUSES:
        raise InvalidInput(f"unknown status {wanted[:40]!r}", where="status",
                           hint=f"one of: {', '.join(STATUSES)}")
    if wanted not in TRANSITIONS[current]:
        allowed = ", ".join(TRANSITIONS[current]) or "none (the dossier is closed)"
        extra = ("; 'adjusted' is set when an adjustment of the plan is approved"
                 if wanted == "adjusted" else "")
        raise InvalidInput(f"a dossier in status {current!r} cannot become {wanted!r}",
                           where="status", hint=f"allowed from {current}: {allowed}{extra}")
