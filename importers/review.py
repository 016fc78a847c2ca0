"""Approval before going live (Điều 9.4): an import of a layer whose group needs approval
stops at *pending* — staged, checked, indexed, its quality report and its diff against the
live layer stored — until a data steward of the group approves it (the swap then happens,
in one transaction, as for any import) or rejects it with a reason. Both are audited.

Rules, decided here only:
- who may decide: a caller with the ``approve`` right for the layer's group (``admin``: every
  group; ``data_steward``: the groups stored with the account, ``steward_groups``), limited
  to their communes like every role; never the person who submitted the import (four eyes);
  the submitter may withdraw it;
- who may see a pending import (report, diff, map preview): its submitter and those who may
  decide on it;
- one pending import per layer: a second import of that layer is refused until the first is
  decided or has expired (its diff would describe a live layer about to change); an approval
  of a diff the live layer has moved away from (a rollback meanwhile) is refused and the diff
  is made again;
- a pending import expires after ``IOCGIS_IMPORTS_PENDING_EXPIRY`` (14 days): its staging
  table and diff are dropped at the next look at the layer's reviews.

A kill -9 at any step loses nothing: the pending state is written in one transaction with
the diff, an approval in one transaction with the swap, a rejection with the drop.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from iocgis.access import ROLE_RIGHTS, Caller
from iocgis.errors import Forbidden, ImportFailed, InvalidInput, NotFound
from iocgis.importers import diff, staging, swap
from iocgis.importers.staging import live_ident, staging_ident
from iocgis.layers import LayerDef, Registry
from iocgis.security import audit

if TYPE_CHECKING:
    from iocgis.importers.options import ImportOptions
    from iocgis.importers.report import ImportReport
    from iocgis.settings import Settings

LOCK_WAIT_S = 5.0  # how long a decision waits for an import of the layer to end
PAGE_MAX = 500
REVIEW_COLUMNS = ("r.import_id, r.layer_id, r.group_name, r.status, r.submitted_by, "
                  "r.submitted_at, r.expires_at, r.base_version, r.keep_versions, r.diff, "
                  "r.decided_by, r.decided_at, r.reason, i.mode, i.source_path, i.source_date, "
                  "i.source_format, i.rows_in, i.rows_loaded, i.rows_fixed, i.rows_rejected, "
                  "i.report, i.status AS import_status")


@dataclass(frozen=True)
class Reviewer:
    """Who looks at or decides on pending imports, and from where (for the audit trail)."""

    name: str
    client: str | None = None
    approves: bool = False  # holds the approve right
    groups: frozenset[str] | None = frozenset()  # groups they may approve; None: every group
    communes: frozenset[str] = frozenset()  # empty: every commune
    sees_pii: bool = False

    @classmethod
    def operator(cls, name: str) -> Reviewer:
        """The operator at the console: the CLI runs with the platform's database owner
        credentials, so it may decide on every group; the audit trail names them."""
        return cls(name=name, client="local", approves=True, groups=None, sees_pii=True)

    def may_decide(self, group: str) -> bool:
        return self.approves and (self.groups is None or group in self.groups)


def reviewer_for(conn: psycopg.Connection, caller: Caller) -> Reviewer:
    """The reviewer an HTTP caller is: the approve right from the roles, the groups from the
    role (``admin``: all) or from the account (``data_steward``: ``steward_groups``)."""
    kinds = {ROLE_RIGHTS[r].get("groups") for r in caller.roles
             if r in ROLE_RIGHTS and ROLE_RIGHTS[r].get("approve")}
    groups: frozenset[str] | None = frozenset()
    if "all" in kinds:
        groups = None
    elif "account" in kinds and caller.account_id is not None:
        row = conn.execute("SELECT steward_groups FROM security.accounts WHERE id = %s "
                           "AND status = 'active'", (caller.account_id,)).fetchone()
        groups = frozenset(row[0]) if row else frozenset()
    return Reviewer(name=caller.name, client=caller.client, approves=bool(kinds), groups=groups,
                    communes=caller.commune_codes, sees_pii=caller.sees_pii)


# -- at import time -------------------------------------------------------------------------

def needs_approval(registry: Registry, layer: LayerDef, options: ImportOptions,
                   settings: Settings) -> bool:
    """Does this import stop at pending: asked to (``submit``), told not to (``auto``, or the
    installation's ``IOCGIS_IMPORTS_AUTO_APPROVE``), else as the layer's group says."""
    if options.dry_run or options.approval == "auto":
        return False
    if options.approval == "submit":
        return True
    return registry.group(layer.group).approval and not settings.imports.auto_approve


def refuse_if_pending(conn: psycopg.Connection, layer: LayerDef) -> None:
    """A layer with a pending import takes no other import until it is decided."""
    expire_due(conn, layer.id)
    row = conn.execute("SELECT import_id, submitted_by, submitted_at, expires_at FROM "
                       "import_review.reviews WHERE layer_id = %s AND status = 'pending'",
                       (layer.id,)).fetchone()
    if row is None:
        return
    import_id, who, when, until = row
    raise ImportFailed(
        f"import {import_id} of {layer.id} (by {who}, {when:%Y-%m-%d %H:%M}) is waiting for "
        "approval; a layer takes one pending import at a time", where=layer.id,
        hint=f"ask a data steward of {layer.group} to approve or reject it (`iocgis imports "
             f"show {import_id}`), or withdraw it (`iocgis imports reject {import_id} --reason "
             f"...`); it expires on {until:%Y-%m-%d %H:%M} UTC")


def submit(conn: psycopg.Connection, layer: LayerDef, report: ImportReport,
           options: ImportOptions, settings: Settings) -> None:
    """Record a staged import as pending with its diff, in one transaction (the caller holds
    the layer's import lock, so the live layer cannot change meanwhile)."""
    import_id = report.import_id
    assert import_id is not None
    expiry = settings.imports.pending_expiry
    with conn.transaction():
        version = conn.execute("SELECT data_version FROM meta.layers WHERE id = %s",
                               (layer.id,)).fetchone()
        base = int(version[0]) if version else 0
        summary = diff.compute(conn, layer, live_ident(layer), staging_ident(import_id),
                               diff.changes_ident(import_id), options.mode)
        body = {**summary.as_dict(), "extent": _extent(conn, layer, import_id)}
        expires_at = conn.execute("SELECT now() + %s", (expiry,)).fetchone()[0]
        report.status = "pending"
        report.extra["review"] = {"status": "pending", "expires_at": expires_at.isoformat(),
                                  "diff": summary.as_dict()}
        conn.execute(
            "INSERT INTO import_review.reviews (import_id, layer_id, group_name, submitted_by, "
            "expires_at, base_version, keep_versions, diff) VALUES (%s, %s, %s, %s, %s, %s, "
            "%s, %s::jsonb)", (import_id, layer.id, layer.group, options.user, expires_at, base,
                               options.keep_versions, json.dumps(body)))
        conn.execute(
            "UPDATE meta.imports SET status = 'pending', finished_at = now(), rows_in = %s, "
            "rows_loaded = %s, rows_fixed = %s, rows_rejected = %s, report = %s::jsonb "
            "WHERE id = %s", (report.rows_in, report.rows_loaded, report.rows_fixed,
                              report.rows_rejected, report.to_json(), import_id))
        audit.record_sync(conn, actor=options.user, action="import.submit", target=str(import_id),
                          layer=layer.id, details={"mode": options.mode, **summary.as_dict()})


def _extent(conn: psycopg.Connection, layer: LayerDef, import_id: int) -> list[float] | None:
    if not layer.is_spatial:
        return None
    row = conn.execute(sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                               "(SELECT ST_Extent(geom) AS e FROM {}) x").format(
        staging_ident(import_id))).fetchone()
    return [float(v) for v in row] if row and row[0] is not None else None


# -- reading ------------------------------------------------------------------------------------

def expire_due(conn: psycopg.Connection, layer_id: str | None = None) -> list[int]:
    """Expire the pending imports past their time (of one layer, or all): staging table and
    diff dropped, the import marked expired, audited. Returns their ids."""
    expired = []
    while True:
        with conn.transaction():
            row = conn.execute(
                "SELECT import_id, layer_id FROM import_review.reviews WHERE status = 'pending' "
                "AND expires_at <= now() AND (%s::text IS NULL OR layer_id = %s) "
                "ORDER BY import_id LIMIT 1 FOR UPDATE SKIP LOCKED",
                (layer_id, layer_id)).fetchone()
            if row is None:
                return expired
            import_id, layer = int(row[0]), str(row[1])
            _close(conn, import_id, "expired", "iocgis", None)
            audit.record_sync(conn, actor="iocgis", action="import.expire", target=str(import_id),
                              layer=layer, details={"reason": "not decided in time"})
            expired.append(import_id)


def _close(conn: psycopg.Connection, import_id: int, status: str, who: str,
           reason: str | None) -> None:
    """End a pending import without publishing it (inside the caller's transaction)."""
    conn.execute("UPDATE import_review.reviews SET status = %s, decided_by = %s, "
                 "decided_at = now(), reason = %s WHERE import_id = %s",
                 (status, who, reason, import_id))
    conn.execute(
        "UPDATE meta.imports SET status = %s, error = %s, report = jsonb_set(report, "
        "'{extra,review}', coalesce(report->'extra'->'review', '{}'::jsonb) || %s::jsonb) "
        "WHERE id = %s",
        (status, f"{status} by {who}" + (f": {reason}" if reason else ""),
         json.dumps({"status": status, "decided_by": who, "reason": reason}), import_id))
    staging.drop(conn, import_id)
    drop_changes(conn, import_id)


def drop_changes(conn: psycopg.Connection, import_id: int) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(diff.changes_ident(import_id)))


