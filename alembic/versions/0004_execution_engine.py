"""Execution engine: webhook idempotency keys, worker heartbeats, the list index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import workfuse.db_types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', workfuse.db_types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_executions_user_started', ['user_id', 'started_at', 'id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_executions_workflow_id_idempotency_key'), ['workflow_id', 'idempotency_key'])


def downgrade() -> None:
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_executions_workflow_id_idempotency_key'), type_='unique')
        batch_op.drop_index('ix_executions_user_started')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('idempotency_key')
