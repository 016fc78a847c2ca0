"""Public statistics of citizen reports by unit, commune or category - counts, the share
answered on time, the average handling time, satisfaction - computed from the public layer
citizen.public_reports (what anyone may see, so the numbers never need a secret), and the
same numbers as KPI indicator values (``kpi.indicators`` / ``kpi.values`` rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from iocgis.access import Caller, plan_for
from iocgis.citizen.context import CitizenContext
from iocgis.citizen.definitions import PUBLIC_LAYER
from iocgis.errors import InvalidInput

GROUPS = {"unit": ("unit_code", "unit_name"), "commune": ("commune_code", None),
          "category": ("category", None), "all": (None, None)}

STATS = """
SELECT {key} AS key, {label} AS label,
       count(*) AS received,
       count(*) FILTER (WHERE answered_at IS NOT NULL) AS answered,
       count(*) FILTER (WHERE answered_at IS NOT NULL AND answered_at <= due_at) AS on_time,
       count(*) FILTER (WHERE status = 'tu_choi') AS rejected,
       count(*) FILTER (WHERE status = ANY(%(open)s) AND due_at < %(at)s) AS overdue,
       round((avg(extract(epoch FROM answered_at - reported_at)) / 86400)::numeric, 2)
           AS avg_days_to_answer,
       round(avg(rating)::numeric, 2) AS satisfaction,
       count(rating) AS rated
FROM citizen.public_reports
WHERE reported_at >= %(since)s AND reported_at < %(until)s
GROUP BY 1 ORDER BY 1 NULLS LAST
"""


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


async def statistics(context: CitizenContext, caller: Caller, by: str, since: datetime,
                     until: datetime, at: datetime) -> list[dict[str, Any]]:
    if by not in GROUPS:
        raise InvalidInput(f"unknown grouping {by[:30]!r}", where="by",
                           hint=f"use one of: {', '.join(GROUPS)}")
    key, label = GROUPS[by]
    statement = sql.SQL(STATS).format(
        key=sql.Identifier(key) if key else sql.Literal("all"),
        label=sql.SQL("min({})").format(sql.Identifier(label)) if label else sql.SQL("NULL::text"))
    plan = plan_for(caller, PUBLIC_LAYER, context.registry)
    async with context.reader.reading(plan, what="citizen statistics") as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(statement, {"open": list(context.process.workflow.open_statuses),
                                      "at": at, "since": since, "until": until})
        rows = await cur.fetchall()
    labels = _labels(context, by)
    out = []
    for row in rows:
        out.append({
            "key": row["key"], "label": row["label"] or labels.get(row["key"]),
            "received": row["received"], "answered": row["answered"],
            "answered_on_time": row["on_time"],
            "on_time_rate": _rate(row["on_time"], row["answered"]),
            "rejected": row["rejected"], "overdue": row["overdue"],
            "avg_days_to_answer": float(row["avg_days_to_answer"])
            if row["avg_days_to_answer"] is not None else None,
            "satisfaction": float(row["satisfaction"]) if row["satisfaction"] is not None
            else None,
            "rated": row["rated"]})
    return out


def _labels(context: CitizenContext, by: str) -> dict[str, str]:
    if by != "category":
        return {}
    layer = context.registry.get(PUBLIC_LAYER)
    domain = context.registry.resolve_domain(layer.field("category")) or ()
    return {c.code: c.vi for c in domain}


# --- KPI -----------------------------------------------------------------------------------

INDICATORS = (
    {"code": "PAHT_DUNG_HAN", "name": "Tỷ lệ phản ánh được trả lời đúng hạn",
     "name_en": "Citizen reports answered on time", "sector": "kinh_te_xa_hoi", "unit": "%",
     "target": 90.0, "direction": "higher_better", "stat": "on_time_rate"},
    {"code": "PAHT_HAI_LONG", "name": "Mức hài lòng bình quân với trả lời phản ánh",
     "name_en": "Average satisfaction with answers", "sector": "kinh_te_xa_hoi",
     "unit": "điểm/5", "target": 4.0, "direction": "higher_better", "stat": "satisfaction"},
    {"code": "PAHT_TIEP_NHAN", "name": "Số phản ánh tiếp nhận", "name_en": "Reports received",
     "sector": "kinh_te_xa_hoi", "unit": "phản ánh", "target": 0.0,
     "direction": "higher_better", "stat": "received"},
)


async def kpi(context: CitizenContext, caller: Caller, period: str, since: datetime,
              until: datetime, at: datetime) -> dict[str, Any]:
    """Indicator definitions and values per commune and for the province, for ``period``."""
    values = []
    province = context.state.settings.province_code
    for admin, rows in ((None, await statistics(context, caller, "commune", since, until, at)),
                        (province, await statistics(context, caller, "all", since, until, at))):
        for row in rows:
            code = admin or row["key"]
            if not code:
                continue
            for indicator in INDICATORS:
                value = row[indicator["stat"]]
                if value is not None:
                    values.append({"indicator_code": indicator["code"], "admin_code": code,
                                   "period": period, "value": value})
    return {"indicators": [{k: v for k, v in i.items() if k != "stat"} for i in INDICATORS],
            "values": values}
