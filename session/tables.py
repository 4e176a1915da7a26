"""Tables for organisations, staff, meetings and join links (SQLAlchemy Core, portable SQLite/PostgreSQL).

No table holds a citizen's identity: meetings carry a case topic and equipment serial numbers only, and join
links are stored as SHA-256 hashes so that a copy of the database cannot be used to enter a meeting.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_number", String(9), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    # municipality | municipality_unit | centre | centre_department | supplier
    Column("kind", String(32), nullable=False),
    Column("parent_id", Integer, ForeignKey("organisations.id"), nullable=True),
    Column("enabled", Boolean, nullable=False, default=False),
    # For a municipality: the hjelpemiddelsentral that serves it, the other party of its meetings.
    Column("serving_centre_id", Integer, ForeignKey("organisations.id", name="fk_organisations_serving_centre")),
)

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject", String(200), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("organisation_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

staff_roles = Table(
    "staff_roles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=False),
    Column("role", String(32), nullable=False),
    Column("organisation_id", Integer, ForeignKey("organisations.id"), nullable=False),
    UniqueConstraint("staff_id", "role", "organisation_id"),
)

meetings = Table(
    "meetings",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("organisation_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("centre_id", Integer, ForeignKey("organisations.id"), nullable=True),
    Column("topic", String(200), nullable=False),
    Column("kind", String(32), nullable=False, default="other"),
    Column("created_by", Integer, ForeignKey("staff.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=True),
    Column("ends_at", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=False, default="planned"),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("meeting_id", String(32), ForeignKey("meetings.id"), nullable=False),
    Column("role", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("host", Boolean, nullable=False, default=False),
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
Index("ix_invitations_meeting", invitations.c.meeting_id)
