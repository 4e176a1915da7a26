"""Brukerpass holders (keyed hashes of their code and login, the centre's reference) and their meeting requests.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "brukerpass_holders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=True),
        sa.Column("issued_by", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
        sa.UniqueConstraint("subject_hash"),
    )
    op.create_index("ix_brukerpass_holders_centre", "brukerpass_holders", ["centre_id"])
    op.create_table(
        "brukerpass_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.Integer(), sa.ForeignKey("brukerpass_holders.id"), nullable=False),
        sa.Column("centre_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=600), nullable=False),
        sa.Column("serial_number", sa.String(length=80), nullable=True),
        sa.Column("wish", sa.String(length=240), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meeting_id", sa.String(length=32), sa.ForeignKey("meetings.id"), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_brukerpass_requests_centre", "brukerpass_requests", ["centre_id", "state"])
    op.create_index("ix_brukerpass_requests_holder", "brukerpass_requests", ["holder_id"])


def downgrade() -> None:
    op.drop_index("ix_brukerpass_requests_holder", table_name="brukerpass_requests")
    op.drop_index("ix_brukerpass_requests_centre", table_name="brukerpass_requests")
    op.drop_table("brukerpass_requests")
    op.drop_index("ix_brukerpass_holders_centre", table_name="brukerpass_holders")
    op.drop_table("brukerpass_holders")
