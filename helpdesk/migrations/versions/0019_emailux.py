"""email like email: agents' signatures

Revision ID: emailux
Revises: webhooks
Create Date: 2026-12-01 12:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helpdesk.db


revision: str = 'emailux'
down_revision: str | None = 'selfservice'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agent_signatures',
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_signatures_agent_id_agents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('agent_id', name=op.f('pk_agent_signatures'))
    )


def downgrade() -> None:
    op.drop_table('agent_signatures')
