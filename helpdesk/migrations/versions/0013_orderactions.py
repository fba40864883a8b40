"""orderactions: connected shops (several per platform) and order actions

Revision ID: orderactions
Revises: sla
Create Date: 2026-12-01 10:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helpdesk.db

revision: str = 'orderactions'
# The lead re-chains the branches' migrations at merge; "email" is main's head when this was made.
down_revision: str | None = 'sla'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('shops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('credentials', sa.JSON(), nullable=False),
    sa.Column('created_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shops')),
    sa.UniqueConstraint('platform', 'key', name=op.f('uq_shops_platform_key'))
    )
    op.create_table('order_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('pending', 'done', 'failed', name='actionstatus', native_enum=False, length=16), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=200), nullable=False),
    sa.Column('actor_role', sa.String(length=16), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('notify_customer', sa.Boolean(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', helpdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_order_actions_agent_id_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_order_actions_conversation_id_conversations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_actions_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_actions')),
    sa.UniqueConstraint('order_id', 'idempotency_key', name=op.f('uq_order_actions_order_id_idempotency_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_order_actions_public_id'))
    )
    with op.batch_alter_table('order_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_actions_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('order_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_actions_order_id'))
    op.drop_table('order_actions')
    op.drop_table('shops')
