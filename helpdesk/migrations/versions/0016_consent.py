"""marketing consent on customers, and its Mailchimp sync state

Revision ID: consent
Revises: webhooks
Create Date: 2026-12-01 12:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helpdesk.db


revision: str = 'consent'
down_revision: str | None = 'webhooks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('marketing_consent', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('marketing_consent_at', helpdesk.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('marketing_consent_source', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('marketing_consent_by', sa.String(length=200), nullable=True))
    op.create_table('marketing_syncs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'synced', 'failed', name='syncstate', native_enum=False, length=16),
              nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('synced_at', helpdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_marketing_syncs_customer_id_customers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketing_syncs')),
    sa.UniqueConstraint('provider', 'customer_id', name=op.f('uq_marketing_syncs_provider_customer_id'))
    )
    with op.batch_alter_table('marketing_syncs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_marketing_syncs_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('marketing_syncs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_marketing_syncs_customer_id'))
    op.drop_table('marketing_syncs')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('marketing_consent_by')
        batch_op.drop_column('marketing_consent_source')
        batch_op.drop_column('marketing_consent_at')
        batch_op.drop_column('marketing_consent')