def get(conn: psycopg.Connection, import_id: int) -> dict[str, Any]:
    """One reviewed import (pending or decided) with its import record."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {REVIEW_COLUMNS} FROM import_review.reviews r JOIN "
                          "meta.imports i ON i.id = r.import_id WHERE r.import_id = %s",
                          (import_id,)).fetchone()
    if row is None:
        raise NotFound(f"no import {import_id} under review", where="import id",
                       hint="list them with `iocgis imports pending` (GET /imports?status=pending)")
    return dict(row)


def listing(conn: psycopg.Connection, status: str | None = "pending",
            layer_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Reviewed imports, newest first (expired ones are expired first)."""
    expire_due(conn)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {REVIEW_COLUMNS} FROM import_review.reviews r JOIN meta.imports i "
            "ON i.id = r.import_id WHERE (%s::text IS NULL OR r.status = %s) AND "
            "(%s::text IS NULL OR r.layer_id = %s) ORDER BY r.import_id DESC LIMIT %s",
            (status, status, layer_id, layer_id, limit)).fetchall()
    return [dict(r) for r in rows]


def may_see(review: dict[str, Any], reviewer: Reviewer) -> bool:
    return review["submitted_by"] == reviewer.name or reviewer.may_decide(review["group_name"])


def summary(review: dict[str, Any]) -> dict[str, Any]:
    """What a list or a CLI shows of a reviewed import (the report separately)."""
    return {"import_id": review["import_id"], "layer_id": review["layer_id"],
            "group": review["group_name"], "status": review["status"],
            "mode": review["mode"], "file": _file_name(review["source_path"]),
            "submitted_by": review["submitted_by"], "submitted_at": review["submitted_at"],
            "expires_at": review["expires_at"], "decided_by": review["decided_by"],
            "decided_at": review["decided_at"], "reason": review["reason"],
            "rows_in": review["rows_in"], "rows_loaded": review["rows_loaded"],
            "rows_rejected": review["rows_rejected"], "diff": review["diff"]}


