"""One import, start to end: resolve the file, read it in batches, transform and clean each
batch, COPY it into staging, run the cross-row checks in SQL, then publish in one transaction.

Until the publishing transaction commits, nothing the public sees changes: a failure, an
abort by a rule, or a kill -9 leaves the live layer exactly as it was.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import shapely

from iocgis.db import connect, database_url
from iocgis.errors import ImportFailed, InvalidInput, IocgisError
from iocgis.importers import derive, encodings, georef, review, staging, swap
from iocgis.importers import mapping as mappingmod
from iocgis.importers.admin_units import convert_batch
from iocgis.importers.batch import BATCH_SIZE, FeatureBatch, Reader, SourceInfo, read_ahead
from iocgis.importers.fields import coerce
from iocgis.importers.geometry import clean
from iocgis.importers.options import ImportOptions
from iocgis.importers.report import ImportReport
from iocgis.importers.sources import Dataset, resolve
from iocgis.layers import LayerDef, Registry, get_registry
from iocgis.ops import metrics
from iocgis.settings import Settings, get_settings
from iocgis.tiles import generalised

Progress = Callable[[dict[str, Any]], None]
LOCK_NAMESPACE = 7_510_001  # advisory lock class for "an import of layer X is running"
LOCK_GRACE_S = 5.0  # how long a new import waits for the lock of one that just died


def open_reader(dataset: Dataset, options: ImportOptions, layer: LayerDef,
                mapping: mappingmod.Mapping) -> Reader:
    if dataset.format in ("CSV", "XLSX"):
        from iocgis.importers.read_table import TableReader

        return TableReader(dataset, options, layer, mapping)
    if dataset.format == "DXF":
        from iocgis.importers.read_dxf import DxfReader

        return DxfReader(dataset, options, layer, mapping)
    from iocgis.importers.read_vector import VectorReader

    return VectorReader(dataset, options, layer)


def reference_area(conn: psycopg.Connection, registry: Registry, layer: LayerDef,
                   settings: Settings, report: ImportReport) -> georef.ReferenceArea:
    """The province polygon (buffered ~1 km for boundary imprecision) or Vietnam's box."""
    from psycopg import sql

    try:
        province_layer = registry.admin_layer("province")
    except IocgisError:
        province_layer = None
    if province_layer is not None and province_layer.id != layer.id and province_layer.key:
        row = conn.execute(sql.SQL(
            "SELECT ST_AsBinary(ST_Buffer(ST_Union(geom), 0.01)) FROM {} WHERE {} = %s").format(
                sql.Identifier(province_layer.schema_name, province_layer.table_name),
                sql.Identifier(province_layer.key[0])), (settings.province_code,)).fetchone()
        if row and row[0]:
            return georef.ReferenceArea(shapely.from_wkb(bytes(row[0])),
                                        f"province {settings.province_code}", True)
    report.note("province.not_loaded", "info", "đúng",
                "inside-province check skipped: "
                f"{province_layer.id if province_layer else 'the province layer'} "
                f"has no row {settings.province_code}; checked against Vietnam's extent only")
    return georef.vietnam()


def _extras(batch: FeatureBatch, names: list[str]) -> pa.Array:
    """The `extra` JSONB column: source fields without a registry field, as JSON text."""
    if not names:
        return pa.nulls(len(batch), pa.string())
    cols = {}
    for name in names:
        column = batch.columns[name]
        if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type) \
                or pa.types.is_time(column.type):
            column = column.cast(pa.string())
        elif pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            continue
        cols[name] = column.to_pylist()
    out: list[str | None] = []
    for i in range(len(batch)):
        row = {k: v[i] for k, v in cols.items() if v[i] is not None and v[i] == v[i]}
        out.append(json.dumps(row, ensure_ascii=False, default=str) if row else None)
    return pa.array(out, pa.string())


@dataclass(frozen=True)
class LoadPlan:
    """What the plan phase decided: the open reader, the source CRS and reference area, and
    where each registry field comes from (the file, a constant, a conversion or a derivation)."""

    reader: Reader
    info: SourceInfo
    src: Any
    area: georef.ReferenceArea | None
    fields: mappingmod.FieldPlan
    codes: dict[str, tuple[str, ...] | None]


def _empty(dataset: Dataset) -> ImportFailed:
    return ImportFailed(f"{dataset.name} holds no features", where=dataset.name,
                        hint="check that you exported the right layer; the live layer is unchanged")


