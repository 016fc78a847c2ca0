"""PostgreSQL roles that mirror the app's roles, so QGIS (or any SQL client) connecting straight
to PostGIS obeys the same rules as the API (``iocgis db roles sync``).

- one group role per app role (``iocgis_viewer`` ...), NOLOGIN, granted SELECT per layer from
  the same ``iocgis.access`` rules: a role never gets a layer above its sensitivity;
- without the personal-data right a role gets column privileges on the non-personal columns
  only (``SELECT *`` and ``SELECT holder_name`` are refused by PostgreSQL itself) and reads the
  layer whole through ``masked.<group>_<name>``, a view with the personal columns as NULL;
- ``<role>_pii`` groups add the personal columns for accounts granted that right;
- row-level security on every layer table: a policy per group role (rows of the communes
  ``security.visible_communes()`` allows on layers with a ``commune_field``, else every row) and
  none for ``iocgis_api``, so the API reads rows only under a caller's plan
  (``iocgis.access.database``: ``SET LOCAL ROLE`` to the caller's group role);
- one LOGIN role per account opened for direct access (``iocgis accounts dblogin NAME``),
  whose LOGIN follows the account's lock, revocation and expiry at once;
- ``iocgis_api``: what the API process needs, member (NOINHERIT) of every group role so it can
  take the caller's, and no UPDATE/DELETE on the audit trail.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from iocgis.access import ROLE_RIGHTS, Caller, can_see
from iocgis.access import group_role as _group_role
from iocgis.importers.staging import HISTORY_SCHEMA
from iocgis.layers import LayerDef, Registry
from iocgis.layers.types import field_type
from iocgis.security.settings import SecuritySettings

log = logging.getLogger("iocgis.security")
MASKED_SCHEMA = "masked"
LAYER_POLICY = "layer_read"


@dataclass
class SyncReport:
    roles: list[str] = field(default_factory=list)
    grants: int = 0
    masked_views: list[str] = field(default_factory=list)
    rls_tables: list[str] = field(default_factory=list)
    logins: dict[str, str] = field(default_factory=dict)  # login role -> LOGIN / NOLOGIN


def group_role(settings: SecuritySettings, role: str, pii: bool = False) -> str:
    return _group_role(settings.db_role_prefix, role, pii)


def api_role(settings: SecuritySettings) -> str:
    return f"{settings.db_role_prefix}api"


def login_role(settings: SecuritySettings, account: str) -> str:
    return f"{settings.db_role_prefix}u_{account}"


def masked_view_name(layer: LayerDef) -> str:
    return f"{layer.group}_{layer.name}"


def needs_mask(layer: LayerDef) -> bool:
    return bool(layer.pii_fields)


def _role_sees_pii(role: str) -> bool:
    return bool(ROLE_RIGHTS[role]["pii"])


def _ensure_role(conn: psycopg.Connection, name: str, *, login: bool = False) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    if not exists:
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE ROLE {} {}").format(
                    sql.Identifier(name), sql.SQL("LOGIN" if login else "NOLOGIN")))
        except psycopg.errors.DuplicateObject:
            pass  # another database of the same cluster created it meanwhile


def _grant_table(conn: psycopg.Connection, table: sql.Composable, role: str,
                 columns: tuple[str, ...] | None) -> None:
    role_id = sql.Identifier(role)
    if columns is None:
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(table, role_id))
    else:
        conn.execute(sql.SQL("GRANT SELECT ({}) ON {} TO {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), table, role_id))


def _table_columns(conn: psycopg.Connection, layer: LayerDef) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        (sql.Identifier(layer.schema_name, layer.table_name).as_string(conn),))]


def _non_personal(layer: LayerDef, columns: list[str]) -> tuple[str, ...]:
    """Columns a role without the personal-data right may read: no PII field, and no ``extra``
    on a layer with PII (source leftovers of a personal register may be personal too)."""
    hidden = set(layer.pii_fields) | ({"extra"} if needs_mask(layer) else set())
    return tuple(c for c in columns if c not in hidden)


def _masked_view(conn: psycopg.Connection, layer: LayerDef, columns: list[str]) -> sql.Composed:
    pii = set(layer.pii_fields)
    parts = []
    for column in columns:
        if column == "extra":
            continue
        if column in pii:
            parts.append(sql.SQL("NULL::{} AS {}").format(
                sql.SQL(field_type(layer.field(column).type).sql), sql.Identifier(column)))
        else:
            parts.append(sql.Identifier(column))
    # security_invoker: the reader's own privileges (column grants, RLS) apply through the view.
    return sql.SQL("CREATE VIEW {} WITH (security_invoker = true, security_barrier = true) AS "
                   "SELECT {} FROM {}").format(
        sql.Identifier(MASKED_SCHEMA, masked_view_name(layer)), sql.SQL(", ").join(parts),
        sql.Identifier(layer.schema_name, layer.table_name))


def sync(conn: psycopg.Connection, registry: Registry, settings: SecuritySettings) -> SyncReport:
    """Make roles, grants, masked views and policies follow the registry and the accounts.

    One transaction: a QGIS user never sees a half-applied set of grants.
    """
    report = SyncReport()
    app_roles = [r for r in ROLE_RIGHTS]
    groups = {(r, False): group_role(settings, r) for r in app_roles}
    groups |= {(r, True): group_role(settings, r, pii=True) for r in app_roles
               if not _role_sees_pii(r)}
    api = api_role(settings)
    for name in [*groups.values(), api]:
        _ensure_role(conn, name)
        report.roles.append(name)
    dbname = conn.execute("SELECT current_database()").fetchone()[0]
    with conn.transaction():
        everyone = [*groups.values(), api]
        for name in everyone:
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
            sql.Identifier(MASKED_SCHEMA)))
        schemas = [*registry.schemas, MASKED_SCHEMA]
        for schema in schemas:
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(
                sql.Identifier(schema)))
            for name in everyone:
                conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(
                    sql.Identifier(schema), sql.Identifier(name)))
        used_schemas: dict[str, set[str]] = {}
        for layer in registry:
            table = sql.Identifier(layer.schema_name, layer.table_name)
            columns = _table_columns(conn, layer)
            if not columns:
                continue  # the table is not there (yet): migrate first
            conn.execute(sql.SQL("REVOKE ALL ON {} FROM PUBLIC").format(table))
            view = sql.Identifier(MASKED_SCHEMA, masked_view_name(layer))
            conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(view))
            for name in everyone:
                conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(table, sql.Identifier(name)))
            if needs_mask(layer):
                conn.execute(_masked_view(conn, layer, columns))
                report.masked_views.append(f"{MASKED_SCHEMA}.{masked_view_name(layer)}")
            for (role, pii_group), name in groups.items():
                caller = Caller(name=name, roles=frozenset({role}))
                if not can_see(caller, layer):
                    continue
                used_schemas.setdefault(layer.schema_name, set()).add(name)
                if pii_group:
                    if needs_mask(layer):  # adds the personal columns to the base role's
                        _grant_table(conn, table, name, (*layer.pii_fields, "extra"))
                        report.grants += 1
                    continue
                full = _role_sees_pii(role) or not needs_mask(layer)
                _grant_table(conn, table, name, None if full else _non_personal(layer, columns))
                report.grants += 1
                if needs_mask(layer):
                    conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                        view, sql.Identifier(name)))
                    used_schemas.setdefault(MASKED_SCHEMA, set()).add(name)
            # SELECT, but no policy: the API reads rows only as a caller's group role.
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(table, sql.Identifier(api)))
            used_schemas.setdefault(layer.schema_name, set()).add(api)
            _row_security(conn, layer, table, groups, report)
            for kept in _kept_tables(conn, layer):
                _kept_access(conn, layer, kept, groups, api, used_schemas)
        # a reader of any layer may read its kept older versions (their own grants decide)
        used_schemas.setdefault(HISTORY_SCHEMA, set()).update(
            *(used_schemas.get(schema, set()) for schema in registry.schemas))
        for schema, names in used_schemas.items():
            for name in sorted(names):
                conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                    sql.Identifier(schema), sql.Identifier(name)))
        _pii_groups_include_their_base(conn, groups)
        _index_friendly_row_security(conn)
        _api_grants(conn, api, list(groups.values()))
        _qgis_tables_grants(conn, everyone)
        report.logins = sync_logins(conn, settings)
    return report


def _kept_tables(conn: psycopg.Connection, layer: LayerDef) -> list[tuple[str, str]]:
    """The tables the import history keeps of the layer's older versions."""
    return [tuple(r[0].split(".", 1)) for r in conn.execute(  # type: ignore[misc]
        "SELECT previous_table FROM meta.imports WHERE layer_id = %s AND previous_table IS NOT "
        "NULL AND to_regclass(previous_table) IS NOT NULL ORDER BY id", (layer.id,))]