def _file_name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def changes(conn: psycopg.Connection, layer: LayerDef, import_id: int, kind: str, *,
            columns: tuple[str, ...], communes: tuple[str, ...] | None = None, offset: int = 0,
            limit: int = 50) -> dict[str, Any]:
    """A page of the diff of a pending import: rows of one kind with their key, the changed
    fields and their values before and after, only ``columns`` shown (the reader's fields),
    only rows touching ``communes`` when given."""
    if kind not in diff.KINDS:
        raise InvalidInput(f"unknown change {kind!r}", where="change",
                           hint=f"one of {', '.join(diff.KINDS)}")
    if not 1 <= limit <= PAGE_MAX or offset < 0:
        raise InvalidInput(f"limit must be 1-{PAGE_MAX} and offset 0 or more", where="limit")
    table = diff.changes_ident(import_id)
    exists = conn.execute("SELECT to_regclass(%s)", (table.as_string(conn),)).fetchone()
    if exists is None or exists[0] is None:
        raise NotFound(f"import {import_id} has no diff any more (it was decided or expired)",
                       where="import id", hint="the summary stays in the import's report")
    scope = sql.SQL("AND communes && %(communes)s::text[]") if communes is not None \
        else sql.SQL("")
    params = {"kind": kind, "offset": offset, "limit": limit, "communes": list(communes or ())}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql.SQL(
            "SELECT n, kind, key, live_fid, staged_fid, fields, before, after FROM {} "
            "WHERE kind = %(kind)s {} ORDER BY n OFFSET %(offset)s LIMIT %(limit)s").format(
                table, scope), params).fetchall()
        total = cur.execute(sql.SQL("SELECT count(*) AS n FROM {} WHERE kind = %(kind)s {}")
                            .format(table, scope), params).fetchone()
    shown = set(columns) | {change for _, change in diff.geometry_changes(layer)}
    added: dict[int, dict[str, Any]] = {}
    if kind == "added" and rows:
        names = [c for c in columns if c == "extra" or layer.has_field(c)]
        body = sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
            sql.SQL("{}, {}").format(sql.Literal(n), sql.Identifier(n)) for n in names))
        added = {int(fid): values for fid, values in conn.execute(sql.SQL(
            "SELECT fid, {} FROM {} WHERE fid = ANY(%s)").format(body, staging_ident(import_id)),
            ([r["staged_fid"] for r in rows],)).fetchall()}
    out = []
    for r in rows:
        entry: dict[str, Any] = {"kind": r["kind"], "key": r["key"]}
        if r["kind"] == "changed":
            visible = [f for f in r["fields"] if f in shown]
            entry["fields"] = visible
            entry["hidden_fields"] = len(r["fields"]) - len(visible)
            entry["before"] = {k: v for k, v in (r["before"] or {}).items() if k in shown}
            entry["after"] = {k: v for k, v in (r["after"] or {}).items() if k in shown}
        elif r["kind"] == "removed":
            entry["before"] = {k: v for k, v in (r["before"] or {}).items() if k in shown}
        else:
            entry["after"] = added.get(int(r["staged_fid"]), {})
        out.append(entry)
    return {"import_id": import_id, "kind": kind, "offset": offset, "limit": limit,
            "total": int(total["n"]) if total else 0, "rows": out}


