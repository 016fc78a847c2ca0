"""Indicators against their targets: ``/query/kpi`` for one unit, ``/query/kpi/alerts`` for all.

An indicator (``kpi.indicators``: target, direction ``higher_better`` / ``lower_better``) is
``met``, ``not_met`` or ``no_data`` for a unit and period, from ``kpi.values``. Without a
period, each indicator's latest reported period counts.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from psycopg import sql
from starlette.requests import Request
from starlette.responses import Response

from iocgis.access import AccessPlan
from iocgis.api.query import render
from iocgis.api.query.context import QueryContext
from iocgis.api.query.engine import ratio_status, reading
from iocgis.api.query.params import Params
from iocgis.errors import ConfigError, InvalidInput
from iocgis.layers import LayerDef, Registry

INDICATORS = "kpi.indicators"
VALUES = "kpi.values"
# The fields this module reads; checked against the registry at start-up.
NEEDED = {INDICATORS: ("code", "name", "name_en", "sector", "unit", "target", "direction"),
          VALUES: ("indicator_code", "admin_code", "period", "value")}
PERIOD_RE = re.compile(r"^\d{4}(-(Q[1-4]|\d{2}))?$")


def check_registry(registry: Registry) -> None:
    for layer_id, fields in NEEDED.items():
        if layer_id not in registry:
            raise ConfigError(f"the indicator queries need layer {layer_id}", where="layers/",
                              hint="restore the kpi group in layers/kpi.yaml")
        missing = [f for f in fields if not registry.get(layer_id).has_field(f)]
        if missing:
            raise ConfigError(f"layer {layer_id} lacks fields {missing}", where="layers/kpi.yaml",
                              hint="the indicator queries read them; add them back")


def _table(layer: LayerDef) -> sql.Identifier:
    return sql.Identifier(layer.schema_name, layer.table_name)


def _period(params: Params) -> str | None:
    period = params.text("period")
    if period is not None and not PERIOD_RE.match(period):
        raise InvalidInput(f"{period[:20]!r} is not a reporting period", where="period",
                           hint="write a year (2025), a quarter (2025-Q2) or a month (2025-06)")
    return period


def _sector(ctx: QueryContext, params: Params, indicators: LayerDef) -> str | None:
    sector = params.text("sector")
    if sector is not None:
        codes = ctx.registry.domain_codes(indicators.field("sector")) or ()
        if sector not in codes:
            raise InvalidInput(f"unknown sector {sector[:30]!r}", where="sector",
                               hint=f"use one of: {', '.join(codes)}")
    return sector


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}


async def _fetch(ctx: QueryContext, plans: tuple[AccessPlan, ...], statement: sql.Composed,
                 values: dict[str, Any]) -> list[dict[str, Any]]:
    async with reading(ctx.reader, plans) as conn:
        cur = await conn.execute(statement, values)
        names = [d.name for d in cur.description or ()]
        return [_plain(dict(zip(names, r))) for r in await cur.fetchall()]


def _admin_names(ctx: QueryContext) -> tuple[sql.Composable, sql.Composable]:
    """LEFT JOINs naming an admin code, and the expression giving its name."""
    joins, names = [], []
    for i, level in enumerate(("commune", "province")):
        layer = ctx.registry.admin_layer(level)
        alias = f"a{i}"
        joins.append(sql.SQL(" LEFT JOIN {t} {a} ON {a}.{key} = {code}").format(
            t=_table(layer), a=sql.Identifier(alias), key=sql.Identifier(layer.key[0]),
            code=sql.SQL("l.admin_code")))
        names.append(sql.SQL("{}.{}").format(sql.Identifier(alias),
                                             sql.Identifier(layer.label or layer.key[0])))
    return sql.SQL("").join(joins), sql.SQL("coalesce({})").format(sql.SQL(", ").join(names))


def _plans(ctx: QueryContext) -> tuple[AccessPlan, AccessPlan]:
    return ctx.plan(INDICATORS), ctx.plan(VALUES)


def _scope(values: AccessPlan, params: dict[str, Any]) -> sql.Composable:
    """The values plan's row filter: a commune-limited caller reads its communes' values
    only (``kpi.values`` records the unit as ``admin_code``, its ``commune_field``)."""
    if values.commune_field is None:
        return sql.SQL("")
    params["scope_communes"] = list(values.communes or ())
    return sql.SQL(" AND v.{} = ANY(%(scope_communes)s)").format(
        sql.Identifier(values.commune_field))


async def indicator_rows(ctx: QueryContext, admins: list[str], period: str | None,
                         sector: str | None) -> list[dict[str, Any]]:
    """Each indicator's value, target and status for each unit of ``admins`` (official codes
    already checked), ordered by sector, indicator and unit; the reports call it too."""
    plans = _plans(ctx)
    indicators, values = (p.layer for p in plans)
    bound: dict[str, Any] = {"admins": list(admins), "period": period, "sector": sector}
    scope = _scope(plans[1], bound)
    statement = sql.SQL(
        "SELECT u.admin_code, i.code, i.name, i.name_en, i.sector, i.unit, i.target,"
        " i.direction, l.period, l.value FROM unnest(%(admins)s::text[]) u(admin_code)"
        " CROSS JOIN {ind} i LEFT JOIN LATERAL ("
        " SELECT v.period, v.value FROM {val} v WHERE v.indicator_code = i.code"
        " AND v.admin_code = u.admin_code"
        " AND (%(period)s::text IS NULL OR v.period = %(period)s)"
        "{scope} ORDER BY v.period DESC LIMIT 1) l ON true"
        " WHERE (%(sector)s::text IS NULL OR i.sector = %(sector)s)"
        " ORDER BY i.sector, i.code, u.admin_code"
    ).format(ind=_table(indicators), val=_table(values), scope=scope)
    rows = await _fetch(ctx, plans, statement, bound)
    for row in rows:
        row["status"] = ratio_status(row["value"], row["target"], row["direction"])
    return rows


async def query_kpi(request: Request) -> Response:
    """Each indicator's value, target and status for one unit (default: the province)."""
    params = Params(request.query_params, ("admin", "period", "sector", "f"))
    ctx = QueryContext.of(request)
    indicators = ctx.plan(INDICATORS).layer
    admin = params.text("admin") or ctx.state.settings.province_code
    unit = await ctx.admin_unit(admin, where="admin", geometry=False)
    period = _period(params)
    sector = _sector(ctx, params, indicators)
    rows = await indicator_rows(ctx, [unit.code], period, sector)
    for row in rows:
        del row["admin_code"]
    summary = {s: sum(1 for r in rows if r["status"] == s) for s in ("met", "not_met", "no_data")}
    if params.output_format() == "csv":
        header = ["code", "name", "name_en", "sector", "unit", "target", "direction", "period",
                  "value", "status"]
        return render.csv_response(render.csv_text(header, rows), f"kpi-{unit.code}.csv")
    return render.json_response(render.dumps({
        "query": {"admin": unit.code, "admin_name": unit.name, "period": period,
                  "sector": sector},
        "summary": summary, "indicators": rows}))


