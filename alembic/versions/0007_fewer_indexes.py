"""Drop indexes that repeat the leading column of a unique constraint or index; an
execution's log lines get one (execution_id, timestamp) index instead of two.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, index, column) of each single-column index dropped
REDUNDANT = (
    ('executions', 'ix_executions_user_id', 'user_id'),
    ('executions', 'ix_executions_workflow_id', 'workflow_id'),
    ('node_runs', 'ix_node_runs_execution_id', 'execution_id'),
    ('secret_references', 'ix_secret_references_user_id', 'user_id'),
    ('workflow_versions', 'ix_workflow_versions_workflow_id', 'workflow_id'),
    ('execution_logs', 'ix_execution_logs_execution_id', 'execution_id'),
    ('execution_logs', 'ix_execution_logs_timestamp', 'timestamp'),
)


def upgrade() -> None:
    op.create_index(
        'ix_execution_logs_execution_timestamp', 'execution_logs', ['execution_id', 'timestamp']
    )
    for table, index, _column in REDUNDANT:
        op.drop_index(index, table_name=table)


def downgrade() -> None:
    for table, index, column in REDUNDANT:
        op.create_index(index, table, [column])
    op.drop_index('ix_execution_logs_execution_timestamp', table_name='execution_logs')
