"""Source definitions (``layers/sources/*.yaml``): typed, frozen, validated once.

```yaml
sources:
  so_gd_truong_hoc:                       # the source id (lower-case, digits, _)
    title: {vi: Trường học (Sở GD&ĐT), en: Schools (Department of Education)}
    layer: infra.schools                  # the registry layer it feeds
    kind: ogcapi                          # ogcapi | wfs | arcgis | postgis | file_url
    url: https://gis.sogd.dongnai.gov.vn/ogcapi
    collection: truong_hoc                # ogcapi collection / wfs type name
    credentials: so_gd                    # an entry of the secrets file, never a secret here
    mapping: {fields: {MA_TRUONG: school_id}}   # as a mapping file (importers/mapping.py)
    schedule: P1D                         # ISO 8601 duration, or cron "0 2 * * *"
    mode: replace                         # replace | upsert | append
    incremental: {field: ngay_cap_nhat}   # postgis/arcgis/wfs/ogcapi: only rows since last run
    owner: tranthib                       # the account alerted when the source fails
```
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from croniter import croniter
from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from iocgis.layers.model import Frozen, Text

Kind = Literal["ogcapi", "wfs", "arcgis", "postgis", "file_url"]
KINDS: tuple[str, ...] = ("ogcapi", "wfs", "arcgis", "postgis", "file_url")
FileFormat = Literal["geojson", "csv", "zip", "gpkg"]
# postgis, arcgis and wfs (a FES filter) compare the edit timestamp column; ogcapi asks
# `datetime=<since>/..`, which the server applies to the collection's temporal property.
INCREMENTAL_KINDS = ("postgis", "arcgis", "wfs", "ogcapi")
SOURCE_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Query parameters that carry a secret: they belong in the secrets file.
SECRET_PARAMS = {"token", "key", "apikey", "api_key", "password", "passwd", "access_token"}
_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)


class Incremental(Frozen):
    """Pull only what changed since the last run, by an edit timestamp of the source."""

    field: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class SourceDef(Frozen):
    id: str
    title: Text
    layer: str
    kind: Kind
    url: str = Field(min_length=1)
    collection: str | None = None  # ogcapi collection id, wfs feature type name
    table: str | None = None  # postgis: schema.table or schema.view
    geometry_column: str = "geom"  # postgis
    format: FileFormat | None = None  # file_url: else from the URL's extension
    credentials: str | None = None
    mapping: dict[str, object] | None = None
    crs: str | None = None
    encoding: str | None = None
    schedule: str
    mode: Literal["replace", "upsert", "append"] = "replace"
    incremental: Incremental | None = None
    owner: str | None = None
    enabled: bool = True
    page_size: int = Field(default=1000, ge=1, le=100_000)
    max_bytes: int = Field(default=500 * 1024**2, ge=1)  # file_url: refuse larger downloads
    timeout_s: float = Field(default=60.0, gt=0, le=3600)
    # HTTP retries inside one run (GDAL: 429 and 5xx answers, after 1 s, 2 s, ...); a run that
    # still fails is tried again by the scheduler with back-off.
    http_retries: int = Field(default=2, ge=0, le=10)
    max_rejected: float = Field(default=0.0, ge=0.0, le=1.0)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not SOURCE_ID.match(value):
            raise ValueError(f"source id {value!r} must be lower-case letters, digits and _")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        value = value.strip()
        if value.startswith("P"):
            try:
                if _DURATION.validate_python(value) <= timedelta(0):
                    raise ValueError("a schedule's duration must be positive")
            except ValidationError:
                raise ValueError(f"schedule {value!r} is not an ISO 8601 duration "
                                 "(e.g. PT1H, P1D)") from None
        elif not croniter.is_valid(value) or len(value.split()) != 5:
            raise ValueError(f"schedule {value!r} is neither an ISO 8601 duration (P1D) nor a "
                             "5-field cron expression (0 2 * * *)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourceDef:
        needs = {"ogcapi": "collection", "wfs": "collection", "postgis": "table"}
        wanted = needs.get(self.kind)
        if wanted and not getattr(self, wanted):
            raise ValueError(f"source {self.id}: kind {self.kind} needs {wanted!r}")
        if self.table and not re.match(r"^[A-Za-z_][\w]*\.[A-Za-z_][\w]*$", self.table):
            raise ValueError(f"source {self.id}: table {self.table!r} must be schema.name")
        parts = urlsplit(self.url)
        if self.kind == "postgis":
            if parts.scheme not in ("postgresql", "postgres"):
                raise ValueError(f"source {self.id}: a postgis url is postgresql://host:port/db")
        elif parts.scheme not in ("http", "https"):
            raise ValueError(f"source {self.id}: url must be http(s)://")
        if parts.password or any(k.lower() in SECRET_PARAMS for k, _ in parse_qsl(parts.query)):
            raise ValueError(f"source {self.id}: the url holds a secret; put it in the secrets "
                             "file and name its entry under credentials")
        if self.incremental and self.kind not in INCREMENTAL_KINDS:
            raise ValueError(f"source {self.id}: incremental pulls are for postgis, arcgis and "
                             "wfs sources (an edit timestamp they filter on) and ogcapi sources "
                             "(the collection's datetime filter)")
        if self.incremental and self.mode == "append":
            raise ValueError(f"source {self.id}: an incremental pull upserts; use mode replace "
                             "(the full pulls) or upsert")
        return self

    @property
    def cadence(self) -> timedelta:
        """How often the source runs: the duration, or a cron expression's usual interval."""
        if self.schedule.startswith("P"):
            return _DURATION.validate_python(self.schedule)
        it = croniter(self.schedule, datetime(2026, 1, 5, tzinfo=UTC))  # a Monday
        first = it.get_next(datetime)
        return it.get_next(datetime) - first

    def next_run(self, after: datetime) -> datetime:
        """When the schedule runs next after ``after`` (a duration: ``after`` + duration)."""
        if self.schedule.startswith("P"):
            return after + self.cadence
        return croniter(self.schedule, after).get_next(datetime)
