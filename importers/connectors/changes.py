"""Change detection for connector runs: a run whose staged data equals the live layer is
recorded as *unchanged* — the staging table is dropped, nothing is swapped, the layer's
``data_version`` stays (tile caches stay warm) — and only confirms the layer current
(``meta.layers.last_import_at``). Any difference goes on as every import does: pending for a
steward, or live at once (the group's ``approval``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg import sql

from iocgis.importers import diff, staging
from iocgis.importers.pipeline import Importer
from iocgis.importers.staging import live_ident, staging_ident


def count_changes(conn: psycopg.Connection, importer: Importer) -> dict[str, int]:
    """Rows the staged import would add, remove and change, by kind (one statement: the
    diff's own SELECT, counted instead of stored)."""
    layer, import_id = importer.layer, importer.report.import_id
    assert import_id is not None
    conn.execute(f"SET work_mem = '{diff.WORK_MEM}'")
    statement = diff.diff_statement(layer, live_ident(layer), staging_ident(import_id),
                                    importer.options.mode)
    counts = {kind: 0 for kind in diff.KINDS}
    for kind, n in conn.execute(sql.SQL("SELECT kind, count(*) FROM ({}) d GROUP BY kind")
                                .format(statement)).fetchall():
        counts[str(kind)] = int(n)
    conn.execute("RESET work_mem")
    return counts


class ConnectorImporter(Importer):
    """The import pipeline with one more step before publishing: stop when nothing changed."""

    def _publish(self, conn: psycopg.Connection, *args: Any, **kwargs: Any) -> None:
        counts = count_changes(conn, self)
        self.report.extra["changes"] = counts
        if any(counts.values()) or self.options.mode == "append":
            super()._publish(conn, *args, **kwargs)
            return
        report = self.report
        staging.drop(conn, report.import_id)
        report.status = "unchanged"
        report.finished_at = datetime.now(UTC)
        report.note("source.unchanged", "info", "sống",
                    "the source equals the live layer: nothing to publish, the data version "
                    "stays", [])
        with conn.transaction():
            conn.execute(
                "UPDATE meta.imports SET status = 'unchanged', finished_at = now(), rows_in = %s, "
                "rows_loaded = 0, rows_fixed = %s, rows_rejected = %s, report = %s::jsonb, "
                "source_format = %s, source_checksum = %s, source_crs = %s, "
                "source_encoding = %s WHERE id = %s",
                (report.rows_in, report.rows_fixed, report.rows_rejected, report.to_json(),
                 report.source_format, report.source_checksum, report.source_crs,
                 report.source_encoding, report.import_id))
            confirm_current(conn, self.layer.id, self.options.source_date)


def confirm_current(conn: psycopg.Connection, layer_id: str, source_date: date | None = None
                    ) -> None:
    """The layer is what its source holds now: ``last_import_at`` moves (sống), the data
    version does not."""
    conn.execute("UPDATE meta.layers SET last_import_at = now(), source_date = "
                 "coalesce(%s, source_date) WHERE id = %s", (source_date, layer_id))
