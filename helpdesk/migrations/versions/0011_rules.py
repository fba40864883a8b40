"""rules: automation rules, runs, macros, assign on reply

Revision ID: rules
Revises: secdata (the lead re-chains it at merge; the brief's base was 0006)
Create Date: 2026-12-01 10:13:34.075242
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helpdesk.db

revision: str = 'rules'
down_revision: str | None = 'secdata'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('automation_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_rules')),
    sa.UniqueConstraint('public_id', name=op.f('uq_automation_rules_public_id'))
    )
    with op.batch_alter_table('automation_rules', schema=None) as batch_op:
        batch_op.create_index('ix_automation_rules_event_active_position', ['event', 'active', 'position'], unique=False)

    op.create_table('macros',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('created_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['agents.id'], name=op.f('fk_macros_owner_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_macros')),
    sa.UniqueConstraint('public_id', name=op.f('uq_macros_public_id'))
    )
    with op.batch_alter_table('macros', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_macros_owner_id'), ['owner_id'], unique=False)

    op.create_table('rule_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('trigger', sa.String(length=64), nullable=True),
    sa.Column('done', sa.JSON(), nullable=False),
    sa.Column('fired_at', helpdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_rule_runs_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['automation_rules.id'], name=op.f('fk_rule_runs_rule_id_automation_rules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_runs')),
    sa.UniqueConstraint('rule_id', 'trigger', name=op.f('uq_rule_runs_rule_id_trigger'))
    )
    with op.batch_alter_table('rule_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_runs_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_rule_runs_rule_conversation', ['rule_id', 'conversation_id', 'fired_at'], unique=False)

    with op.batch_alter_table('inboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assign_on_reply', sa.Boolean(), server_default=sa.true(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('inboxes', schema=None) as batch_op:
        batch_op.drop_column('assign_on_reply')

    with op.batch_alter_table('rule_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_rule_runs_rule_conversation')
        batch_op.drop_index(batch_op.f('ix_rule_runs_conversation_id'))

    op.drop_table('rule_runs')
    with op.batch_alter_table('macros', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_macros_owner_id'))

    op.drop_table('macros')
    with op.batch_alter_table('automation_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_rules_event_active_position')

    op.drop_table('automation_rules')
