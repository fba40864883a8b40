"""pages at scale: indexes for the queue's other sorts (newest/oldest, priority) per status tab
and for "Any status" by latest activity (a search's first tab)

Revision ID: scalepages
Revises: consoleux
Create Date: 2026-12-01 16:05:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'scalepages'
down_revision: str | None = 'consoleux'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Newest / oldest first within a tab: without it every conversation of the tab is sorted.
    op.create_index('ix_conversations_status_created', 'conversations', ['status', 'created_at'])
    # Priority: one index range per priority (queue_sorts._by_priority).
    op.create_index('ix_conversations_status_priority_activity', 'conversations',
                    ['status', 'priority', 'last_activity_at'])
    # "Any status" newest first, the tab a search opens on: PostgreSQL walks it and probes each
    # conversation for the words, stopping at the page, instead of sorting every match.
    op.create_index('ix_conversations_activity', 'conversations', ['last_activity_at'])
    if op.get_bind().dialect.name == "sqlite":
        # SQLite keeps statistics per index: a database analysed before has none for these two,
        # and an index without statistics looks so selective that the planner picks it for every
        # status tab and sorts the whole tab (180 ms on the resolved tab at 1,000,000). Seconds.
        op.execute("ANALYZE conversations")


def downgrade() -> None:
    op.drop_index('ix_conversations_activity', table_name='conversations')
    op.drop_index('ix_conversations_status_priority_activity', table_name='conversations')
    op.drop_index('ix_conversations_status_created', table_name='conversations')
