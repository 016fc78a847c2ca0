"""access plan in PostgreSQL: the communes a request or a login may see, evaluated once per query

Revision ID: 0005_access_plan
Revises: 0004_import_schemas
Create Date: 2026-12-01
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0005_access_plan"
down_revision: Union[str, None] = "0004_import_schemas"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UPGRADE = r"""
-- The communes the current reader may see, or NULL for every commune. Two sources, both
-- applied (their intersection):
--  * a direct database login (QGIS) limited by the operator: security.db_commune_scope, keyed
--    by session_user (a login cannot change it);
--  * an API request: the transaction-local setting iocgis.communes that the access plan sets
--    with the caller's group role ('*' or unset: every commune; else comma-separated codes).
--    A reader may set it itself, which can only narrow what the login already allows.
-- Row-level security policies call it inside a scalar sub-select, so it runs once per query,
-- not once per row.
CREATE OR REPLACE FUNCTION security.visible_communes() RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, security AS $$
DECLARE
    login_scope text[];
    request text := current_setting('iocgis.communes', true);
    request_scope text[];
BEGIN
    SELECT commune_codes INTO login_scope FROM security.db_commune_scope
     WHERE role_name = session_user;
    IF request IS NOT NULL AND request NOT IN ('', '*') THEN
        request_scope := string_to_array(request, ',');
    END IF;
    IF login_scope IS NULL THEN
        RETURN request_scope;
    ELSIF request_scope IS NULL THEN
        RETURN login_scope;
    END IF;
    RETURN ARRAY(SELECT unnest(login_scope) INTERSECT SELECT unnest(request_scope));
END
$$;
GRANT EXECUTE ON FUNCTION security.visible_communes() TO PUBLIC;
"""

DOWNGRADE = r"""
DROP FUNCTION IF EXISTS security.visible_communes();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
