"""citizen reports: the case file (citizen_private), encrypted identities, transitions, photos,
ratings, alerts; the public layer citizen.public_reports and the workflow columns of
citizen.reports, both written from the case file by a trigger

Revision ID: 0009_citizen_reports
Revises: 0008_live_data
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0009_citizen_reports"
down_revision: str | None = "0008_live_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The registry's layers (layers/citizen.yaml) are projections; the case file lives in its own
# schema, citizen_private, which is no registry schema: Alembic's comparison with the registry
# ignores it, and no OGC API, tile or query path can name it. Only the serving role reads it,
# on behalf of callers the citizen module has checked (iocgis/citizen/).
PRIVATE = r"""
CREATE SCHEMA IF NOT EXISTS citizen_private;
REVOKE ALL ON SCHEMA citizen_private FROM PUBLIC;
-- Report codes PA-<year>-<number>: numbers never reused, whatever is deleted.
CREATE SEQUENCE citizen_private.report_number;

CREATE TABLE citizen_private.cases (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_code text NOT NULL UNIQUE,
    category text NOT NULL,
    content text NOT NULL,                 -- as sent, phones, e-mails, the reporter's name hidden
    content_enc text,                      -- as sent, encrypted, when the masking changed it
    summary text,                          -- moderated text (published)
    answer text,                           -- the unit's answer, or the reason of a rejection
    status text NOT NULL,
    unit_code text,
    unit_name text,
    commune_code text,
    geom geometry(Point, 4326) NOT NULL,   -- precise (internal)
    public_geom geometry(Point, 4326) NOT NULL,
    location_precision text NOT NULL,      -- grid_100m | commune
    location_source text NOT NULL,         -- map | device | app | photo | import
    address text,                          -- as sent (internal)
    channel text NOT NULL,                 -- web | open311 | import
    client_account text,                   -- the app whose key sent it (Open311)
    reported_at timestamptz NOT NULL DEFAULT now(),
    due_at timestamptz,
    answered_at timestamptz,
    closed_at timestamptz,
    final_at timestamptz,                  -- closed or rejected: retention counts from here
    answer_round integer NOT NULL DEFAULT 0,
    rating integer,
    escalation_level integer NOT NULL DEFAULT 0,
    reporter_pseudonym text,               -- keyed hash of the contact (HMAC, key outside)
    tracking_hash text UNIQUE,             -- SHA-256 of the reporter's one-time link
    published boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_unit_status ON citizen_private.cases (unit_code, status);
CREATE INDEX cases_pseudonym ON citizen_private.cases (reporter_pseudonym)
    WHERE reporter_pseudonym IS NOT NULL;
CREATE INDEX cases_due ON citizen_private.cases (due_at) WHERE final_at IS NULL;

-- Name, phone and e-mail: Fernet tokens (AES-128-CBC + HMAC-SHA-256) made with a key the
-- database never holds (var/citizen_keys.json or IOCGIS_CITIZEN_KEYS); key_id says which.
CREATE TABLE citizen_private.identities (
    case_id bigint PRIMARY KEY REFERENCES citizen_private.cases (id) ON DELETE CASCADE,
    key_id text NOT NULL,
    name_enc text,
    phone_enc text,
    email_enc text,
    delete_after date,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE citizen_private.transitions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id bigint NOT NULL REFERENCES citizen_private.cases (id) ON DELETE CASCADE,
    from_status text,
    to_status text NOT NULL,
    actor text NOT NULL,
    actor_kind text NOT NULL,              -- handler | system | reporter
    unit_code text,
    note text,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transitions_case ON citizen_private.transitions (case_id, id);

-- Photos as published: re-encoded, without any metadata; the location their EXIF held is
-- kept here (internal), the original bytes are not kept.
CREATE TABLE citizen_private.photos (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id bigint NOT NULL REFERENCES citizen_private.cases (id) ON DELETE CASCADE,
    public_id text NOT NULL UNIQUE,
    content_type text NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    bytes_sent integer NOT NULL,
    image bytea,
    exif_lon double precision,
    exif_lat double precision,
    exif_taken_at text,
    published boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX photos_case ON citizen_private.photos (case_id);

CREATE TABLE citizen_private.ratings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id bigint NOT NULL REFERENCES citizen_private.cases (id) ON DELETE CASCADE,
    answer_round integer NOT NULL,
    rating integer NOT NULL CHECK (rating BETWEEN 1 AND 10),
    comment text,
    at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (case_id, answer_round)          -- one rating per answer: the link is one-time
);

CREATE TABLE citizen_private.alerts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id bigint NOT NULL REFERENCES citizen_private.cases (id) ON DELETE CASCADE,
    unit_code text NOT NULL,
    kind text NOT NULL,                    -- overdue | escalated
    level integer NOT NULL,
    working_days_late integer NOT NULL,
    raised_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    UNIQUE (case_id, level)
);
CREATE INDEX alerts_open ON citizen_private.alerts (unit_code) WHERE resolved_at IS NULL;

-- The registry's two layers follow the case file. SECURITY DEFINER: the serving role holds
-- SELECT only on layer tables (iocgis db roles sync), so this is the one way it changes them.
CREATE FUNCTION citizen_private.project_case() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM citizen.reports WHERE report_code = OLD.report_code;
        DELETE FROM citizen.public_reports WHERE report_code = OLD.report_code;
        RETURN OLD;
    END IF;
    INSERT INTO citizen.reports AS r (report_code, category, content, status, assigned_unit,
        unit_code, reported_at, due_at, answered_at, closed_at, commune_code, channel,
        escalation_level, rating, reporter_name, reporter_phone, geom, updated_at)
    VALUES (NEW.report_code, NEW.category, NEW.content, NEW.status, NEW.unit_name,
        NEW.unit_code, NEW.reported_at, NEW.due_at, NEW.answered_at, NEW.closed_at,
        NEW.commune_code, NEW.channel, NEW.escalation_level, NEW.rating, NULL, NULL, NEW.geom,
        now())
    ON CONFLICT (report_code) DO UPDATE SET category = EXCLUDED.category,
        content = EXCLUDED.content, status = EXCLUDED.status,
        assigned_unit = EXCLUDED.assigned_unit, unit_code = EXCLUDED.unit_code,
        reported_at = EXCLUDED.reported_at, due_at = EXCLUDED.due_at,
        answered_at = EXCLUDED.answered_at, closed_at = EXCLUDED.closed_at,
        commune_code = EXCLUDED.commune_code, channel = EXCLUDED.channel,
        escalation_level = EXCLUDED.escalation_level, rating = EXCLUDED.rating,
        reporter_name = NULL, reporter_phone = NULL, geom = EXCLUDED.geom, updated_at = now();
    IF NEW.published THEN
        INSERT INTO citizen.public_reports AS p (report_code, category, status, summary, answer,
            unit_code, unit_name, commune_code, location_precision, reported_at, due_at,
            answered_at, closed_at, rating, photo_count, geom, updated_at)
        VALUES (NEW.report_code, NEW.category, NEW.status, NEW.summary, NEW.answer,
            NEW.unit_code, NEW.unit_name, NEW.commune_code, NEW.location_precision,
            NEW.reported_at, NEW.due_at, NEW.answered_at, NEW.closed_at, NEW.rating,
            (SELECT count(*) FROM citizen_private.photos ph
              WHERE ph.case_id = NEW.id AND ph.published), NEW.public_geom, now())
        ON CONFLICT (report_code) DO UPDATE SET category = EXCLUDED.category,
            status = EXCLUDED.status, summary = EXCLUDED.summary, answer = EXCLUDED.answer,
            unit_code = EXCLUDED.unit_code, unit_name = EXCLUDED.unit_name,
            commune_code = EXCLUDED.commune_code,
            location_precision = EXCLUDED.location_precision,
            reported_at = EXCLUDED.reported_at, due_at = EXCLUDED.due_at,
            answered_at = EXCLUDED.answered_at, closed_at = EXCLUDED.closed_at,
            rating = EXCLUDED.rating, photo_count = EXCLUDED.photo_count, geom = EXCLUDED.geom,
            updated_at = now();
    ELSE
        DELETE FROM citizen.public_reports WHERE report_code = NEW.report_code;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER cases_project AFTER INSERT OR UPDATE OR DELETE ON citizen_private.cases
    FOR EACH ROW EXECUTE FUNCTION citizen_private.project_case();

-- Tile caches key on meta.layers.data_version (tiles/): one bump per statement.
CREATE FUNCTION citizen_private.bump_versions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    UPDATE meta.layers SET data_version = data_version + 1, updated_at = now()
     WHERE id IN ('citizen.reports', 'citizen.public_reports');
    RETURN NULL;
END
$$;
CREATE TRIGGER cases_bump_versions AFTER INSERT OR UPDATE OR DELETE ON citizen_private.cases
    FOR EACH STATEMENT EXECUTE FUNCTION citizen_private.bump_versions();

-- The serving role (made by `iocgis db migrate` right after the migrations; made here first on
-- a new cluster so the grants have someone to go to) works the case file; nobody else may.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'iocgis_api') THEN
        CREATE ROLE iocgis_api NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA citizen_private TO iocgis_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA citizen_private TO iocgis_api;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA citizen_private TO iocgis_api;
