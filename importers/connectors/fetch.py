"""Pull one source into a local file the import pipeline reads like any officer's file.

- ``ogcapi`` / ``wfs`` / ``arcgis``: GDAL's OAPIF, WFS and ESRIJSON drivers through pyogrio's
  Arrow stream (GDAL pages: OAPIF's ``next`` links, WFS ``STARTINDEX``/``COUNT``, ArcGIS
  ``resultOffset``/``resultRecordCount``), each batch appended to a GeoPackage; incremental
  pulls ask ArcGIS ``where field > TIMESTAMP``, OGC API ``datetime=<since>/..``, WFS a
  ``PropertyIsGreaterThan`` filter;
- ``postgis``: a server-side cursor on the remote table or view, batches appended the same way;
- ``file_url``: the file streamed to disk, refused beyond ``max_bytes``.

Memory holds one page at a time whatever the source's size. GDAL's HTTP settings
(credentials, time-out, retries) are process-wide: one GDAL pull runs at a time (a lock).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import psycopg
import pyarrow as pa
import pyogrio
from psycopg import sql
from pyogrio.raw import open_arrow, write_arrow

from iocgis.errors import InvalidInput, TemporarilyUnavailable
from iocgis.importers.connectors.definitions import Credentials
from iocgis.importers.connectors.model import SourceDef
from iocgis.importers.read_vector import GDAL_ERRORS

LAYER = "data"  # the layer name of the GeoPackage a pull writes
_GDAL_LOCK = threading.Lock()
RETRIED = "the live layer is unchanged; the run is retried with back-off"
FILE_EXTENSIONS = {"geojson": ".geojson", "csv": ".csv", "zip": ".zip", "gpkg": ".gpkg"}
RETRY_STATUSES = {429, 502, 503, 504}  # as GDAL's GDAL_HTTP_MAX_RETRY
RETRY_DELAY_S = 1.0


def unavailable(message: str, where: str, hint: str = RETRIED) -> TemporarilyUnavailable:
    """The source could not be read (down, refused, malformed): a later run may succeed."""
    return TemporarilyUnavailable(message, where=where, hint=hint, retry_after_s=60)


def fetch(source: SourceDef, credentials: Credentials, workdir: Path,
          since: str | None = None) -> Path | None:
    """The source's data as a file in ``workdir``; with ``since`` only the rows edited after
    it (None when there are none)."""
    if source.kind == "file_url":
        return _download(source, credentials, workdir)
    target = workdir / f"{source.id}.gpkg"
    if source.kind == "postgis":
        _copy_postgis(source, credentials, target, since)
    elif source.kind == "arcgis":
        _copy_arcgis(source, credentials, target, since)
    else:
        _copy_gdal(source, credentials, target, since)
    if not target.exists():
        if since:
            return None
        raise unavailable(f"source {source.id} returned no features", source.url,
                          "check the source holds data (the live layer is unchanged)")
    return target


# -- GDAL (OGC API - Features, WFS, ArcGIS REST) ------------------------------------------------

def _gdal_dsn(source: SourceDef, credentials: Credentials, since: str | None
              ) -> tuple[str, str | None, dict[str, Any]]:
    """The GDAL connection string, the layer and the open options of a source."""
    if source.kind == "ogcapi":
        options = {"PAGE_SIZE": str(source.page_size)}
        if since and source.incremental:  # OGC API - Features 7.15.4: an open interval
            options["DATETIME"] = f"{_rfc3339(since)}/.."
        return f"OAPIF:{source.url}", source.collection, options
    if source.kind == "wfs":
        return f"WFS:{source.url}", source.collection, {}  # paging: _gdal_http
    # ArcGIS REST: the layer's query; GDAL follows exceededTransferLimit with resultOffset
    parts = urlsplit(source.url.rstrip("/"))
    path = parts.path if parts.path.endswith("/query") else parts.path + "/query"
    where = "1=1"
    if since and source.incremental:
        where = f"{source.incremental.field} > TIMESTAMP '{_arcgis_time(since)}'"
    query = {**dict(parse_qsl(parts.query)), "where": where, "outFields": "*", "f": "json",
             "returnGeometry": "true", "resultRecordCount": str(source.page_size)}
    query.setdefault("orderByFields", "OBJECTID ASC")
    if credentials.token:
        query["token"] = credentials.token
    url = urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))
    return f"ESRIJSON:{url}", None, {"FEATURE_SERVER_PAGING": "YES"}


def _rfc3339(since: str) -> str:
    """The high-water mark in UTC to the second (an interval's start is inclusive: the rows
    of that second come again, and the upsert finds them unchanged)."""
    moment = datetime.fromisoformat(since)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _arcgis_time(since: str) -> str:
    """ArcGIS compares dates in UTC (``TIMESTAMP 'YYYY-MM-DD HH:MI:SS'``)."""
    return _rfc3339(since)[:19].replace("T", " ")


@contextmanager
def _gdal_http(source: SourceDef, credentials: Credentials, workdir: Path) -> Iterator[None]:
    """GDAL's HTTP options for one pull (credentials, time-out, retries), then cleared.

    Extra headers (an API key; a token as ``Authorization: Bearer``) go through a header file
    in the run's private folder: the OAPIF driver sends its own ``Accept`` header, which
    replaces ``GDAL_HTTP_HEADERS`` (measured with GDAL 3.12), while ``GDAL_HTTP_HEADER_FILE``
    is read by every driver."""
    options: dict[str, Any] = {"GDAL_HTTP_TIMEOUT": str(int(source.timeout_s)),
                               "GDAL_HTTP_MAX_RETRY": str(0 if source.kind == "arcgis"
                                                          else source.http_retries),
                               "GDAL_HTTP_RETRY_DELAY": "1",
                               "GDAL_HTTP_USERPWD": None, "GDAL_HTTP_AUTH": None,
                               "GDAL_HTTP_HEADERS": None, "GDAL_HTTP_HEADER_FILE": None}
    if credentials.username is not None:
        options["GDAL_HTTP_USERPWD"] = f"{credentials.username}:{credentials.password or ''}"
        options["GDAL_HTTP_AUTH"] = "BASIC"
    if source.kind == "wfs":  # the WFS driver reads its page size from here
        options.update(OGR_WFS_PAGING_ALLOWED="ON", OGR_WFS_PAGE_SIZE=str(source.page_size))
    headers = dict(credentials.headers)
    if credentials.token and source.kind != "arcgis":  # ArcGIS takes it as a parameter
        headers.setdefault("Authorization", f"Bearer {credentials.token}")
    header_file = workdir / "http-headers.txt"
    if headers:
        header_file.touch(mode=0o600)
        header_file.write_text("".join(f"{k}: {v}\n" for k, v in headers.items()),
                               encoding="utf-8")
        options["GDAL_HTTP_HEADER_FILE"] = str(header_file)
    with _GDAL_LOCK:
        pyogrio.set_gdal_config_options(options)
        try:
            yield
        finally:
            pyogrio.set_gdal_config_options(dict.fromkeys(options))
            header_file.unlink(missing_ok=True)


def _copy_gdal(source: SourceDef, credentials: Credentials, target: Path,
               since: str | None) -> None:
    dsn, layer, open_options = _gdal_dsn(source, credentials, since)
    if source.kind == "wfs" and since and source.incremental:
        # GDAL turns the attribute filter into the GetFeature's FES filter (server side)
        open_options["where"] = f"{source.incremental.field} > '{_rfc3339(since)}'"
    appended = False
    try:
        with _gdal_http(source, credentials, target.parent), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with open_arrow(dsn, layer=layer, batch_size=source.page_size, use_pyarrow=True,
                            **open_options) as (meta, stream):
                geometry = meta.get("geometry_name") or "wkb_geometry"
                for batch in stream:
                    if batch.num_rows == 0:
                        continue
                    table = pa.Table.from_batches([batch])
                    _append(target, table, geometry if geometry in table.column_names else None,
                            meta.get("crs"), appended)
                    appended = True
    except GDAL_ERRORS as exc:
        raise _unavailable(source, exc) from exc


def _copy_arcgis(source: SourceDef, credentials: Credentials, target: Path,
                 since: str | None) -> None:
    """The pull again from the start after a failure, up to ``http_retries`` times: GDAL's
    ESRIJSON driver asks again on a 503 but then fails the open all the same (GDAL 3.12;
    OSGeo/gdal#12081), so its own retries are off and the whole pull is retried here."""
    for attempt in range(source.http_retries + 1):
        try:
            _copy_gdal(source, credentials, target, since)
            return
        except TemporarilyUnavailable:
            target.unlink(missing_ok=True)
            if attempt == source.http_retries:
                raise
            time.sleep(RETRY_DELAY_S * 2 ** attempt)


def _unavailable(source: SourceDef, exc: BaseException) -> TemporarilyUnavailable:
    text = str(exc).strip().splitlines()
    detail = text[0][:300] if text else type(exc).__name__
    # GDAL may quote the URL it requested: never show a token that came from the secrets
    detail = detail.split("token=")[0] + ("token=…" if "token=" in detail else "")
    return unavailable(f"source {source.id} ({source.kind}) cannot be read: {detail}",
                       source.url)


def _append(target: Path, table: pa.Table, geometry: str | None, crs: str | None,
            append: bool) -> None:
    write_arrow(table, str(target), layer=LAYER, driver="GPKG", geometry_name=geometry,
                geometry_type="Unknown" if geometry else None, crs=crs if geometry else None,
                append=append)


# -- a remote PostGIS table or view -------------------------------------------------------------

def _conninfo(source: SourceDef, credentials: Credentials) -> str:
    extra: dict[str, Any] = {"connect_timeout": max(1, int(source.timeout_s)),
                             "application_name": f"iocgis source {source.id}"}
    if credentials.username is not None:
        extra["user"] = credentials.username
    if credentials.password is not None:
        extra["password"] = credentials.password
    return psycopg.conninfo.make_conninfo(source.url, **extra)


def _copy_postgis(source: SourceDef, credentials: Credentials, target: Path,
                  since: str | None) -> None:
    assert source.table is not None
    table = sql.Identifier(*source.table.split(".", 1))
    geometry = source.geometry_column
    try:
        with psycopg.connect(_conninfo(source, credentials)) as conn:
            conn.read_only = True
            columns = [r[0] for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum", (source.table,)).fetchall()]
            if not columns:
                raise unavailable(f"source {source.id}: {source.table} does not exist or is "
                                  "not readable", source.table,
                                  "check the table name and the account's grants")
            has_geometry = geometry in columns
            fields = [c for c in columns if c != geometry]
            srid = None
            if has_geometry:
                row = conn.execute(sql.SQL("SELECT Find_SRID({}, {}, {})").format(
                    *map(sql.Literal, (*source.table.split(".", 1), geometry)))).fetchone()
                srid = int(row[0]) if row and row[0] else None
            select: list[sql.Composable] = [sql.Identifier(c) for c in fields]
            if has_geometry:
                select.append(sql.SQL("ST_AsBinary({}) AS {}").format(
                    sql.Identifier(geometry), sql.Identifier(geometry)))
            where: sql.Composable = sql.SQL("")
            params: list[Any] = []
            if since and source.incremental:
                where = sql.SQL(" WHERE {} > %s").format(sql.Identifier(source.incremental.field))
                params.append(datetime.fromisoformat(since))
            query = sql.SQL("SELECT {} FROM {}{}").format(sql.SQL(", ").join(select), table,
                                                          where)
            appended = False
            with conn.cursor(name=f"iocgis_source_{source.id}") as cur:  # server-side
                cur.itersize = source.page_size
                cur.execute(query, params)
                while rows := cur.fetchmany(source.page_size):
                    names = fields + ([geometry] if has_geometry else [])
                    arrow = pa.table({name: _column([r[i] for r in rows])
                                      for i, name in enumerate(names)})
                    _append(target, arrow, geometry if has_geometry else None,
                            f"EPSG:{srid}" if srid else None, appended)
                    appended = True
    except psycopg.Error as exc:
        raise _unavailable(source, exc) from exc


def _column(values: list[Any]) -> pa.Array:
    """A column for the GeoPackage: numerics as float, dates and times as they are."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, Decimal):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if isinstance(sample, (bytes, memoryview)):
        return pa.array([None if v is None else bytes(v) for v in values], pa.binary())
    if isinstance(sample, (dict, list)):
        import json

        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False)
                         for v in values], pa.string())
    if sample is None:
        return pa.nulls(len(values), pa.string())
    if not isinstance(sample, (str, int, float, bool, date, datetime)):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.array(values)


# -- a file at a URL ------------------------------------------------------------------------------

def _download(source: SourceDef, credentials: Credentials, workdir: Path) -> Path:
    suffix = FILE_EXTENSIONS[source.format] if source.format else \
        Path(urlsplit(source.url).path).suffix.lower()
    if suffix not in FILE_EXTENSIONS.values():
        raise InvalidInput(f"source {source.id}: cannot tell the format of {source.url}",
                           where=source.url, hint="name it: format: geojson | csv | zip | gpkg")
    target = workdir / f"{source.id}{suffix}"
    auth = (credentials.username, credentials.password or "") \
        if credentials.username is not None else None
    headers = dict(credentials.headers)
    if credentials.token:
        headers.setdefault("Authorization", f"Bearer {credentials.token}")
    # httpx retries failed connections; answers worth another try are retried here, as
    # GDAL's GDAL_HTTP_MAX_RETRY does for the other kinds (after 1 s, 2 s, ...)
    transport = httpx.HTTPTransport(retries=source.http_retries)
    try:
        with httpx.Client(transport=transport, timeout=source.timeout_s, auth=auth,
                          headers=headers, follow_redirects=True) as client:
            for attempt in range(source.http_retries + 1):
                with client.stream("GET", source.url) as response:
                    if response.status_code in RETRY_STATUSES and attempt < source.http_retries:
                        time.sleep(RETRY_DELAY_S * 2 ** attempt)
                        continue
                    if response.status_code != 200:
                        raise unavailable(f"source {source.id}: {source.url} answered "
                                          f"{response.status_code}", source.url)
                    _save(source, response, target)
                    break
    except httpx.HTTPError as exc:
        raise _unavailable(source, exc) from exc
    return target


def _save(source: SourceDef, response: httpx.Response, target: Path) -> None:
    """The body to ``target``, refused beyond ``max_bytes`` (declared or counted)."""
    declared = int(response.headers.get("content-length") or 0)
    if declared > source.max_bytes:
        raise _too_large(source, declared)
    written = 0
    with target.open("wb") as out:
        for chunk in response.iter_bytes(1024 * 1024):
            written += len(chunk)
            if written > source.max_bytes:
                raise _too_large(source, written)
            out.write(chunk)


def _too_large(source: SourceDef, size: int) -> InvalidInput:
    return InvalidInput(f"source {source.id}: the file is over {source.max_bytes:,} bytes "
                        f"({size:,} so far)", where=source.url,
                        hint="raise max_bytes in its definition if the file is meant to be "
                             "this large")
