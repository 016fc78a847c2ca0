"""A report read again at the data versions it recorded: each layer live when its version is
the live one, else from the table the import history keeps of that version
(``importers/history.py``), else refused naming the layer and version no longer kept.

The kept tables carry the live table's grants and row-level security (``importers/swap.py``
when an import moves a version aside, ``iocgis db roles sync`` after), so the caller's plan
and PostgreSQL's rules apply to them as to the live one.
"""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from iocgis.errors import Gone
from iocgis.importers.history import KEPT_SQL, kept_ident
from iocgis.layers import LayerDef, Registry

VERSIONS_SQL = "SELECT id, data_version FROM meta.layers"


async def live_versions(owner: AsyncConnectionPool) -> dict[str, int]:
    async with owner.connection() as conn:
        cur = await conn.execute(VERSIONS_SQL)
        return {layer_id: int(v) for layer_id, v in await cur.fetchall()}


def _columns(layer: LayerDef) -> set[str]:
    return {"fid", *layer.field_names, *layer.geometry_columns}


async def registry_at(registry: Registry, owner: AsyncConnectionPool,
                      recorded: dict[str, int]) -> Registry:
    """``registry`` reading each recorded layer at its recorded data version; Gone when a
    version is no longer kept (or kept without a field the layer has now)."""
    now = await live_versions(owner)
    older = {lid: int(v) for lid, v in sorted(recorded.items())
             if lid in registry and now.get(lid) != int(v)}
    if not older:
        return registry
    async with owner.connection() as conn:
        cur = await conn.execute(KEPT_SQL, {"layers": list(older),
                                            "versions": list(older.values())})
        found: dict[str, tuple[str, list[str]]] = {
            lid: (table, columns or []) for lid, _, table, columns in await cur.fetchall()}
    gone: dict[str, dict[str, Any]] = {}
    tables = {}
    for lid, version in older.items():
        if lid not in found:
            gone[lid] = {"recorded": version, "now": now.get(lid), "why": "not kept"}
            continue
        table, columns = found[lid]
        lacking = sorted(_columns(registry.get(lid)) - set(columns))
        if lacking:
            gone[lid] = {"recorded": version, "now": now.get(lid), "why": "kept without "
                         + ", ".join(lacking)}
            continue
        tables[lid] = kept_ident(table)
    if gone:
        lid, facts = next(iter(gone.items()))
        raise Gone(
            f"layer {lid} is no longer kept at data version {facts['recorded']}, which the "
            f"report read (it is at version {facts['now']} now; {facts['why']})",
            where=f"versions.{lid}",
            hint="an import keeps the versions before it (--keep-versions, default 3) and "
                 "changes made outside imports (citizen reports, incidents, readings) keep "
                 "none; generate the report anew to read the current data",
            details={"gone": gone})
    return registry.reading_kept(tables)
