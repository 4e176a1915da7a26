"""Tables of the recordings: the recordings, the organisations that took part, export custody, deletion
confirmations and deletion certificates (SQLAlchemy Core, portable SQLite/PostgreSQL).

Plain types only: times are fixed-format UTC text (``privacy.records.signed_chain.format_time``: sortable as text and
returned exactly as written), ids are text, organisation ids integers. No foreign keys to other packages' tables
(they live in other metadata); ``meeting_id`` and organisation ids refer to the session tables by value. Nothing
here holds media, keys or a citizen's identity: ``reason`` is short case text checked for identity numbers.

States of a recording (``state``): recording -> ready | broken -> deleting -> deleted -> closed.
While ``deleting``, ``deletion_step`` says how far the deletion engine got: requested -> key_destroyed ->
file_removed (then the certificate is written and the state becomes ``deleted`` in one transaction).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

_TIME = 32  # len(format_time(...)) == 32

recordings = Table(
    "recordings",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("meeting_id", String(64), nullable=False),
    Column("node", String(64), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("started_by", String(64), nullable=False),
    Column("created_at", String(_TIME), nullable=False),
    Column("deadline", String(_TIME), nullable=False),
    Column("state", String(16), nullable=False),
    Column("file_path", String(255), nullable=False),
    Column("kek_id", String(32), nullable=False),
    Column("finished_at", String(_TIME), nullable=True),
    Column("duration_ms", BigInteger, nullable=True),
    Column("size_bytes", BigInteger, nullable=True),
    Column("ciphertext_sha256", String(64), nullable=True),
    Column("deletion_step", String(16), nullable=True),
    Column("deletion_trigger", String(32), nullable=True),
    Column("deletion_actor_kind", String(16), nullable=True),
    Column("deletion_actor_ref", String(64), nullable=True),
    Column("deletion_requested_at", String(_TIME), nullable=True),
    Column("deletion_sha256", String(64), nullable=True),
    Column("key_destroyed_at", String(_TIME), nullable=True),
    Column("file_removed_at", String(_TIME), nullable=True),
    Column("deleted_at", String(_TIME), nullable=True),
    Column("closed_at", String(_TIME), nullable=True),
    Index("ix_recordings_state_deadline", "state", "deadline"),
    Index("ix_recordings_meeting", "meeting_id"),
)

recording_orgs = Table(
    "recording_orgs",
    metadata,
    Column("recording_id", String(32), ForeignKey("recordings.id"), primary_key=True),
    Column("org_id", Integer, primary_key=True, autoincrement=False),
    Index("ix_recording_orgs_org", "org_id", "recording_id"),
)

recording_custody = Table(
    "recording_custody",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("recording_id", String(32), ForeignKey("recordings.id"), nullable=False),
    Column("org_id", Integer, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", String(_TIME), nullable=False),
    Column("closed_by", String(64), nullable=True),
    Column("closed_at", String(_TIME), nullable=True),
    Index("ix_recording_custody_recording", "recording_id", "org_id"),
)

recording_confirmations = Table(
    "recording_confirmations",
    metadata,
    Column("recording_id", String(32), ForeignKey("recordings.id"), primary_key=True),
    Column("org_id", Integer, primary_key=True, autoincrement=False),
    Column("confirmed_by", String(64), nullable=False),
    Column("confirmed_at", String(_TIME), nullable=False),
)

recording_certificates = Table(
    "recording_certificates",
    metadata,
    Column("recording_id", String(32), ForeignKey("recordings.id"), primary_key=True),
    Column("issued_at", String(_TIME), nullable=False),
    Column("certificate", Text, nullable=False),
)