class Importer:
    """The state of one running import (kept small; the batches stream through it)."""

    def __init__(self, path: str | Path, layer_id: str, options: ImportOptions, *,
                 url: str | None, settings: Settings | None, progress: Progress | None,
                 registry: Registry | None = None) -> None:
        self.path = Path(path)
        self.options = options
        self.settings = settings or get_settings()
        self.url = url or database_url(self.settings)
        self.registry = registry or get_registry()
        self.layer = self.registry.get(layer_id)
        report_progress = progress or (lambda event: None)
        self.progress: Progress = lambda event: report_progress(
            {**event, "import_id": self.report.import_id})
        self.report = ImportReport(import_id=None, layer_id=self.layer.id, mode=options.mode,
                                   dry_run=options.dry_run, source_path=str(path),
                                   user=options.user, source_date=options.source_date,
                                   started_at=datetime.now(UTC))

    # -- bookkeeping in meta.imports ------------------------------------------------------
    def _begin(self, conn: psycopg.Connection) -> int:
        row = conn.execute(
            "INSERT INTO meta.imports (layer_id, mode, status, dry_run, source_path, user_name, "
            "source_date) VALUES (%s, %s, 'running', %s, %s, %s, %s) RETURNING id",
            (self.layer.id, self.options.mode, self.options.dry_run, str(self.path),
             self.options.user, self.options.source_date)).fetchone()
        assert row is not None
        return int(row[0])

    def _lock(self, conn: psycopg.Connection) -> None:
        # A killed import's server session ends a moment after its process (the server must
        # notice the closed socket and roll back): give it a few seconds before refusing.
        deadline = time.monotonic() + LOCK_GRACE_S
        while True:
            got = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                               (LOCK_NAMESPACE, self.layer.id)).fetchone()
            if (got and got[0]) or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        if not got or not got[0]:
            raise ImportFailed(f"another import of {self.layer.id} is running", where=self.layer.id,
                               hint="wait for it to finish (see `iocgis import history "
                                    f"{self.layer.id}`), then run again")
        # Whatever is still 'running' for this layer died with its process: clean it up.
        dead = conn.execute("UPDATE meta.imports SET status = 'interrupted', finished_at = now(), "
                            "error = 'the import process stopped before finishing' "
                            "WHERE layer_id = %s AND status = 'running' RETURNING id",
                            (self.layer.id,)).fetchall()
        for (dead_id,) in dead:
            staging.drop(conn, int(dead_id))

    def _record_failure(self, conn: psycopg.Connection, status: str, error: BaseException) -> None:
        self.report.status = status
        self.report.error = str(error)
        self.report.finished_at = datetime.now(UTC)
        conn.execute(
            "UPDATE meta.imports SET status = %s, finished_at = now(), error = %s, rows_in = %s, "
            "rows_loaded = 0, rows_fixed = %s, rows_rejected = %s, report = %s::jsonb, "
            "source_format = %s, source_checksum = %s, source_crs = %s, source_encoding = %s "
            "WHERE id = %s",
            (status, str(error)[:4000], self.report.rows_in, self.report.rows_fixed,
             self.report.rows_rejected, self.report.to_json(), self.report.source_format,
             self.report.source_checksum, self.report.source_crs, self.report.source_encoding,
             self.report.import_id))

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> ImportReport:
        if self.options.mode == "upsert" and not self.layer.key:
            raise InvalidInput(f"layer {self.layer.id} has no key, so it cannot be upserted",
                               where="--mode", hint="use --mode replace or --mode append")
        started = time.monotonic()
        with connect(self.url, autocommit=True) as conn:
            self._lock(conn)
            self.report.import_id = self._begin(conn)
            dataset: Dataset | None = None
            try:
                if not self.options.dry_run:  # one pending import per layer (review.py)
                    review.refuse_if_pending(conn, self.layer)
                dataset = resolve(self.path)
                self._load(conn, dataset)
            except BaseException as exc:
                status = "aborted" if isinstance(exc, (ImportFailed, InvalidInput)) else "failed"
                if isinstance(exc, KeyboardInterrupt):
                    status = "interrupted"
                try:
                    if dataset is not None:
                        self.report.source_checksum = dataset.checksum
                    staging.drop(conn, self.report.import_id)
                    self._record_failure(conn, status, exc)
                except psycopg.Error:
                    pass  # the connection itself failed; the next import cleans up
                raise
            finally:
                # the status the run recorded: loaded, dry_run, pending, aborted, failed...
                metrics.import_finished(self.report.status, time.monotonic() - started)
                if dataset is not None:
                    dataset.cleanup()
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                             (LOCK_NAMESPACE, self.layer.id))
        return self.report

    def _load(self, conn: psycopg.Connection, dataset: Dataset) -> None:
        """The phases of one load; each raises to abort, leaving the live layer unchanged."""
        load = self._plan(conn, dataset)
        writer = self._stage(conn, dataset, load)
        deleted = self._verify(conn, dataset, load, writer)
        if self.options.dry_run:
            self._finish_dry_run(conn)
            return
        self._publish(conn, load, writer, deleted)

    # -- plan: what the file holds and where each field comes from ---------------------------
    def _plan(self, conn: psycopg.Connection, dataset: Dataset) -> LoadPlan:
        report, layer = self.report, self.layer
        mapping = mappingmod.load(self.options.mapping, layer)
        options = self.options
        if mapping.crs and not options.crs:
            options = options.with_(crs=mapping.crs)
        if mapping.encoding and not options.encoding:
            options = options.with_(encoding=mapping.encoding)
        if mapping.source_layer and not options.source_layer:
            options = options.with_(source_layer=mapping.source_layer)
        encodings.canonical(options.encoding)  # fail early on an unknown name
        report.source_format = dataset.format
        if dataset.format == "GeoTIFF":
            raise InvalidInput(f"{dataset.name} is a raster; rasters are not loaded into vector "
                               f"layer {layer.id}", where=dataset.name,
                               hint="import it with `iocgis import FILE.tif --layer raster.NAME`")
        reader = open_reader(dataset, options, layer, mapping)
        info = reader.info
        report.source_encoding = info.encoding
        for rule, message in info.notes:
            report.note(rule, "info", "đúng", message)
        if info.count == 0:
            raise _empty(dataset)
        src = area = None
        if layer.is_spatial:  # a table without geometry (observations, indicators) needs no CRS
            src = georef.source_crs(info.crs, options.crs, dataset.name, dataset.format)
            report.source_crs = georef.describe(src)
            area = reference_area(conn, self.registry, layer, self.settings, report)
        reserved = set(getattr(reader, "reserved_columns", set()))
        fields = mappingmod.plan(info.fields, layer, mapping, reserved)
        if fields.extras:
            report.note("fields.extra", "info", "đủ",
                        f"source fields kept in `extra`: {', '.join(fields.extras[:20])}")
        derive.refuse_under_upsert(layer, fields.derived, options.mode, dataset.name)
        unfilled = [f.name for f in layer.fields if f.required and f.name not in fields.sources
                    and f.name not in fields.constants and f.name not in fields.derived
                    and f.name not in fields.converted]
        if unfilled:
            raise ImportFailed(
                f"{dataset.name} has no field for the required field(s) {', '.join(unfilled)} of "
                f"{layer.id}", where=dataset.name,
                hint=f"map its fields in a mapping file (--mapping; fields: SOURCE: TARGET); its "
                     f"fields are: {', '.join(info.fields[:30]) or '(none)'}")
        self.options = options
        codes = {f.name: self.registry.domain_codes(f) for f in layer.fields}
        return LoadPlan(reader, info, src, area, fields, codes)

    # -- stage: stream the batches into the staging table ------------------------------------
    def _stage(self, conn: psycopg.Connection, dataset: Dataset,
               load: LoadPlan) -> staging.StagingWriter:
        report, options, info = self.report, self.options, load.info
        self.progress({"phase": "reading", "done": 0, "total": info.count})
        staging.create(conn, self.layer, report.import_id, unlogged=options.dry_run)
        derive.prepare(conn, report.import_id, load.fields.derived)
        writer = staging.StagingWriter(conn, self.layer, report.import_id)
        first = True
        failure: BaseException | None = None
        batches = read_ahead(load.reader.batches(BATCH_SIZE))
        try:
            for batch in batches:
                if first and load.src is not None and load.area is not None:
                    georef.check_placement(batch.geoms, load.src, load.area, dataset.name,
                                           options.swap_xy)
                first = False
                self._batch(batch, load.src, load.area, load.fields, load.codes, writer,
                            info.feature_word)
                self.progress({"phase": "loading", "done": report.rows_in, "total": info.count})
        except BaseException as exc:
            failure = exc
            raise
        finally:
            batches.close()  # stops the reading thread when the loop ended early
            writer.close(failure)
        if report.rows_in == 0:
            raise _empty(dataset)
        return writer

    # -- verify: derivations and the checks across rows, in SQL on staging -------------------
    def _verify(self, conn: psycopg.Connection, dataset: Dataset, load: LoadPlan,
                writer: staging.StagingWriter) -> int:
        """Returns how many staged rows were deleted (the writer's counts no longer hold)."""
        report, layer, options = self.report, self.layer, self.options
        derived = load.fields.derived
        deleted = derive.apply(conn, layer, report.import_id, derived, self.registry,
                               report, options.mode)
        deleted += self._cross_checks(conn, writer,
                                      derived_key=any(k in derived for k in layer.key))
        self._commune_scope(conn)
        aborting = [f for f in report.findings if f.severity == "abort"]
        if aborting:
            first_abort = aborting[0]
            raise ImportFailed(f"{dataset.name}: {first_abort.message} "
                               f"({load.info.feature_word}s "
                               f"{', '.join(map(str, first_abort.feature_ids[:5]))})",
                               where=dataset.name, hint=_hint_for(first_abort.rule, layer))
        if report.rows_rejected and report.rows_rejected / report.rows_in > options.max_rejected:
            raise ImportFailed(self._rejection_message(dataset, load.info.feature_word),
                               where=dataset.name,
                               hint="fix these features in the source and import again, or accept "
                                    "losing them with --max-rejected (e.g. --max-rejected 0.05); "
                                    "see the report for every finding")
        report.rows_loaded = report.rows_in - report.rows_rejected
        report.source_checksum = dataset.checksum
        if report.rows_loaded == 0:
            raise ImportFailed(f"no feature of {dataset.name} passed the checks",
                               where=dataset.name, hint="see the findings in the report")
        report.finished_at = datetime.now(UTC)
        return deleted

    def _finish_dry_run(self, conn: psycopg.Connection) -> None:
        report = self.report
        staging.drop(conn, report.import_id)
        report.status = "dry_run"
        conn.execute(
            "UPDATE meta.imports SET status = 'dry_run', finished_at = now(), rows_in = %s, "
            "rows_loaded = %s, rows_fixed = %s, rows_rejected = %s, report = %s::jsonb, "
            "source_format = %s, source_checksum = %s, source_crs = %s, source_encoding = %s "
            "WHERE id = %s",
            (report.rows_in, report.rows_loaded, report.rows_fixed, report.rows_rejected,
             report.to_json(), report.source_format, report.source_checksum,
             report.source_crs, report.source_encoding, report.import_id))

    # -- publish: indexes, then pending review or the swap into the live layer ---------------
    def _publish(self, conn: psycopg.Connection, load: LoadPlan, writer: staging.StagingWriter,
                 deleted: int) -> None:
        report, options, layer = self.report, self.options, self.layer
        total = load.info.count
        self.progress({"phase": "indexing", "done": report.rows_in, "total": total})
        if options.mode == "replace" and options.communes and layer.commune_field:
            kept = staging.keep_other_communes(conn, layer, report.import_id,
                                               layer.commune_field, options.communes)
            report.note("scope.kept", "info", "đủ",
                        f"{kept} rows of other communes kept: a replace by an officer limited "
                        f"to {', '.join(options.communes)} replaces only their rows", [])
            deleted += 1 if kept else 0  # the staged rows are no longer what was written
        if options.mode == "replace":
            # the tile-ready copy (iocgis.tiles.generalised), built beside the indexes
            copy_built = generalised.start_staged(
                conn, self.url, layer, report.import_id, staging.staging_ident(report.import_id)
            ) if self.settings.tiles.copies else (lambda: None)
            try:
                staging.build_indexes(conn, layer, report.import_id, self.url)
            finally:
                copy_built()
        conn.execute(
            "UPDATE meta.imports SET source_format = %s, source_checksum = %s, source_crs = %s, "
            "source_encoding = %s WHERE id = %s",
            (report.source_format, report.source_checksum, report.source_crs,
             report.source_encoding, report.import_id))
        if review.needs_approval(self.registry, layer, options, self.settings):
            self.progress({"phase": "reviewing", "done": report.rows_in, "total": total})
            report.finished_at = datetime.now(UTC)
            review.submit(conn, layer, report, options, self.settings)
            self.progress({"phase": "pending", "done": report.rows_in, "total": total})
            return
        self.progress({"phase": "publishing", "done": report.rows_in, "total": total})
        report.status = "loaded"
        known = None
        if not deleted and not layer.temporal and writer.bounds is not None:
            # what the staging table holds is what was written: no need to scan it again
            known = {"row_count": writer.rows, "extent": shapely.to_wkb(shapely.box(
                *writer.bounds).buffer(1e-7, join_style="mitre")), "temporal_min": None,
                "temporal_max": None}
        report.data_version = swap.make_live(
            conn, layer, report.import_id, options.mode, options.source_date,
            options.keep_versions,
            {"report": report.as_dict(), "rows_in": report.rows_in,
             "rows_loaded": report.rows_loaded, "rows_fixed": report.rows_fixed,
             "rows_rejected": report.rows_rejected}, known)
        report.finished_at = datetime.now(UTC)
        self.progress({"phase": "done", "done": report.rows_in, "total": total})

    def _rejection_message(self, dataset: Dataset, word: str) -> str:
        report = self.report
        rejects = [f for f in report.findings if f.severity == "reject"]
        details = "; ".join(
            f"{f.message} ({f.count} {word}{'s' if f.count != 1 else ''}, e.g. {word} "
            f"{f.feature_ids[0] if f.feature_ids else '?'}"
            + (f", value {f.example}" if f.example else "") + ")" for f in rejects[:3])
        return (f"{report.rows_rejected} of {report.rows_in} {word}s of {dataset.name} were "
                f"rejected: {details}")

    def _batch(self, batch: FeatureBatch, src: Any, area: georef.ReferenceArea | None,
               plan: mappingmod.FieldPlan, codes: dict[str, tuple[str, ...] | None],
               writer: staging.StagingWriter, word: str) -> None:
        report, layer = self.report, self.layer
        n = len(batch)
        report.rows_in += n
        known_bad = np.zeros(n, dtype=bool)
        for rule, severity, message, mask, field_name, example in batch.problems:
            report.note(rule, severity, "đúng", message, batch.fids[mask], field_name,  # type: ignore[arg-type]
                        example=example)
            if severity == "reject":
                known_bad |= mask
        for rule, message in batch.notes:
            report.note(rule, "fix", "đúng", message, count=n)
        footprints = None
        unchanged = None  # rows whose geometry is still the one read (its WKB is reused)
        if layer.geometry is not None:
            with np.errstate(all="ignore"):
                geoms = georef.to_wgs84(batch.geoms, src, self.options.swap_xy)
            cleaned = clean(geoms, layer, batch.fids, report, area, word, known_bad)
            geoms, footprints = cleaned.geoms, cleaned.footprints
            rejected, fixed = cleaned.rejected, cleaned.fixed
            if batch.wkb is not None:
                unchanged = np.fromiter((a is b for a, b in zip(geoms, batch.geoms,
                                                                strict=True)), bool, n)
        else:
            geoms, rejected, fixed = None, known_bad.copy(), np.zeros(n, dtype=bool)
        values: dict[str, pa.Array] = {}
        converted: dict[str, pa.Array] = {}
        refused = np.zeros(n, dtype=bool)
        if plan.converted:  # pre-2025 administrative units -> current codes
            converted, refused, changed = convert_batch(plan.converted, batch.columns,
                                                        batch.fids, report)
            rejected |= refused
            fixed |= changed
        for field in layer.fields:
            if field.name in plan.derived:  # filled in SQL on the staging table (derive.py)
                values[field.name] = pa.nulls(n, pa.string())
                continue
            source = plan.sources.get(field.name)
            column = batch.columns.get(source) if source else converted.get(field.name)
            if column is None and field.name in plan.constants:
                column = pa.array([plan.constants[field.name]] * n)
            result = coerce(field, column, n, codes[field.name], batch.fids, report, source,
                            refused if field.name in converted else None)
            values[field.name] = result.values
            rejected |= result.rejected
            fixed |= result.fixed
        report.rows_rejected += int(rejected.sum())
        report.rows_fixed += int((fixed & ~rejected).sum())
        keep = ~rejected
        if not keep.any():
            return
        if not keep.all():
            mask = pa.array(keep)
            values = {k: v.filter(mask) for k, v in values.items()}
            batch = FeatureBatch(batch.fids[keep], batch.geoms[keep],
                                 {k: v.filter(mask) for k, v in batch.columns.items()},
                                 wkb=batch.wkb.filter(mask) if batch.wkb is not None else None)
            geoms = geoms[keep] if geoms is not None else None
            footprints = footprints[keep] if footprints is not None else None
            unchanged = unchanged[keep] if unchanged is not None else None
        extras = _extras(batch, plan.extras)
        writer.write(batch.fids, values, extras, geoms, self.options.source_date, footprints,
                     (batch.wkb, unchanged) if batch.wkb is not None and unchanged is not None
                     else None)

    def _commune_scope(self, conn: psycopg.Connection) -> None:
        """An officer limited to some communes imports only their rows (any mode)."""
        communes, layer = self.options.communes, self.layer
        if not communes:
            return
        if layer.commune_field is None:
            raise ImportFailed(f"{layer.id} is shared by every commune; an officer limited to "
                               f"{', '.join(communes)} cannot import it", where=layer.id,
                               hint="ask an officer of the province (no commune limit)")
        fids, others = staging.outside_communes(conn, self.report.import_id, layer.commune_field,
                                                communes)
        if fids:
            named = ", ".join(others[:10]) or "none"
            self.report.note("scope.commune", "abort", "đúng",
                             f"{len(fids)} features are not of your communes "
                             f"({', '.join(communes)}): {layer.commune_field} is {named}", fids,
                             example=others[0] if others else None)

    def _cross_checks(self, conn: psycopg.Connection, writer: staging.StagingWriter, *,
                      derived_key: bool = False) -> int:
        """sạch: duplicate keys and geometries across the whole file, in SQL on staging.
        Returns how many staged rows were deleted."""
        report, layer, mode = self.report, self.layer, self.options.mode
        import_id = report.import_id
        deleted = 0
        # the writer saw no generated key (they are written in SQL afterwards)
        dups = staging.duplicate_keys(conn, layer, import_id) \
            if writer.may_repeat_keys() or derived_key else []
        if dups:
            key = ", ".join(layer.key)
            if mode == "upsert":
                report.note("key.duplicate", "abort", "sạch",
                            f"key ({key}) appears more than once, so the upsert is ambiguous",
                            [d[0] for d in dups],
                            example=f"feature {dups[0][0]} repeats feature {dups[0][1]}")
            else:
                report.note("key.duplicate", "reject", "sạch",
                            f"key ({key}) repeats an earlier feature",
                            [d[0] for d in dups],
                            example=f"feature {dups[0][0]} repeats feature {dups[0][1]}")
                report.rows_rejected += len(dups)
                staging.delete_fids(conn, import_id, [d[0] for d in dups])
                deleted += len(dups)
        if mode == "append":
            clash = staging.keys_in_live(conn, layer, import_id)
            if clash:
                report.note("key.exists", "reject", "sạch",
                            f"key ({', '.join(layer.key)}) is already in the live layer "
                            "(use --mode upsert to update it)", clash)
                report.rows_rejected += len(clash)
                staging.delete_fids(conn, import_id, clash)
                deleted += len(clash)
        geo_dups = staging.duplicate_geometries(conn, import_id) \
            if writer.may_repeat_geometries() else []
        if geo_dups:
            report.note("geometry.duplicate", "warn", "sạch",
                        "geometry identical to an earlier feature's", [d[0] for d in geo_dups],
                        example=f"feature {geo_dups[0][0]} repeats feature {geo_dups[0][1]}")
        return deleted


def _hint_for(rule: str, layer: LayerDef) -> str:
    if rule == "scope.commune":
        return ("keep only your communes' features in the file (the live layer is unchanged), "
                "or ask an officer of the province to import it")
    if rule == "key.duplicate":
        return (f"each ({', '.join(layer.key)}) may appear once in an upsert: remove or merge the "
                "repeated features, then import again")
    return "fix the source and import again; the live layer is unchanged"


def import_path(path: str | Path, layer_id: str, options: ImportOptions | None = None, *,
                url: str | None = None, progress: Progress | None = None,
                settings: Settings | None = None) -> ImportReport:
    """Import one dataset (a file, a folder or a .zip) into a registry layer."""
    options = options or ImportOptions()
    started = time.monotonic()
    if Path(path).suffix.lower() in (".tif", ".tiff") or layer_id.startswith("raster."):
        from iocgis.importers.raster import import_raster

        return import_raster(path, layer_id, options, url=url, settings=settings,
                             progress=progress)
    report = Importer(path, layer_id, options, url=url, settings=settings,
                      progress=progress).run()
    report.extra.setdefault("seconds", round(time.monotonic() - started, 3))
    return report
