"""chat visitors' presence mark, readable by the job worker process

Revision ID: process
Revises: email
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helpdesk.db

revision: str = 'process'
down_revision: str | None = 'email'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('chat_visitors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connected_until', helpdesk.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chat_visitors', schema=None) as batch_op:
        batch_op.drop_column('connected_until')
