"""pgsearch: PostgreSQL's full-text vector stored in a column, the GIN index on it, statistics of
assignee and status together (SQLite: nothing)

Revision ID: pgsearch
Revises: rollups
Create Date: 2026-12-01 18:30:00

The column is GENERATED ... STORED, so adding it rewrites search_entries once (an ACCESS
EXCLUSIVE lock: at 11,000,000 entries a few minutes on two cores, then the GIN index is built
again from the stored vectors). See helpdesk.tickets.search.PG_STORED_DDL.
"""
from collections.abc import Sequence

from alembic import op

from helpdesk.tickets import search

revision: str = 'pgsearch'
down_revision: str | None = 'rollups'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in search.PG_STORED_DDL:
        op.execute(statement)
    # The unassigned view: PostgreSQL took "no assignee" and "open" for independent (1.5 % x 4 %
    # of 1,000,000: 500 rows) when most unassigned conversations are open ones (12,000), and read
    # them all in a bitmap and sorted (7-13 ms) instead of walking the activity index (0.3 ms).
    op.execute("CREATE STATISTICS st_conversations_assignee_status (mcv) ON assignee_id, status FROM conversations")
    op.execute("ANALYZE search_entries")
    op.execute("ANALYZE conversations")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP STATISTICS IF EXISTS st_conversations_assignee_status")
    for statement in search.PG_STORED_DROP:
        op.execute(statement)
