"""ops: change notices to every worker (PostgreSQL NOTIFY): a key, account or sharing agreement
changed (channel iocgis_security, payload the account id: its cached API keys are dropped), the
layer catalog changed (channel iocgis_catalog: the OGC configuration and OpenAPI are rebuilt)

Revision ID: 0018_change_notices
Revises: 0017_tile_geometry
Create Date: 2026-12-01
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0018_change_notices"
down_revision: Union[str, None] = "0017_tile_geometry"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UP = r"""
CREATE FUNCTION security.notify_account_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
BEGIN
    PERFORM pg_notify('iocgis_security',
                      coalesce(changed ->> (CASE WHEN TG_TABLE_NAME = 'accounts' THEN 'id'
                                                 ELSE 'account_id' END), ''));
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME <> 'accounts' THEN  -- a key or agreement moved
        PERFORM pg_notify('iocgis_security', coalesce(to_jsonb(OLD) ->> 'account_id', ''));
    END IF;
    RETURN NULL;
END $$;

-- last use and last sight are bookkeeping, not a change of rights
CREATE TRIGGER notify_change AFTER UPDATE ON security.accounts FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_seen_at' - 'last_login_at')
          IS DISTINCT FROM (to_jsonb(NEW) - 'last_seen_at' - 'last_login_at'))
    EXECUTE FUNCTION security.notify_account_change();
CREATE TRIGGER notify_delete AFTER DELETE ON security.accounts FOR EACH ROW
    EXECUTE FUNCTION security.notify_account_change();
CREATE TRIGGER notify_change AFTER UPDATE ON security.api_keys FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION security.notify_account_change();
CREATE TRIGGER notify_delete AFTER DELETE ON security.api_keys FOR EACH ROW
    EXECUTE FUNCTION security.notify_account_change();
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON sharing.agreements
    FOR EACH ROW EXECUTE FUNCTION security.notify_account_change();

CREATE FUNCTION meta.notify_catalog_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('iocgis_catalog', '');
    RETURN NULL;
END $$;
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON meta.layers
    FOR EACH STATEMENT EXECUTE FUNCTION meta.notify_catalog_change();
"""

DOWN = r"""
DROP TRIGGER IF EXISTS notify_change ON meta.layers;
DROP FUNCTION IF EXISTS meta.notify_catalog_change();
DROP TRIGGER IF EXISTS notify_change ON sharing.agreements;
DROP TRIGGER IF EXISTS notify_delete ON security.api_keys;
DROP TRIGGER IF EXISTS notify_change ON security.api_keys;
DROP TRIGGER IF EXISTS notify_delete ON security.accounts;
DROP TRIGGER IF EXISTS notify_change ON security.accounts;
DROP FUNCTION IF EXISTS security.notify_account_change();
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
