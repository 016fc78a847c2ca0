"""sống (live): which layers are past their expected update cadence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from iocgis.db import connect, database_url
from iocgis.layers import Registry, get_registry
from iocgis.settings import Settings


def stale_layers(*, url: str | None = None, settings: Settings | None = None,
                 registry: Registry | None = None, now: datetime | None = None
                 ) -> list[dict[str, Any]]:
    """Layers never imported, or whose last import is older than their cadence, most overdue
    first. The cadence comes from the registry (``cadence: P90D``); a layer fed by a source
    (importers/connectors) is due by the source's cadence when that is shorter — a source's
    run that finds nothing changed confirms the layer (``last_import_at``), a failing one
    does not."""
    registry = registry or get_registry()
    with connect(url or database_url(settings)) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            "SELECT id, last_import_at, source_date, row_count, coalesce(%s, now()) "
            "FROM meta.layers", (now,))}
        fed = dict(conn.execute(
            "SELECT layer_id, min(cadence) FROM connectors.sources WHERE enabled "
            "GROUP BY layer_id").fetchall())
    out = []
    for layer in registry:
        last, source_date, row_count, at = rows.get(layer.id, (None, None, 0, now))
        cadence = min(layer.cadence, fed.get(layer.id, layer.cadence))
        due = last + cadence if last else None
        if due is None or due < at:
            overdue = (at - due).days if due else None
            out.append({"id": layer.id, "title_vi": layer.title.vi,
                        "cadence_days": cadence.days, "last_import_at": last,
                        "fed_by_source": layer.id in fed,
                        "source_date": source_date, "row_count": row_count,
                        "overdue_days": overdue})
    out.sort(key=lambda r: (r["overdue_days"] is not None, -(r["overdue_days"] or 0)))
    return out