# -- deciding -----------------------------------------------------------------------------------

def _lock(conn: psycopg.Connection, layer_id: str) -> None:
    from iocgis.importers.pipeline import LOCK_NAMESPACE

    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                           (LOCK_NAMESPACE, layer_id)).fetchone()
        if got and got[0]:
            return
        if time.monotonic() >= deadline:
            raise ImportFailed(f"an import of {layer_id} is running", where=layer_id,
                               hint="wait for it to finish, then decide again")
        time.sleep(0.2)


def _unlock(conn: psycopg.Connection, layer_id: str) -> None:
    from iocgis.importers.pipeline import LOCK_NAMESPACE

    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_NAMESPACE, layer_id))


def _pending_for_update(conn: psycopg.Connection, import_id: int) -> dict[str, Any]:
    review = get(conn, import_id)
    conn.execute("SELECT 1 FROM import_review.reviews WHERE import_id = %s FOR UPDATE",
                 (import_id,))
    if review["status"] != "pending":
        who = f" by {review['decided_by']}" if review["decided_by"] else ""
        when = f" on {review['decided_at']:%Y-%m-%d %H:%M}" if review["decided_at"] else ""
        raise ImportFailed(f"import {import_id} is {review['status']}{who}{when}; only a pending "
                           "import can be approved or rejected", where=str(import_id),
                           hint="import the file again to submit it anew")
    return review


