"""What one generation knows: the app state, the caller, the definition, the period, the area
and its communes, and the layers it has read (their data versions are recorded)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from iocgis.access import AccessPlan, Caller, plan_for
from iocgis.api.query.context import AdminUnit, QueryContext
from iocgis.api.state import AppState
from iocgis.errors import Forbidden, InvalidInput, TemporarilyUnavailable
from iocgis.layers import Registry
from iocgis.reports.model import Definition
from iocgis.reports.periods import Period
from iocgis.reports.versions import live_versions


@dataclass
class ReportContext:
    state: AppState
    owner: AsyncConnectionPool  # the platform's own tables (live.alerts, audit, meta.imports)
    # the registry the data is read through: the live one, or one reading some layers from
    # the tables the import history keeps of the versions a regenerated report recorded
    registry: Registry
    caller: Caller
    definition: Definition
    period: Period
    area: AdminUnit
    communes: list[tuple[str, str]]  # (code, name) of the area the caller may see, by code
    generated_at: datetime
    maps: Any = None  # the MapRenderer (``reports.maps``), None: maps left out
    pinned: dict[str, int] = field(default_factory=dict)  # those versions (regeneration)
    versions_at_start: dict[str, int] = field(default_factory=dict)
    read: set[str] = field(default_factory=set)

    @cached_property
    def reading_state(self) -> AppState:
        """The app state with this report's registry (its queries name the kept tables)."""
        return reading_state(self.state, self.registry)

    @property
    def query(self) -> QueryContext:
        return QueryContext(self.reading_state, self.caller)

    def plan(self, layer_id: str) -> AccessPlan:
        """The caller's plan for a layer, noted as read by this report."""
        plan = plan_for(self.caller, layer_id, self.registry)
        self.read.add(plan.layer.id)
        return plan

    @property
    def unit_codes(self) -> list[str]:
        """The area and its communes the caller may see: the units of indicator tables."""
        return ([self.area.code] if self.caller.commune_codes == frozenset()
                or self.area.code in self.caller.commune_codes else []) + \
            [c for c, _ in self.communes if c != self.area.code]

    def unit_name(self, code: str) -> str:
        if code == self.area.code:
            return self.area.name
        return dict(self.communes).get(code, code)

    async def layer_versions(self) -> dict[str, int]:
        return await live_versions(self.state.pool)

    async def versions_read(self) -> dict[str, int]:
        """The data versions of the layers read (a kept one: its version); a live layer that
        changed meanwhile is a retry."""
        now = await self.layer_versions()
        kept = {lid: self.pinned[lid] for lid in self.read if self.registry.get(lid).kept}
        now.update(kept)
        moved = sorted(lid for lid in self.read
                       if lid not in kept and now.get(lid) != self.versions_at_start.get(lid))
        if moved:
            raise TemporarilyUnavailable(
                f"layer {moved[0]} changed while the report was generated", where="report",
                hint="generate it again: its data must come from one version of each layer",
                retry_after_s=1)
        return {lid: now[lid] for lid in sorted(self.read) if lid in now}


def reading_state(state: AppState, registry: Registry) -> AppState:
    return state if registry is state.registry else replace(state, registry=registry)


async def area_of(state: AppState, caller: Caller, code: str | None,
                  definition: Definition) -> tuple[AdminUnit, list[tuple[str, str]]]:
    """The report's area (the province by default, a commune when the definition says so)
    and its communes the caller may see."""
    query = QueryContext(state, caller)
    if definition.area == "commune":
        if not code or len(code) != 5:
            raise InvalidInput(f"report {definition.name} is for one commune", where="area",
                               hint="give the commune's 5-digit code, e.g. --area 26041")
    code = code or state.settings.province_code
    if caller.commune_codes and len(code) == 5 and code not in caller.commune_codes:
        raise Forbidden(f"commune {code} is outside this account's communes", where="area",
                        hint=f"your account covers {', '.join(sorted(caller.commune_codes))}")
    unit = await query.admin_unit(code, where="area")
    layer = state.registry.admin_layer("commune")
    plan = plan_for(caller, layer, state.registry).with_fields(("code", "name"))
    column = "province_code" if len(code) == 2 else "code"
    statement = sql.SQL("SELECT {key}, {label} FROM {table} WHERE {col} = %(code)s"
                        "{scope} ORDER BY 1").format(
        key=sql.Identifier(layer.key[0]), label=sql.Identifier(layer.label or layer.key[0]),
        table=sql.Identifier(layer.schema_name, layer.table_name), col=sql.Identifier(column),
        scope=sql.SQL(" AND {} = ANY(%(mine)s)").format(sql.Identifier(layer.key[0]))
        if caller.commune_codes else sql.SQL(""))
    async with state.reader.reading(plan, what="report area") as conn:
        cur = await conn.execute(statement, {"code": code, "mine": sorted(caller.commune_codes)})
        communes = [(r[0], r[1]) for r in await cur.fetchall()]
    return unit, communes
