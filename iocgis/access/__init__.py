"""The one enforcement point: who may read which layers, fields and rows, asked once per
caller and layer (``plan_for``) and enforced again by PostgreSQL (``database.Reader``).

Every path (OGC API, tiles, queries, scenarios, KPI, rasters, exports, imports, HTML) builds
its SQL from an ``AccessPlan`` and runs it through a reader; see README "Architecture".
"""

from iocgis.access.plan import (
    AccessPlan,
    DbScope,
    db_scope,
    group_role,
    note_read,
    plan_for,
)
from iocgis.access.rules import (
    ACCESS_NOTES,
    ANONYMOUS,
    CURRENT_CALLER,
    LEVEL_NAMES,
    ROLE_RIGHTS,
    SYSTEM,
    AccessNotes,
    Caller,
    Narrowing,
    SharedRead,
    can_see,
    commune_scope,
    current_caller,
    level_allows,
    level_caller,
    may_read_level,
    note,
    note_shared,
    require_field,
    require_layer,
    require_right,
    visible_fields,
    visible_layers,
)

__all__ = [
    "ACCESS_NOTES",
    "ANONYMOUS",
    "AccessNotes",
    "AccessPlan",
    "CURRENT_CALLER",
    "Caller",
    "DbScope",
    "Narrowing",
    "SharedRead",
    "LEVEL_NAMES",
    "ROLE_RIGHTS",
    "SYSTEM",
    "can_see",
    "commune_scope",
    "current_caller",
    "db_scope",
    "group_role",
    "level_allows",
    "level_caller",
    "may_read_level",
    "note",
    "note_read",
    "note_shared",
    "plan_for",
    "require_field",
    "require_layer",
    "require_right",
    "visible_fields",
    "visible_layers",
]
