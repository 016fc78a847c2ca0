"""``GET /planning/search?q=``: dossiers and documents (titles, decisions, the text of notes)
found with or without diacritics; exact-accent matches rank first; old and new tone-mark
placement match alike (``vntext.normalise`` on both sides)."""

from __future__ import annotations

from pathlib import Path

from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import Response

from iocgis.access import current_caller
from iocgis.api.query.params import Params
from iocgis.api.query.render import dumps, json_response
from iocgis.errors import InvalidInput
from iocgis.planning_docs import rules
from iocgis.planning_docs.vntext import normalise

SEARCH_SQL = (Path(__file__).parent / "sql" / "search.sql").read_text(encoding="utf-8")
MAX_QUERY = 200


async def search(request: Request) -> Response:
    params = Params(request.query_params, ("q", "limit", "offset"))
    q = params.required("q", "words to find, e.g. q=quy hoach chi tiet")
    if len(q) > MAX_QUERY:
        raise InvalidInput(f"q is longer than {MAX_QUERY} characters", where="q",
                           hint="search with fewer words")
    limit = params.integer("limit", default=20, low=1, high=100)
    offset = params.integer("offset", default=0, low=0, high=10_000)
    caller = current_caller()
    state = request.app.state.iocgis
    values = {"q": normalise(q), "statuses": rules.visible_statuses(caller),
              "levels": rules.readable_levels(caller), "limit": limit, "offset": offset}
    async with state.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(SEARCH_SQL, values)
        rows = await cur.fetchall()
    hits = []
    for row in rows:
        href = (f"/planning/documents/{row['document_id']}" if row["document_id"]
                else f"/planning/dossiers/{row['dossier_id']}")
        hits.append({"type": row["type"], "dossier_id": row["dossier_id"],
                     "document_id": row["document_id"], "title": row["title"],
                     "project_code": row["project_code"], "status": row["status"],
                     "kind": row["kind"], "media_type": row["media_type"],
                     "exact": row["exact"], "rank": round(float(row["rank"]), 5),
                     "snippet": row["snippet"], "href": href,
                     "dossier_href": f"/planning/dossiers/{row['dossier_id']}"})
    matched = int(rows[0]["matched"]) if rows else 0
    return json_response(dumps({"q": q, "numberMatched": matched, "numberReturned": len(hits),
                                "hits": hits}))