def _check_communes(conn: psycopg.Connection, layer: LayerDef, import_id: int,
                    reviewer: Reviewer) -> None:
    """A reviewer limited to some communes decides only on imports that change nothing
    outside them."""
    if not reviewer.communes or layer.commune_field is None:
        if reviewer.communes:
            raise Forbidden(f"{layer.id} is shared by every commune; a reviewer limited to "
                            f"{', '.join(sorted(reviewer.communes))} cannot decide on it",
                            where=str(import_id), hint="ask a steward of the province")
        return
    outside = conn.execute(sql.SQL(
        "SELECT count(*) FROM {} WHERE NOT (communes <@ %s::text[]) OR cardinality(communes) = 0"
    ).format(diff.changes_ident(import_id)), (sorted(reviewer.communes),)).fetchone()
    if outside and outside[0]:
        raise Forbidden(f"import {import_id} changes {outside[0]} rows outside your communes "
                        f"({', '.join(sorted(reviewer.communes))})", where=str(import_id),
                        hint="ask a steward of the province to decide on it")


def _check_decider(review: dict[str, Any], reviewer: Reviewer) -> None:
    if not reviewer.may_decide(review["group_name"]):
        raise Forbidden(f"approving imports of {review['group_name']} needs the approve right "
                        "for that group", where=reviewer.name,
                        hint=f"a data steward of {review['group_name']} decides (an "
                             "administrator grants the role with its groups)")
    if review["submitted_by"] == reviewer.name:
        raise Forbidden(f"import {review['import_id']} was submitted by {reviewer.name}: another "
                        "person approves it (four eyes)", where=reviewer.name,
                        hint=f"ask another data steward of {review['group_name']}; you may "
                             "withdraw it (reject)")


def approve(conn: psycopg.Connection, registry: Registry, import_id: int,
            reviewer: Reviewer) -> dict[str, Any]:
    """Publish a pending import: the swap, the review's end and the audit record in one
    transaction. Returns the decision."""
    layer = registry.get(get(conn, import_id)["layer_id"])
    version: int | None = None
    _lock(conn, layer.id)
    try:
        expire_due(conn, layer.id)
        with conn.transaction():
            review = _pending_for_update(conn, import_id)
            _check_decider(review, reviewer)
            _check_communes(conn, layer, import_id, reviewer)
            row = conn.execute("SELECT data_version FROM meta.layers WHERE id = %s FOR UPDATE",
                               (layer.id,)).fetchone()
            current = int(row[0]) if row else 0
            stale = current != review["base_version"]
            if not stale:
                version = _publish(conn, layer, review, reviewer)
        if stale:
            redo(conn, layer, review, current)
            raise ImportFailed(
                f"{layer.id} changed since the diff of import {import_id} was made (data version "
                f"{review['base_version']} -> {current}); the diff was made again",
                where=str(import_id), hint="review the new diff, then approve again")
    finally:
        _unlock(conn, layer.id)
    return {"import_id": import_id, "layer_id": layer.id, "status": "approved",
            "decided_by": reviewer.name, "data_version": version}


def _publish(conn: psycopg.Connection, layer: LayerDef, review: dict[str, Any],
             reviewer: Reviewer) -> int:
    import_id = review["import_id"]
    decided = conn.execute("SELECT now()").fetchone()[0]
    report = dict(review["report"])
    report["status"] = "loaded"
    report.setdefault("extra", {})["review"] = {
        **report.get("extra", {}).get("review", {}), "status": "approved",
        "decided_by": reviewer.name, "decided_at": decided.isoformat()}
    version = swap.make_live(
        conn, layer, import_id, review["mode"], review["source_date"], review["keep_versions"],
        {"report": report, "rows_in": review["rows_in"], "rows_loaded": review["rows_loaded"],
         "rows_fixed": review["rows_fixed"], "rows_rejected": review["rows_rejected"]})
    conn.execute("UPDATE import_review.reviews SET status = 'approved', decided_by = %s, "
                 "decided_at = %s WHERE import_id = %s", (reviewer.name, decided, import_id))
    drop_changes(conn, import_id)
    audit.record_sync(conn, actor=reviewer.name, action="import.approve", target=str(import_id),
                      layer=layer.id, client=reviewer.client,
                      details={"submitted_by": review["submitted_by"], "data_version": version,
                               **{k: review["diff"].get(k) for k in diff.KINDS}})
    return version