def _kept_access(conn: psycopg.Connection, layer: LayerDef, kept: tuple[str, str],
                 groups: dict[tuple[str, bool], str], api: str,
                 used_schemas: dict[str, set[str]]) -> None:
    """A kept older version read under the live table's rules (a report regenerated at that
    version): the same grants per group role, its columns only, and the same policy."""
    table = sql.Identifier(*kept)
    columns = [r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum", (table.as_string(conn),))]
    conn.execute(sql.SQL("REVOKE ALL ON {} FROM PUBLIC").format(table))
    for name in [*groups.values(), api]:
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(table, sql.Identifier(name)))
    for (role, pii_group), name in groups.items():
        if not can_see(Caller(name=name, roles=frozenset({role})), layer):
            continue
        used_schemas.setdefault(kept[0], set()).add(name)
        if pii_group:
            personal = [c for c in (*layer.pii_fields, "extra") if c in columns]
            if needs_mask(layer) and personal:
                _grant_table(conn, table, name, tuple(personal))
            continue
        full = _role_sees_pii(role) or not needs_mask(layer)
        _grant_table(conn, table, name, None if full else _non_personal(layer, columns))
    conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(table, sql.Identifier(api)))
    _row_security(conn, layer, table, groups, None)


def _row_security(conn: psycopg.Connection, layer: LayerDef, table: sql.Composable,
                  groups: dict[tuple[str, bool], str], report: SyncReport | None) -> None:
    """Every group role reads the layer's rows through one policy; ``iocgis_api`` has none,
    so outside a caller's plan it reads nothing. The owner (imports, migrations) is exempt."""
    for stale in ("commune_scope", "api_all", LAYER_POLICY):
        conn.execute(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(stale), table))
    conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(table))
    if layer.commune_field:
        # Sub-selects: the function runs once per statement, not once per row.
        rows = sql.SQL("(SELECT security.visible_communes()) IS NULL OR {} = ANY "
                       "((SELECT security.visible_communes())::text[])").format(
            sql.Identifier(layer.commune_field))
    else:
        rows = sql.SQL("true")
    conn.execute(sql.SQL("CREATE POLICY {} ON {} FOR SELECT TO {} USING ({})").format(
        sql.Identifier(LAYER_POLICY), table,
        sql.SQL(", ").join(sql.Identifier(n) for n in groups.values()), rows))
    if report is not None:
        report.rls_tables.append(f"{layer.schema_name}.{layer.table_name}")


