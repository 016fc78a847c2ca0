"""What a query handler needs from the request: the app state, the caller, the province frame."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request

from iocgis.access import AccessPlan, Caller, current_caller, plan_for
from iocgis.access.database import Reader
from iocgis.api.query.province import ProvinceFrame, province_frame
from iocgis.api.state import AppState
from iocgis.errors import InvalidInput, NotFound
from iocgis.layers import LayerDef, Registry


@dataclass(frozen=True)
class AdminUnit:
    layer: LayerDef
    code: str
    name: str
    wkb: bytes


@dataclass
class QueryContext:
    state: AppState
    caller: Caller

    @classmethod
    def of(cls, request: Request) -> QueryContext:
        return cls(request.app.state.iocgis, current_caller())

    @property
    def registry(self) -> Registry:
        return self.state.registry

    @property
    def pool(self) -> AsyncConnectionPool:
        return self.state.pool

    @property
    def reader(self) -> Reader:
        """Data statements under the caller's plans (``iocgis.access.database``)."""
        return self.state.reader

    def plan(self, layer: str | LayerDef) -> AccessPlan:
        """The caller's plan for a layer (NotFound when hidden, as when missing)."""
        return plan_for(self.caller, layer, self.registry)

    async def frame(self) -> ProvinceFrame:
        return await province_frame(self.reader, self.registry,
                                    self.state.settings.province_code)

    def admin_plan_for(self, code: str, where: str = "code") -> AccessPlan:
        """The province layer for a 2-digit code, the commune layer for a 5-digit one."""
        if code.isdigit() and len(code) == 2:
            level = "province"
        elif code.isdigit() and len(code) == 5:
            level = "commune"
        else:
            raise InvalidInput(f"{code[:20]!r} is not an administrative code", where=where,
                               hint="give a 2-digit province code (e.g. 75) or a 5-digit "
                                    "commune code (e.g. 26041)")
        return self.plan(self.registry.admin_layer(level))

    async def admin_unit(self, code: str, where: str = "code", *,
                         geometry: bool = True) -> AdminUnit:
        """The unit with that official code (404 if none); ``geometry=False`` only checks it
        exists and names it (the boundary of the province is large)."""
        plan = self.admin_plan_for(code, where)
        layer = plan.layer
        key = layer.key[0]
        label = layer.label or key
        shape = sql.SQL("ST_AsBinary(ST_Union(geom))" if geometry else "'\\x'::bytea")
        statement = sql.SQL("SELECT {shape}, min({label}) FROM {table} WHERE {key} = %s"
                            " HAVING count(*) > 0").format(
            shape=shape, label=sql.Identifier(label),
            table=sql.Identifier(layer.schema_name, layer.table_name), key=sql.Identifier(key))
        # BEGIN, the scope, the statement and COMMIT in one round trip
        (row,) = await self.reader.first_rows(plan.with_fields(()), [(statement, (code,))],
                                              what="boundary")
        if row is None or row[0] is None:
            raise NotFound(f"no {layer.title.en.lower()} has code {code!r}", where=where,
                           hint=f"list the codes with /collections/{layer.id}/items")
        return AdminUnit(layer, code, row[1], bytes(row[0]))
