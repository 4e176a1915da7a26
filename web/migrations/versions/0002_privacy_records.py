"""The signed, hash-chained consent ledger and audit log (privacy/records/tables.py).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _entry_columns(prefix: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.UniqueConstraint("entry_hash", name=f"uq_{prefix}_entry_hash"),
    ]


def upgrade() -> None:
    op.create_table(
        "privacy_chain_heads",
        sa.Column("chain", sa.String(32), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "privacy_consent_ledger",
        *_entry_columns("privacy_consent_ledger"),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("consent_id", sa.String(64), nullable=False),
        sa.Column("meeting_id", sa.String(64), nullable=False),
        sa.Column("subject_ref", sa.String(64), nullable=False),
    )
    op.create_index("ix_privacy_consent_ledger_meeting", "privacy_consent_ledger", ["meeting_id", "subject_ref"])
    op.create_index("ix_privacy_consent_ledger_consent_id", "privacy_consent_ledger", ["consent_id"])
    op.create_table(
        "privacy_audit_log",
        *_entry_columns("privacy_audit_log"),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("meeting_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_privacy_audit_log_meeting", "privacy_audit_log", ["meeting_id"])
    op.create_table(
        "privacy_audit_log_orgs",
        sa.Column("seq", sa.BigInteger, sa.ForeignKey("privacy_audit_log.seq"), primary_key=True, autoincrement=False),
        sa.Column("org_id", sa.Integer, primary_key=True, autoincrement=False),
    )
    op.create_index("ix_privacy_audit_log_orgs_org", "privacy_audit_log_orgs", ["org_id", "seq"])


def downgrade() -> None:
    for name in ("privacy_audit_log_orgs", "privacy_audit_log", "privacy_consent_ledger", "privacy_chain_heads"):
        op.drop_table(name)
