"""What was shared under an agreement: its terms (layers and fields, communes, purpose, legal
basis, dates), per layer the fields shared and the requests, rows and tiles returned, first
and last read, and the same per day, counted from the audit trail's ``data.read_shared``
records (one per request and layer, written by the security middleware; answered requests
only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.sharing import agreements
from iocgis.sharing.narrowing import TIME_ZONE

_WHERE = ("action = 'data.read_shared' AND outcome = 'ok' "
          "AND (details->>'agreement')::bigint = %(id)s "
          "AND (%(since)s::timestamptz IS NULL OR at >= %(since)s) "
          "AND (%(until)s::timestamptz IS NULL OR at < %(until)s)")
_TOTALS = ("count(*) AS requests, sum((details->>'rows')::bigint) AS rows, "
           "sum((details->>'tiles')::bigint) AS tiles")
BY_LAYER = (f"SELECT layer, {_TOTALS}, min(at) AS first_read, max(at) AS last_read "
            f"FROM audit.events WHERE {_WHERE} GROUP BY layer ORDER BY layer")
BY_DAY = (f"SELECT (at AT TIME ZONE '{TIME_ZONE}')::date AS day, layer, {_TOTALS} "
          f"FROM audit.events WHERE {_WHERE} GROUP BY 1, 2 ORDER BY 1, 2")


async def report(conn: psycopg.AsyncConnection, agreement_id: int, *,
                 since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
    """The usage report of one agreement (NotFound for an unknown one)."""
    agreement = await agreements.get(conn, agreement_id)
    params = {"id": int(agreement_id), "since": since, "until": until}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(BY_LAYER, params)
    layers = await cur.fetchall()
    await cur.execute(BY_DAY, params)
    days = await cur.fetchall()
    agreed = agreement["layers"]
    return {
        "agreement": agreement["id"], "agency": agreement["agency"],
        "status": agreement["status"], "since": since, "until": until,
        # what the agreement shares: the report reads against its terms
        "terms": {"layers": agreed, "communes": list(agreement["communes"] or []),
                  "purpose": agreement["purpose"], "legal_basis": agreement["legal_basis"],
                  "starts_on": agreement["starts_on"], "ends_on": agreement["ends_on"]},
        "totals": {key: sum(int(row[key] or 0) for row in layers)
                   for key in ("requests", "rows", "tiles")},
        "layers": [{**row, "fields": list(agreed.get(row["layer"]) or []),
                    "rows": int(row["rows"] or 0), "tiles": int(row["tiles"] or 0)}
                   for row in layers],
        "days": [{**row, "rows": int(row["rows"] or 0), "tiles": int(row["tiles"] or 0)}
                 for row in days],
    }