def _is_member(conn: psycopg.Connection, member: str, group: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                        "JOIN pg_roles r ON r.oid = m.member WHERE g.rolname = %s "
                        "AND r.rolname = %s", (group, member)).fetchone() is not None


def _grant_membership(conn: psycopg.Connection, member: str, group: str) -> None:
    if not _is_member(conn, member, group):
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group),
                                                     sql.Identifier(member)))


def _pii_groups_include_their_base(conn: psycopg.Connection,
                                   groups: dict[tuple[str, bool], str]) -> None:
    """``<role>_pii`` holds only the personal columns; a member of it alone (the API taking
    the caller's group for a statement) reads the base role's columns too."""
    for (role, pii), name in groups.items():
        if pii:
            _grant_membership(conn, name, groups[(role, False)])


# Under row-level security PostgreSQL uses a condition for an index only when its operator is
# leakproof. PostGIS marks none; the bounding-box overlap "&&" compares two boxes and can fail
# only on mixed SRIDs (saying so, never a value), so it is declared leakproof: without it a
# bbox page of 1M parcels scans the table (0.2 ms -> 800 ms on the province demo).
INDEX_OPERATORS = ("geometry_overlaps(geometry, geometry)",)


def _index_friendly_row_security(conn: psycopg.Connection) -> None:
    superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                             ).fetchone()
    for function in INDEX_OPERATORS:
        leakproof = conn.execute("SELECT proleakproof FROM pg_proc WHERE oid = %s::regprocedure",
                                 (function,)).fetchone()
        if leakproof is None or leakproof[0]:
            continue
        if superuser and superuser[0]:
            conn.execute(sql.SQL("ALTER FUNCTION {} LEAKPROOF").format(sql.SQL(function)))
        else:
            log.warning("%s is not leakproof and only a superuser may declare it: spatial "
                        "filters under row-level security will not use the GiST index", function)


