"""chat visitors: per-browser verification and the conversations each browser started

Revision ID: secdata
Revises: process
Create Date: 2026-12-01 09:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helpdesk.db


revision: str = 'secdata'
down_revision: str | None = 'process'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('chat_visitors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table('chat_visitor_conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visitor_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('created_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_chat_visitor_conversations_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visitor_id'], ['chat_visitors.id'], name=op.f('fk_chat_visitor_conversations_visitor_id_chat_visitors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_visitor_conversations')),
    sa.UniqueConstraint('visitor_id', 'conversation_id', name=op.f('uq_chat_visitor_conversations_visitor_id_conversation_id'))
    )
    with op.batch_alter_table('chat_visitor_conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_visitor_conversations_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_visitor_conversations_visitor_id'), ['visitor_id'], unique=False)
    # Existing browsers keep what they could see before: a visitor whose customer holds a verified
    # email stays verified, and every browser keeps its customer's chats in its inbox as its own.
    op.execute("""
        UPDATE chat_visitors SET verified = true WHERE customer_id IN (
            SELECT customer_id FROM identities WHERE kind = 'email' AND verified = true)
    """)
    op.execute("""
        INSERT INTO chat_visitor_conversations (visitor_id, conversation_id, created_at)
        SELECT v.id, c.id, c.created_at FROM chat_visitors v
        JOIN conversations c ON c.customer_id = v.customer_id AND c.inbox_id = v.inbox_id
    """)


def downgrade() -> None:
    with op.batch_alter_table('chat_visitor_conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_visitor_conversations_visitor_id'))
        batch_op.drop_index(batch_op.f('ix_chat_visitor_conversations_conversation_id'))
    op.drop_table('chat_visitor_conversations')
    with op.batch_alter_table('chat_visitors', schema=None) as batch_op:
        batch_op.drop_column('verified')
