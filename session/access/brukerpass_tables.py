"""Tables for Brukerpass holders and their meeting requests, on their own MetaData beside ``session.tables``.

No column holds a citizen's identity: the code and the ID-porten subject are keyed hashes, the agreement is named
by the centre's own reference, and equipment by its serial number.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table

from session.tables import meetings, organisations, staff

metadata = MetaData()

brukerpass_holders = Table(
    "brukerpass_holders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("centre_id", Integer, ForeignKey(organisations.c.id), nullable=False),
    Column("reference", String(80), nullable=False),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("subject_hash", String(64), nullable=True, unique=True),
    Column("issued_by", Integer, ForeignKey(staff.c.id), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
Index("ix_brukerpass_holders_centre", brukerpass_holders.c.centre_id)

brukerpass_requests = Table(
    "brukerpass_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("holder_id", Integer, ForeignKey(brukerpass_holders.c.id), nullable=False),
    Column("centre_id", Integer, ForeignKey(organisations.c.id), nullable=False),
    Column("department", String(32), nullable=False),
    Column("topic", String(600), nullable=False),
    Column("serial_number", String(80), nullable=True),
    Column("wish", String(240), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("meeting_id", String(32), ForeignKey(meetings.c.id), nullable=True),
    Column("starts_at", DateTime(timezone=True), nullable=True),
    Column("handled_by", Integer, ForeignKey(staff.c.id), nullable=True),
)
Index("ix_brukerpass_requests_centre", brukerpass_requests.c.centre_id, brukerpass_requests.c.state)
Index("ix_brukerpass_requests_holder", brukerpass_requests.c.holder_id)