async def alert_rows(ctx: QueryContext, period: str | None,
                     sector: str | None) -> list[dict[str, Any]]:
    """Every indicator that misses its target in any unit the caller may see (latest period,
    or the one given), with the gap; the reports call it too."""
    plans = _plans(ctx)
    indicators, values = (p.layer for p in plans)
    joins, admin_name = _admin_names(ctx)
    bound: dict[str, Any] = {"period": period, "sector": sector}
    scope = _scope(plans[1], bound)
    statement = sql.SQL(
        "WITH l AS (SELECT DISTINCT ON (v.indicator_code, v.admin_code) v.indicator_code,"
        " v.admin_code, v.period, v.value FROM {val} v"
        " WHERE (%(period)s::text IS NULL OR v.period = %(period)s){scope}"
        " ORDER BY v.indicator_code, v.admin_code, v.period DESC)"
        " SELECT i.code, i.name, i.name_en, i.sector, i.unit, i.target, i.direction,"
        " l.admin_code, {admin_name} AS admin_name, l.period, l.value,"
        " l.value - i.target AS gap"
        " FROM l JOIN {ind} i ON i.code = l.indicator_code{joins}"
        " WHERE ((i.direction = 'higher_better' AND l.value < i.target)"
        " OR (i.direction = 'lower_better' AND l.value > i.target))"
        " AND (%(sector)s::text IS NULL OR i.sector = %(sector)s)"
        " ORDER BY i.sector, i.code, l.admin_code"
    ).format(val=_table(values), ind=_table(indicators), joins=joins, admin_name=admin_name,
             scope=scope)
    plans = (*plans, *(ctx.plan(ctx.registry.admin_layer(level)).with_fields(())
                       for level in ("commune", "province")))
    rows = await _fetch(ctx, plans, statement, bound)
    for row in rows:
        row["status"] = "not_met"
    return rows


async def query_kpi_alerts(request: Request) -> Response:
    """Every indicator that misses its target in any unit (latest period, or the one given)."""
    params = Params(request.query_params, ("period", "sector", "f"))
    ctx = QueryContext.of(request)
    period = _period(params)
    sector = _sector(ctx, params, ctx.plan(INDICATORS).layer)
    rows = await alert_rows(ctx, period, sector)
    if params.output_format() == "csv":
        header = ["code", "name", "name_en", "sector", "unit", "target", "direction",
                  "admin_code", "admin_name", "period", "value", "gap", "status"]
        return render.csv_response(render.csv_text(header, rows), "kpi-alerts.csv")
    return render.json_response(render.dumps({
        "query": {"period": period, "sector": sector}, "count": len(rows), "alerts": rows}))
