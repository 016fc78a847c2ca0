"""The IOC's own operation for the period (Điều 13.10, 20.3): usage by department from the
audit trail, data freshness per layer at the period's end, imports and their quality from
``meta.imports``, security events. Administrators only (the definition's ``needs: admin``).

Accounts record no department: an account's unit is its role and its communes, the seam to
fill when the account register gains one."""

from __future__ import annotations

from typing import Any

from iocgis.reports.blocks import Column, Section, Table, cell
from iocgis.reports.context import ReportContext
from iocgis.reports.model import OperationSection, Text
from iocgis.reports.sections.lists import bounds

T = Text
USAGE = ("SELECT coalesce(array_to_string(a.roles, ','), 'anonymous') AS unit,"
         " coalesce(array_to_string(a.commune_codes, ','), '') AS communes,"
         " count(DISTINCT e.actor) AS accounts, count(*) AS events,"
         " count(*) FILTER (WHERE e.layer IS NOT NULL) AS layer_reads,"
         " count(*) FILTER (WHERE e.outcome <> 'ok') AS refused"
         " FROM audit.events e LEFT JOIN security.accounts a ON a.name = e.actor"
         " WHERE e.at >= %(start)s AND e.at < %(end)s GROUP BY 1, 2 ORDER BY 1, 2")
IMPORTS = ("SELECT layer_id, count(*) AS attempts,"
           " count(*) FILTER (WHERE status = 'loaded') AS loaded,"
           " count(*) FILTER (WHERE status IN ('failed', 'aborted')) AS failed,"
           " coalesce(sum(rows_in), 0) AS rows_in, coalesce(sum(rows_loaded), 0) AS rows_loaded,"
           " coalesce(sum(rows_fixed), 0) AS rows_fixed,"
           " coalesce(sum(rows_rejected), 0) AS rows_rejected"
           " FROM meta.imports WHERE started_at >= %(start)s AND started_at < %(end)s"
           " AND NOT dry_run GROUP BY 1 ORDER BY 1")
SECURITY = ("SELECT action, outcome, count(*) AS events, count(DISTINCT coalesce(client, ''))"
            " AS addresses, min(at) AS first_at, max(at) AS last_at FROM audit.events"
            " WHERE at >= %(start)s AND at < %(end)s AND (outcome <> 'ok' OR action LIKE 'auth.%%'"
            " OR action LIKE 'account%%' OR action LIKE 'apikey%%') GROUP BY 1, 2 ORDER BY 1, 2")
FRESHNESS = ("SELECT l.id, l.title_vi, l.last_import_at, l.source_date, l.row_count,"
             " l.data_version, (SELECT count(*) FROM meta.imports i WHERE i.layer_id = l.id"
             " AND i.status = 'loaded' AND i.started_at < %(end)s) AS loads"
             " FROM meta.layers l ORDER BY l.id")

COLUMNS: dict[str, list[Column]] = {
    "usage": [Column("unit", T(vi="Đơn vị (vai trò)", en="Unit (role)")),
              Column("communes", T(vi="Xã, phường", en="Communes")),
              Column("accounts", T(vi="Số tài khoản", en="Accounts"), "integer"),
              Column("events", T(vi="Số lượt", en="Events"), "integer"),
              Column("layer_reads", T(vi="Lượt đọc lớp dữ liệu", en="Layer reads"), "integer"),
              Column("refused", T(vi="Bị từ chối", en="Refused"), "integer")],
    "imports": [Column("layer_id", T(vi="Lớp dữ liệu", en="Layer")),
                Column("attempts", T(vi="Lượt nhập", en="Attempts"), "integer"),
                Column("loaded", T(vi="Thành công", en="Loaded"), "integer"),
                Column("failed", T(vi="Lỗi, dừng", en="Failed or aborted"), "integer"),
                Column("rows_in", T(vi="Số bản ghi đọc", en="Rows read"), "integer"),
                Column("rows_loaded", T(vi="Số bản ghi nhập", en="Rows loaded"), "integer"),
                Column("rows_fixed", T(vi="Đã sửa", en="Fixed"), "integer"),
                Column("rows_rejected", T(vi="Bị loại", en="Rejected"), "integer")],
    "security": [Column("action", T(vi="Sự kiện", en="Action")),
                 Column("outcome", T(vi="Kết quả", en="Outcome")),
                 Column("events", T(vi="Số lượt", en="Events"), "integer"),
                 Column("addresses", T(vi="Số địa chỉ", en="Addresses"), "integer"),
                 Column("first_at", T(vi="Lần đầu", en="First"), "datetime"),
                 Column("last_at", T(vi="Lần cuối", en="Last"), "datetime")],
    "freshness": [Column("id", T(vi="Lớp dữ liệu", en="Layer")),
                  Column("title", T(vi="Tên lớp", en="Title")),
                  Column("cadence_days", T(vi="Chu kỳ cập nhật (ngày)", en="Cadence (days)"),
                         "integer"),
                  Column("last_import_at", T(vi="Lần nhập cuối", en="Last import"), "datetime"),
                  Column("row_count", T(vi="Số bản ghi", en="Rows"), "integer"),
                  Column("loads", T(vi="Số lần nạp", en="Loads"), "integer"),
                  Column("status", T(vi="Tình trạng", en="Status"))],
}


def _freshness(ctx: ReportContext, rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Per layer: fresh, stale or never_imported at the period's end (the catalogue's words)."""
    _, end = bounds(ctx)
    out = []
    for layer_id, title, last, _source_date, row_count, _version, loads in rows:
        if layer_id not in ctx.registry:
            continue
        cadence = ctx.registry.get(layer_id).cadence
        if last is None:
            status = "never_imported"
        elif last >= end:
            status = "updated_after"  # its state at the period's end is not kept
        else:
            status = "fresh" if last + cadence >= end else "stale"
        out.append([layer_id, title, cadence.days, last.astimezone(bounds(ctx)[0].tzinfo)
                    .replace(tzinfo=None) if last else None, int(row_count), int(loads), status])
    return out


async def collect(ctx: ReportContext, section: OperationSection, done: dict) -> Section:
    start, end = bounds(ctx)
    statement = {"usage": USAGE, "imports": IMPORTS, "security": SECURITY,
                 "freshness": FRESHNESS}[section.topic]
    async with ctx.owner.connection() as conn:
        cur = await conn.execute(statement, {"start": start, "end": end})
        raw = await cur.fetchall()
    if section.topic == "freshness":
        rows = _freshness(ctx, raw)
    else:
        rows = [[cell(v).astimezone(start.tzinfo).replace(tzinfo=None)
                 if hasattr(v, "astimezone") else cell(v) for v in r] for r in raw]
    table = Table(section.id, section.title, COLUMNS[section.topic], rows)
    return Section(section.id, section.title, tables=[table], note=section.note)
