"""Recordings: encrypted files' records, organisations, custody, deletion confirmations and certificates.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("meeting_id", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("deadline", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("file_path", sa.String(length=255), nullable=False),
        sa.Column("kek_id", sa.String(length=32), nullable=False),
        sa.Column("finished_at", sa.String(length=32), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("ciphertext_sha256", sa.String(length=64), nullable=True),
        sa.Column("deletion_step", sa.String(length=16), nullable=True),
        sa.Column("deletion_trigger", sa.String(length=32), nullable=True),
        sa.Column("deletion_actor_kind", sa.String(length=16), nullable=True),
        sa.Column("deletion_actor_ref", sa.String(length=64), nullable=True),
        sa.Column("deletion_requested_at", sa.String(length=32), nullable=True),
        sa.Column("deletion_sha256", sa.String(length=64), nullable=True),
        sa.Column("key_destroyed_at", sa.String(length=32), nullable=True),
        sa.Column("file_removed_at", sa.String(length=32), nullable=True),
        sa.Column("deleted_at", sa.String(length=32), nullable=True),
        sa.Column("closed_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recordings_meeting", "recordings", ["meeting_id"], unique=False)
    op.create_index("ix_recordings_state_deadline", "recordings", ["state", "deadline"], unique=False)
    op.create_table(
        "recording_certificates",
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("issued_at", sa.String(length=32), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
        ),
        sa.PrimaryKeyConstraint("recording_id"),
    )
    op.create_table(
        "recording_confirmations",
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("confirmed_by", sa.String(length=64), nullable=False),
        sa.Column("confirmed_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
        ),
        sa.PrimaryKeyConstraint("recording_id", "org_id"),
    )
    op.create_table(
        "recording_custody",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recording_custody_recording", "recording_custody", ["recording_id", "org_id"], unique=False)
    op.create_table(
        "recording_orgs",
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
        ),
        sa.PrimaryKeyConstraint("recording_id", "org_id"),
    )
    op.create_index("ix_recording_orgs_org", "recording_orgs", ["org_id", "recording_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_recording_orgs_org", table_name="recording_orgs")
    op.drop_table("recording_orgs")
    op.drop_index("ix_recording_custody_recording", table_name="recording_custody")
    op.drop_table("recording_custody")
    op.drop_table("recording_confirmations")
    op.drop_table("recording_certificates")
    op.drop_index("ix_recordings_state_deadline", table_name="recordings")
    op.drop_index("ix_recordings_meeting", table_name="recordings")
    op.drop_table("recordings")