def _api_grants(conn: psycopg.Connection, api: str, groups: list[str]) -> None:
    """The API reads layers and the catalog, keeps sessions, and may only append to the audit
    trail: no UPDATE, DELETE or TRUNCATE there, whatever happens in the application. It is a
    member of every group role without inheriting their rights: it may ``SET ROLE`` to the
    caller's group for a statement, and holds none of their policies itself."""
    role = sql.Identifier(api)
    if conn.execute("SELECT rolinherit FROM pg_roles WHERE rolname = %s", (api,)).fetchone()[0]:
        conn.execute(sql.SQL("ALTER ROLE {} NOINHERIT").format(role))
    for group in groups:
        _grant_membership(conn, api, group)
    for statement in (
        "GRANT USAGE ON SCHEMA meta, security, audit TO {}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA meta TO {}",
        "GRANT SELECT, INSERT, UPDATE ON security.accounts, security.sessions, "
        "security.api_keys TO {}",
        "GRANT SELECT, INSERT, DELETE ON security.password_history TO {}",
        "GRANT SELECT ON security.db_commune_scope TO {}",
        "REVOKE ALL ON audit.events, audit.prune_marks FROM {}",
        "GRANT SELECT, INSERT ON audit.events TO {}",
        "GRANT SELECT ON audit.prune_marks TO {}",
    ):
        conn.execute(sql.SQL(statement).format(role))


def _qgis_tables_grants(conn: psycopg.Connection, roles: list[str]) -> None:
    for table in ("layer_styles", "qgis_projects"):
        if conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()[0]:
            for name in roles:
                conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                    sql.Identifier("public", table), sql.Identifier(name)))


def sync_logins(conn: psycopg.Connection, settings: SecuritySettings,
                only: str | None = None) -> dict[str, str]:
    """LOGIN roles of accounts opened for direct access follow the account: memberships from
    its roles (and PII right), LOGIN only while active and unexpired, commune scope for RLS."""
    rows = conn.execute(
        "SELECT name, roles, pii, commune_codes, status = 'active' AND (expires_at IS NULL OR "
        "expires_at > now()) AS usable FROM security.accounts WHERE db_login "
        "AND (%s::text IS NULL OR name = %s)", (only, only)).fetchall()
    result = {}
    all_groups = [group_role(settings, r) for r in ROLE_RIGHTS] + [
        group_role(settings, r, pii=True) for r in ROLE_RIGHTS if not _role_sees_pii(r)]
    for name, roles, pii, communes, usable in rows:
        role = login_role(settings, name)
        _ensure_role(conn, role, login=True)
        wanted = {group_role(settings, r) for r in roles}
        if pii:
            wanted |= {group_role(settings, r, pii=True) for r in roles if not _role_sees_pii(r)}
        for group in all_groups:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (group,)).fetchone():
                verb = "GRANT {} TO {}" if group in wanted and usable else "REVOKE {} FROM {}"
                conn.execute(sql.SQL(verb).format(sql.Identifier(group), sql.Identifier(role)))
        conn.execute(sql.SQL("ALTER ROLE {} {}").format(
            sql.Identifier(role), sql.SQL("LOGIN" if usable else "NOLOGIN")))
        if not usable:
            # End the connections it has open now: a lock or revocation takes effect at once.
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE usename = %s", (role,))
        conn.execute("DELETE FROM security.db_commune_scope WHERE role_name = %s", (role,))
        if communes:
            conn.execute("INSERT INTO security.db_commune_scope (role_name, commune_codes) "
                         "VALUES (%s, %s)", (role, communes))
        result[role] = "LOGIN" if usable else "NOLOGIN"
    return result


def open_login(conn: psycopg.Connection, settings: SecuritySettings, account: str) -> tuple[str, str]:
    """Open direct database access for an account: (login role, a new password shown once)."""
    row = conn.execute("UPDATE security.accounts SET db_login = true WHERE name = %s "
                       "RETURNING name", (account,)).fetchone()
    if row is None:
        from iocgis.errors import NotFound

        raise NotFound(f"no account {account!r}", where="name",
                       hint="create it with `iocgis accounts create`")
    role = login_role(settings, account)
    password = secrets.token_urlsafe(24)
    _ensure_role(conn, role, login=True)
    # The server hashes it (SCRAM-SHA-256); the clear text is never stored.
    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role),
                                                             sql.Literal(password)))
    sync_logins(conn, settings, only=account)
    return role, password
