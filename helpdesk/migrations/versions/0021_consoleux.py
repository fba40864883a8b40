"""console rough edges: the page, referrer and browser a chat visitor came with

Revision ID: consoleux
Revises: webhooks
Create Date: 2026-12-01 12:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'consoleux'
down_revision: str | None = 'i18n'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('chat_visitors') as batch:
        batch.add_column(sa.Column('page_url', sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column('referrer', sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column('user_agent', sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chat_visitors') as batch:
        batch.drop_column('user_agent')
        batch.drop_column('referrer')
        batch.drop_column('page_url')
