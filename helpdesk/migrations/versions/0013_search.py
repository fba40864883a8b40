"""search: full-text index over conversations (messages, subject, customer, #REF, order numbers)

Revision ID: search
Revises: email
Create Date: 2026-12-01 10:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from helpdesk.tickets import search

revision: str = 'search'
# The brief says "0006"; main's head is "email" today, so this keeps one head on the branch.
down_revision: str | None = 'email'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('search_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_search_entries_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_search_entries_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_entries')),
    sa.UniqueConstraint('message_id', name=op.f('uq_search_entries_message_id'))
    )
    op.create_index('ix_search_entries_conversation_source', 'search_entries', ['conversation_id', 'source'], unique=False)
    bind = op.get_bind()
    search.install(bind, bind.dialect.name)
    # Existing data: messages, headers, linked orders (the triggers fill the FTS table as rows go in).
    op.execute("INSERT INTO search_entries (conversation_id, message_id, source, text) "
               "SELECT conversation_id, id, 'm', body_text FROM messages")
    op.execute("INSERT INTO search_entries (conversation_id, source, text) "
               "SELECT c.id, 'c', c.subject || ' #' || c.ref || ' ' || coalesce(cu.name, '') || ' ' || "
               "coalesce(cu.email, '') FROM conversations c JOIN customers cu ON cu.id = c.customer_id")
    op.execute("INSERT INTO search_entries (conversation_id, source, text) "
               "SELECT l.conversation_id, 'o' || CAST(l.order_id AS VARCHAR(20)), o.number || ' ' || coalesce(o.name, '') "
               "FROM conversation_orders l JOIN orders o ON o.id = l.order_id WHERE l.state = 'linked'")


def downgrade() -> None:
    bind = op.get_bind()
    search.uninstall(bind, bind.dialect.name)
    op.drop_index('ix_search_entries_conversation_source', table_name='search_entries')
    op.drop_table('search_entries')