"""

PRIVATE_DOWN = r"""
DROP SCHEMA IF EXISTS citizen_private CASCADE;
-- `iocgis db roles sync` makes the masked view again from the columns left.
DROP VIEW IF EXISTS masked.citizen_reports;
DROP VIEW IF EXISTS masked.citizen_public_reports;
"""

REPORT_COLUMNS = (
    ("unit_code", sa.Text(), "Processing unit code"),
    ("due_at", sa.DateTime(timezone=True), "Due"),
    ("answered_at", sa.DateTime(timezone=True), "Answered at"),
    ("closed_at", sa.DateTime(timezone=True), "Closed at"),
    ("channel", sa.Text(), "Channel"),
    ("escalation_level", sa.Integer(), "Escalation level"),
    ("rating", sa.Integer(), "Satisfaction"),
)


def upgrade() -> None:
    op.create_geospatial_table(
        "public_reports",
        sa.Column("fid", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("report_code", sa.Text(), nullable=False, comment="Report code"),
        sa.Column("category", sa.Text(), nullable=False, comment="Category"),
        sa.Column("status", sa.Text(), nullable=False, comment="Status"),
        sa.Column("summary", sa.Text(), nullable=True, comment="Moderated text"),
        sa.Column("answer", sa.Text(), nullable=True, comment="Unit's answer"),
        sa.Column("unit_code", sa.Text(), nullable=True, comment="Processing unit code"),
        sa.Column("unit_name", sa.Text(), nullable=True, comment="Processing unit"),
        sa.Column("commune_code", sa.Text(), nullable=True, comment="Commune code"),
        sa.Column("location_precision", sa.Text(), nullable=True, comment="Location precision"),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False,
                  comment="Reported at"),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True, comment="Due"),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True,
                  comment="Answered at"),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True, comment="Closed at"),
        sa.Column("rating", sa.Integer(), nullable=True, comment="Satisfaction"),
        sa.Column("photo_count", sa.Integer(), nullable=True, comment="Published photos"),
        sa.Column("extra", postgresql.JSONB(astext_type=sa.Text()), nullable=True,
                  comment="source fields without a registry field"),
        sa.Column("source_date", sa.Date(), nullable=True, comment="date of the source data"),
        sa.Column("import_id", sa.BigInteger(), nullable=True,
                  comment="meta.imports id that loaded the row"),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("geom", Geometry(geometry_type="POINT", srid=4326, dimension=2,
                                   spatial_index=False, from_text="ST_GeomFromEWKT",
                                   name="geometry"), nullable=True),
        sa.PrimaryKeyConstraint("fid"),
        schema="citizen",
    )
    op.create_geospatial_index("public_reports_geom_gist", "public_reports", ["geom"],
                               unique=False, schema="citizen", postgresql_using="gist",
                               postgresql_ops={})
    op.create_index("public_reports_key", "public_reports", ["report_code"], unique=True,
                    schema="citizen")
    op.create_index("public_reports_reported_at", "public_reports", ["reported_at"],
                    unique=False, schema="citizen")
    for name, type_, comment in REPORT_COLUMNS:
        op.add_column("reports", sa.Column(name, type_, nullable=True, comment=comment),
                      schema="citizen")
    op.execute(PRIVATE)


def downgrade() -> None:
    op.execute(PRIVATE_DOWN)
    for name, _, _ in reversed(REPORT_COLUMNS):
        op.drop_column("reports", name, schema="citizen")
    op.drop_index("public_reports_reported_at", table_name="public_reports", schema="citizen")
    op.drop_index("public_reports_key", table_name="public_reports", schema="citizen")
    op.drop_geospatial_index("public_reports_geom_gist", table_name="public_reports",
                             schema="citizen", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("public_reports", schema="citizen")