def redo(conn: psycopg.Connection, layer: LayerDef, review: dict[str, Any], version: int) -> None:
    """Make the diff of a pending import again, against the live layer as it is now."""
    import_id = review["import_id"]
    with conn.transaction():
        drop_changes(conn, import_id)
        made = diff.compute(conn, layer, live_ident(layer), staging_ident(import_id),
                            diff.changes_ident(import_id), review["mode"])
        body = {**review["diff"], **made.as_dict()}
        conn.execute("UPDATE import_review.reviews SET diff = %s::jsonb, base_version = %s "
                     "WHERE import_id = %s", (json.dumps(body), version, import_id))


def reject(conn: psycopg.Connection, registry: Registry, import_id: int, reviewer: Reviewer,
           reason: str) -> dict[str, Any]:
    """Reject a pending import with a reason (or withdraw it, when its submitter asks): the
    staging table and diff are dropped, the live layer is untouched. Audited."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a rejection needs a reason", where="reason",
                           hint="say what the officer should fix, e.g. --reason 'thiếu xã 26041'")
    review = get(conn, import_id)
    layer = registry.get(review["layer_id"])
    _lock(conn, layer.id)
    try:
        with conn.transaction():
            review = _pending_for_update(conn, import_id)
            withdrawn = review["submitted_by"] == reviewer.name
            if not withdrawn:
                if not reviewer.may_decide(review["group_name"]):
                    _check_decider(review, reviewer)
                _check_communes(conn, layer, import_id, reviewer)
            status = "withdrawn" if withdrawn else "rejected"
            _close(conn, import_id, status, reviewer.name, reason[:2000])
            audit.record_sync(conn, actor=reviewer.name,
                              action="import.withdraw" if withdrawn else "import.reject",
                              target=str(import_id),
                              layer=layer.id, client=reviewer.client,
                              details={"reason": reason[:2000],
                                       "submitted_by": review["submitted_by"]})
    finally:
        _unlock(conn, layer.id)
    return {"import_id": import_id, "layer_id": layer.id, "status": status,
            "decided_by": reviewer.name, "reason": reason}


def check_steward_groups(registry: Registry, groups: list[str],
                         where: str = "--group") -> list[str]:
    """The layer groups named, sorted and once each; an unknown or missing one is refused."""
    known = {g.group for g in registry.groups}
    unknown = sorted(set(groups) - known)
    if unknown or not groups:
        raise InvalidInput(f"unknown layer group(s) {unknown or groups}", where=where,
                           hint=f"choose from {', '.join(sorted(known))}")
    return sorted(set(groups))


def steward_groups_for(registry: Registry, roles: list[str], groups: list[str] | None,
                       where: str = "--group") -> list[str] | None:
    """The layer groups given for an account with these roles, checked before the account
    changes: only a data steward approves imports (``None``: none given; ``[]``: none)."""
    if groups is None or groups == []:
        return groups
    if "data_steward" not in roles:
        raise InvalidInput("layer groups name what a data steward approves", where=where,
                           hint="add --role data_steward" if where.startswith("--")
                           else 'add "data_steward" to "roles"')
    return check_steward_groups(registry, groups, where)


def set_steward_groups(conn: psycopg.Connection, registry: Registry, actor: str, name: str,
                       groups: list[str]) -> list[str]:
    """Store the layer groups an account approves (like its communes), audited; returns the
    account's roles."""
    groups = check_steward_groups(registry, groups)
    row = conn.execute("UPDATE security.accounts SET steward_groups = %s, updated_at = now() "
                       "WHERE name = %s RETURNING roles", (groups, name)).fetchone()
    if row is None:
        raise NotFound(f"no account {name!r}", where="name",
                       hint="list the accounts with `iocgis accounts list`")
    audit.record_sync(conn, actor=actor, action="account.steward_groups", target=name,
                      client="local", details={"groups": groups})
    return list(row[0])
