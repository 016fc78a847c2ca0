""""Sống" for sensors: a datastream silent beyond its cadence raises a silent-sensor alert
(cleared when data comes back); every datastream's freshness is fresh, late (1.5 cadences
without data) or silent (``silent_after_cadences``)."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from iocgis.live.alarms import ALERT_COLUMNS

FRESHNESS_SQL = """
CASE WHEN d.last_observed_at IS NULL THEN 'silent'
     WHEN d.last_observed_at < now() - make_interval(secs => d.cadence_s * %(silent)s) THEN 'silent'
     WHEN d.last_observed_at < now() - make_interval(secs => d.cadence_s * 1.5) THEN 'late'
     ELSE 'fresh' END
"""

SILENCED = """
UPDATE live.datastreams d SET silent = true
WHERE NOT d.silent AND coalesce(d.last_observed_at, d.created_at)
      < now() - make_interval(secs => d.cadence_s * %(silent)s)
RETURNING d.id, d.station_code, d.parameter, d.last_observed_at
"""


def sweep(conn: psycopg.Connection, silent_after_cadences: float) -> tuple[list[int], list[dict]]:
    """Flag newly silent datastreams (alert each once) and refresh iot.latest's freshness.
    Returns the silenced datastream ids and the alerts raised."""
    params = {"silent": silent_after_cadences}
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(SILENCED, params)
        silenced = cur.fetchall()
        alerts = []
        for row in silenced:
            cur.execute(
                "INSERT INTO live.alerts (kind, datastream_id, station_code, parameter, "
                "commune_code, level, peak_level, observed_at, source) SELECT 'silent', "
                "%(id)s, %(station_code)s, %(parameter)s, s.commune_code, 1, 1, "
                "%(last_observed_at)s, 'cadence' FROM (SELECT 1) one LEFT JOIN iot.stations s "
                "ON s.station_code = %(station_code)s ON CONFLICT (datastream_id, kind) "
                "WHERE state <> 'cleared' DO NOTHING RETURNING " + ALERT_COLUMNS, row)
            alerts += cur.fetchall()
        cur.execute(
            "UPDATE iot.latest l SET freshness = f.freshness FROM (SELECT d.station_code, "
            "d.parameter, " + FRESHNESS_SQL + " AS freshness FROM live.datastreams d) f "
            "WHERE l.station_code = f.station_code AND l.parameter = f.parameter "
            "AND l.freshness IS DISTINCT FROM f.freshness", params)
        changed = cur.rowcount
        if changed or alerts:
            cur.execute("UPDATE meta.layers SET data_version = data_version + 1 "
                        "WHERE id = 'iot.latest'")
        if alerts:
            from iocgis.live.pipeline import alert_json
            from iocgis.live.store import notify

            notify(conn, [{"type": "alert", **alert_json(a)} for a in alerts])
    return [int(r["id"]) for r in silenced], alerts
