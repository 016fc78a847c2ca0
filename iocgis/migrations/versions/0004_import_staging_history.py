"""import staging and history schemas: where imports stage and previous versions are kept

Revision ID: 0004_import_schemas
Revises: 0003_security_audit
Create Date: 2026-11-28
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0004_import_schemas"
down_revision: Union[str, None] = "0003_security_audit"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Staging tables (s<import id>) are filled by COPY and swapped live; history tables
    # (h<import id>) hold a layer as it was before an import, for rollback.
    op.execute('CREATE SCHEMA IF NOT EXISTS "import_staging"')
    op.execute('CREATE SCHEMA IF NOT EXISTS "import_history"')


def downgrade() -> None:
    op.execute('DROP SCHEMA IF EXISTS "import_history" CASCADE')
    op.execute('DROP SCHEMA IF EXISTS "import_staging" CASCADE')
