"""Tables for access control and citizen join links, beside ``session.tables`` on their own MetaData.

Foreign keys point at ``session.tables`` columns directly, so create ``session.tables.metadata`` first. None of
these tables holds a citizen's identity: device bindings and short codes are stored as keyed hashes, and the
only names are staff names that a person typed into an access request.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table

from session.tables import invitations, organisations, staff

metadata = MetaData()

organisation_departments = Table(
    "organisation_departments",
    metadata,
    Column("organisation_id", Integer, ForeignKey(organisations.c.id), primary_key=True, autoincrement=False),
    # teknisk | bolig | mobilitet | kommunikasjon
    Column("department", String(32), nullable=False),
)

staff_session_generations = Table(
    "staff_session_generations",
    metadata,
    # A staff cookie names the generation it was issued for; bumping it ends every existing session at once.
    Column("staff_id", Integer, ForeignKey(staff.c.id), primary_key=True, autoincrement=False),
    Column("generation", Integer, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

access_requests = Table(
    "access_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    # The login subject (the identity provider's pairwise "sub"), never a national identity number.
    Column("subject", String(200), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("staff_id", Integer, ForeignKey(staff.c.id), nullable=True),
    Column("organisation_id", Integer, ForeignKey(organisations.c.id), nullable=False),
    Column("role", String(32), nullable=False),
    # pending | approved | denied
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("answered_by", Integer, ForeignKey(staff.c.id), nullable=True),
    Index("ix_access_requests_org_status", "organisation_id", "status"),
    Index("ix_access_requests_subject", "subject"),
)

invitation_devices = Table(
    "invitation_devices",
    metadata,
    # HMAC of (invitation id, device id): one device per link, unlinkable across links.
    Column("invitation_id", Integer, ForeignKey(invitations.c.id), primary_key=True, autoincrement=False),
    Column("device_hash", String(64), nullable=False),
    Column("bound_at", DateTime(timezone=True), nullable=False),
)

invitation_codes = Table(
    "invitation_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("invitation_id", Integer, ForeignKey(invitations.c.id), nullable=False),
    # HMAC of the six digits under a server key: a copy of the database alone does not reveal live codes.
    Column("code_hash", String(64), nullable=False, unique=True),
    # The link token sealed (AES-GCM) under a server key, so a redeemed code leads to the same link; cleared
    # when the code is used.
    Column("sealed_link", String(400), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Index("ix_invitation_codes_invitation", "invitation_id"),
)
