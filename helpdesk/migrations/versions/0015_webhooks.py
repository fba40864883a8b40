"""outgoing webhooks: subscriptions, deliveries and attempts

Revision ID: webhooks
Revises: search
Create Date: 2026-12-01 10:55:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helpdesk.db


revision: str = 'webhooks'
down_revision: str | None = 'search'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outgoing_webhooks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('created_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_webhooks')),
    sa.UniqueConstraint('public_id', name=op.f('uq_outgoing_webhooks_public_id'))
    )
    op.create_table('outgoing_webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', helpdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscription_id'], ['outgoing_webhooks.id'], name=op.f('fk_outgoing_webhook_deliveries_subscription_id_outgoing_webhooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_webhook_deliveries')),
    sa.UniqueConstraint('public_id', name=op.f('uq_outgoing_webhook_deliveries_public_id'))
    )
    with op.batch_alter_table('outgoing_webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_outgoing_webhook_deliveries_subscription_id_id', ['subscription_id', 'id'], unique=False)

    op.create_table('outgoing_webhook_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('response_excerpt', sa.Text(), nullable=False),
    sa.Column('at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['outgoing_webhook_deliveries.id'], name=op.f('fk_outgoing_webhook_attempts_delivery_id_outgoing_webhook_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_webhook_attempts'))
    )
    with op.batch_alter_table('outgoing_webhook_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outgoing_webhook_attempts_delivery_id'), ['delivery_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outgoing_webhook_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outgoing_webhook_attempts_delivery_id'))
    op.drop_table('outgoing_webhook_attempts')
    with op.batch_alter_table('outgoing_webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_webhook_deliveries_subscription_id_id')
    op.drop_table('outgoing_webhook_deliveries')
    op.drop_table('outgoing_webhooks')
