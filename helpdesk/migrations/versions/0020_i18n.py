"""languages (agent and customer locale) and phone calls

Revision ID: i18n
Revises: webhooks
Create Date: 2026-12-01 12:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helpdesk.db


revision: str = 'i18n'
down_revision: str | None = 'emailux'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=True))
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=True))
    # The channel column is a non-native enum (a VARCHAR(16) without a CHECK): 'phone' needs no DDL.
    op.create_table('phone_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('direction', sa.Enum('inbound', 'outbound', name='calldirection', native_enum=False, length=16), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('recording_url', sa.String(length=2000), nullable=True),
    sa.Column('created_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_phone_calls_agent_id_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_phone_calls_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_phone_calls_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_calls')),
    sa.UniqueConstraint('message_id', name=op.f('uq_phone_calls_message_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_phone_calls_public_id'))
    )
    with op.batch_alter_table('phone_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_calls_conversation_id'), ['conversation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('phone_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_calls_conversation_id'))
    op.drop_table('phone_calls')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('locale')
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('locale')
