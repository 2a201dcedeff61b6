"""Drop indexes that repeat the leading column of a unique constraint or index; an
execution's log lines get one (execution_id, timestamp) index instead of two, and a
workflow's executions one (workflow_id, started_at, id) index instead of (workflow_id).

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

#: (table, index, columns) of each index created
CREATED = (
    ('execution_logs', 'ix_execution_logs_execution_timestamp', ['execution_id', 'timestamp']),
    ('executions', 'ix_executions_workflow_started', ['workflow_id', 'started_at', 'id']),
)

#: (table, index, column) of each single-column index dropped (the workflow_id one is
#: replaced by the wider index above)
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
    for table, index, columns in CREATED:
        op.create_index(index, table, columns)
    for table, index, _column in REDUNDANT:
        op.drop_index(index, table_name=table)


def downgrade() -> None:
    for table, index, column in REDUNDANT:
        op.create_index(index, table, [column])
    for table, index, _columns in CREATED:
        op.drop_index(index, table_name=table)
