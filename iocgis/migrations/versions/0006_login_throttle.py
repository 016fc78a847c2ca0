"""login throttle: failed logins counted from the audit trail; failures no longer lock accounts

Revision ID: 0006_login_throttle
Revises: 0005_access_plan
Create Date: 2026-12-02
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0006_login_throttle"
down_revision: Union[str, None] = "0005_access_plan"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UPGRADE = r"""
-- iocgis/security/throttle.py counts, at each login, the failures of the account name (from
-- this address and from all), of the address, and finds the last success, lockout and unlock.
CREATE INDEX IF NOT EXISTS events_login_target ON audit.events (target, action, at)
    WHERE action IN ('auth.login', 'auth.lockout', 'account.unlock', 'account.reset',
                     'account.password');
CREATE INDEX IF NOT EXISTS events_login_failures_client ON audit.events (client, at)
    WHERE action = 'auth.login' AND outcome = 'failed';

-- Failed logins used to lock the whole account (sessions and API keys included) until
-- locked_until (or for good, reason 'N failed logins'); they now lock the (account, address)
-- pair only. Release those old locks; an administrator's lock (no end time, its own reason)
-- stays.
UPDATE security.accounts SET status = 'active', locked_until = NULL, status_reason = NULL,
       failed_logins = 0, updated_at = now()
 WHERE status = 'locked'
   AND (locked_until IS NOT NULL OR status_reason ~ '^[0-9]+ failed logins$');
"""

DOWNGRADE = r"""
DROP INDEX IF EXISTS audit.events_login_failures_client;
DROP INDEX IF EXISTS audit.events_login_target;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
