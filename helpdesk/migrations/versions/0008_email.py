"""email: stored display of customer mails, the action of an inbound mail

Revision ID: email
Revises: secaccounts
Create Date: 2026-12-01 09:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helpdesk.db

revision: str = 'email'
down_revision: str | None = 'secaccounts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_mails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('action', sa.String(length=16), nullable=True))
    op.create_table('email_displays',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('quoted', sa.Text(), nullable=False),
    sa.Column('blocked_images', sa.Integer(), nullable=False),
    sa.Column('html_remote', sa.Text(), nullable=True),
    sa.Column('quoted_remote', sa.Text(), nullable=True),
    sa.Column('computed_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_email_displays_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_email_displays'))
    )


def downgrade() -> None:
    op.drop_table('email_displays')
    with op.batch_alter_table('inbound_mails', schema=None) as batch_op:
        batch_op.drop_column('action')
