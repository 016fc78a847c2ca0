"""summaries: exact group totals per layer, group field, commune and grid cell (issue 20)

``summaries.cells`` holds, for each summarised layer (``iocgis/summaries.py``), the count,
sums, non-null counts, true counts and geodesic area/length of its features (``values``, in
the order of ``built.metrics``) per group field value, commune and fixed grid cell (cell -1:
the commune's total over every feature); features larger than the cell margin are listed in ``summaries.big_features`` and always measured
exactly. ``summaries.built`` says for which data version, grid and fields they were built: a
query uses them only when that matches. Rebuilt by the import swap, in its transaction.

Readable by every group role under row-level security: the caller's communes
(``security.visible_communes()``), and only for a layer of which the role may read a column.

Revision ID: 0015_group_summaries
Revises: 0014_sharing_agreements
Create Date: 2026-12-01
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0015_group_summaries"
down_revision: Union[str, None] = "0014_sharing_agreements"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UPGRADE = r"""
CREATE SCHEMA IF NOT EXISTS summaries;
CREATE TABLE summaries.built (
    layer_id text PRIMARY KEY,
    table_name text NOT NULL,
    data_version bigint NOT NULL,
    grid_deg float8 NOT NULL,
    margin_deg float8 NOT NULL,
    group_fields text[] NOT NULL,
    metrics text[] NOT NULL,
    built_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE summaries.cells (
    layer_id text NOT NULL,
    group_field text NOT NULL,
    group_key text,
    commune_code text NOT NULL,
    cell bigint NOT NULL,
    "values" numeric[] NOT NULL  -- one per metric of summaries.built, in its order
);
CREATE INDEX cells_lookup ON summaries.cells (layer_id, group_field, cell);
CREATE TABLE summaries.big_features (
    layer_id text NOT NULL,
    fid bigint NOT NULL,
    PRIMARY KEY (layer_id, fid)
);
ALTER TABLE summaries.cells ENABLE ROW LEVEL SECURITY;
ALTER TABLE summaries.big_features ENABLE ROW LEVEL SECURITY;
ALTER TABLE summaries.built ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON summaries.built FOR SELECT
    USING (has_any_column_privilege(table_name, 'SELECT'));
CREATE POLICY readable ON summaries.cells FOR SELECT
    USING (has_any_column_privilege((SELECT b.table_name FROM summaries.built b
                                     WHERE b.layer_id = cells.layer_id), 'SELECT')
           AND (commune_code = '' OR (SELECT security.visible_communes()) IS NULL
                OR commune_code = ANY ((SELECT security.visible_communes())::text[])));
CREATE POLICY readable ON summaries.big_features FOR SELECT
    USING (has_any_column_privilege((SELECT b.table_name FROM summaries.built b
                                     WHERE b.layer_id = big_features.layer_id), 'SELECT'));
-- Whether a layer's summaries match its data version, grid and fields (meta is not readable
-- by the group roles; this says only yes or no).
CREATE FUNCTION summaries.fresh(layer text, grid float8, margin float8, group_fields text[],
                                metrics text[]) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT coalesce((SELECT b.data_version = l.data_version AND b.grid_deg = $2
                            AND b.margin_deg = $3 AND b.group_fields = $4 AND b.metrics = $5
                     FROM summaries.built b JOIN meta.layers l ON l.id = b.layer_id
                     WHERE b.layer_id = $1), false)
$$;
GRANT USAGE ON SCHEMA summaries TO PUBLIC;
GRANT EXECUTE ON FUNCTION summaries.fresh(text, float8, float8, text[], text[]) TO PUBLIC;
GRANT SELECT ON summaries.built, summaries.cells, summaries.big_features TO PUBLIC;
"""

DOWNGRADE = r"""
DROP SCHEMA IF EXISTS summaries CASCADE;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
