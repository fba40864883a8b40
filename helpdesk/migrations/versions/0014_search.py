"""search: full-text index over conversations (messages, subject, customer, #REF, order numbers)

Revision ID: search
Revises: orderactions
Create Date: 2026-12-01 10:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from helpdesk.tickets import search

revision: str = 'search'
# The brief says "0006"; main's head is "email" today, so this keeps one head on the branch.
down_revision: str | None = 'orderactions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('search_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
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
    op.create_index(op.f('ix_customers_merged_into_id'), 'customers', ['merged_into_id'], unique=False)
    bind = op.get_bind()
    search.install(bind, bind.dialect.name)
    # Existing data: messages, headers, linked orders (the triggers fill the FTS table as rows go in).
    slots = search.SLOTS
    op.execute("INSERT INTO search_entries (id, conversation_id, message_id, source, text) "
               f"SELECT CAST(conversation_id AS BIGINT) * {slots} + seq, conversation_id, id, 'm', body_text "
               f"FROM messages WHERE seq < {search.MESSAGE_SLOTS}")
    op.execute("INSERT INTO search_entries (id, conversation_id, source, text) "
               f"SELECT CAST(c.id AS BIGINT) * {slots}, c.id, 'c', c.subject || ' #' || c.ref || ' ' || coalesce(cu.name, '') || ' ' || "
               "coalesce(cu.email, '') FROM conversations c JOIN customers cu ON cu.id = c.customer_id")
    # Linked orders: one extra row each, slots from the top down (as search.set_extra gives them).
    bind_rows = bind.execute(sa.text(
        "SELECT l.conversation_id, l.order_id, o.number || ' ' || coalesce(o.name, '') FROM conversation_orders l "
        "JOIN orders o ON o.id = l.order_id WHERE l.state = 'linked' ORDER BY l.conversation_id, l.id")).all()
    seen: dict[int, int] = {}
    for conversation_id, order_id, value in bind_rows:
        seen[conversation_id] = seen.get(conversation_id, 0) + 1
        bind.execute(sa.text("INSERT INTO search_entries (id, conversation_id, source, text) VALUES (:i, :c, :s, :t)"),
                     {"i": conversation_id * slots + slots - seen[conversation_id], "c": conversation_id,
                      "s": f"o{order_id}", "t": value})


def downgrade() -> None:
    bind = op.get_bind()
    search.uninstall(bind, bind.dialect.name)
    op.drop_index('ix_search_entries_conversation_source', table_name='search_entries')
    op.drop_index(op.f('ix_customers_merged_into_id'), table_name='customers')
    op.drop_table('search_entries')
