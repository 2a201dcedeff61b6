"""Local secret store: the secret_values table; credential names unique per user.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import workfuse.db_types

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('secret_values',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', workfuse.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', workfuse.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_secret_values')),
    sa.UniqueConstraint('name', name=op.f('uq_secret_values_name'))
    )
    with op.batch_alter_table('secret_references', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_secret_references_user_id_name'), ['user_id', 'name'])


def downgrade() -> None:
    with op.batch_alter_table('secret_references', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_secret_references_user_id_name'), type_='unique')

    op.drop_table('secret_values')
