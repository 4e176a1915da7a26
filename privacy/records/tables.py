"""Tables of the privacy records: the consent ledger, the audit log and one head row per chain.

Plain, portable types (no JSON or array columns, times as fixed-format UTC text) so that the same schema runs on
SQLite and PostgreSQL and the hashed bytes come back exactly as they were written. ``payload`` holds the
canonical JSON that was hashed and signed; every other column besides the chain fields is derived from it for
queries and is checked against it on verification. Entries are only ever inserted: no code updates or deletes
them. The head row is the lock that serialises appends and a record of the last entry, so that entries cut off
the end of a chain are noticed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text, UniqueConstraint
from sqlalchemy.schema import SchemaItem

metadata = MetaData()


def _entry_columns(prefix: str) -> list[SchemaItem]:
    return [
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("prev_hash", String(64), nullable=False),
        Column("entry_hash", String(64), nullable=False),
        Column("signature", String(128), nullable=False),
        Column("created_at", String(32), nullable=False),
        Column("payload", Text, nullable=False),
        UniqueConstraint("entry_hash", name=f"uq_{prefix}_entry_hash"),
    ]


chain_heads = Table(
    "privacy_chain_heads",
    metadata,
    Column("chain", String(32), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

consent_ledger = Table(
    "privacy_consent_ledger",
    metadata,
    *_entry_columns("privacy_consent_ledger"),
    Column("event_type", String(32), nullable=False),
    Column("consent_id", String(64), nullable=False),
    Column("meeting_id", String(64), nullable=False),
    Column("subject_ref", String(64), nullable=False),
    Index("ix_privacy_consent_ledger_meeting", "meeting_id", "subject_ref"),
    Index("ix_privacy_consent_ledger_consent_id", "consent_id"),
)

audit_log = Table(
    "privacy_audit_log",
    metadata,
    *_entry_columns("privacy_audit_log"),
    Column("action", String(64), nullable=False),
    Column("meeting_id", String(64), nullable=True),
    Index("ix_privacy_audit_log_meeting", "meeting_id"),
)

audit_log_orgs = Table(
    "privacy_audit_log_orgs",
    metadata,
    Column("seq", BigInteger, ForeignKey("privacy_audit_log.seq"), primary_key=True, autoincrement=False),
    Column("org_id", Integer, primary_key=True, autoincrement=False),
    Index("ix_privacy_audit_log_orgs_org", "org_id", "seq"),
)
