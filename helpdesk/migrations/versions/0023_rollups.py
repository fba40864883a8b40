"""reports: daily rollups kept by the worker, the marks of days to rebuild, orders by placed_at

Revision ID: rollups
Revises: scalepages
Create Date: 2026-12-01 15:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision: str = 'rollups'
down_revision: str | None = 'scalepages'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'report_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('tz', sa.String(length=64), nullable=False),
        sa.Column('built_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_report_days')),
    )
    op.create_table(
        'report_rollups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('inbox_id', sa.Integer(), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=True),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in (
            'created', 'needed_agent', 'first_responses', 'resolved', 'replies', 'surveys_sent',
            'score_1', 'score_2', 'score_3', 'score_4', 'score_5')],
        sa.Column('first_response_hist', sa.Text(), nullable=False),
        sa.Column('resolution_hist', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_rollups')),
    )
    op.create_index('ix_report_rollups_day', 'report_rollups', ['day'])
    op.create_table(
        'report_dirty',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_dirty')),
    )
    op.create_index('ix_report_dirty_at', 'report_dirty', ['at'])
    op.create_index('ix_orders_placed_at', 'orders', ['placed_at'])


def downgrade() -> None:
    op.drop_index('ix_orders_placed_at', table_name='orders')
    op.drop_index('ix_report_dirty_at', table_name='report_dirty')
    op.drop_table('report_dirty')
    op.drop_index('ix_report_rollups_day', table_name='report_rollups')
    op.drop_table('report_rollups')
    op.drop_table('report_days')
