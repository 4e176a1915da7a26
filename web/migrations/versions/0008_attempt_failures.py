"""Failed-attempt counts shared by every worker and node (keyed hashes of clients, never addresses).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempt_failures",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed", sa.Double(), nullable=False),
        sa.Column("wait_until", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_index("ix_attempt_failures_last_failed", "attempt_failures", ["last_failed"])


def downgrade() -> None:
    op.drop_index("ix_attempt_failures_last_failed", table_name="attempt_failures")
    op.drop_table("attempt_failures")
