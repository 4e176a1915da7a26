"""Tables for meeting plans, invitation sequence numbers, room codes, opening-hour exceptions, repair
diagnoses and confirmed summaries (SQLAlchemy Core, portable between SQLite and PostgreSQL).

Kept on their own ``metadata``; foreign keys point at ``session.tables`` (meetings, organisations, staff).
Plain types only: lists are child rows, the confirmed summary is the exported JSON as text with its SHA-256.
No table holds a citizen's identity, and a room's PIN is stored only as a salted hash.

Opening hours: the weekly pattern is configuration (``session.planning.opening_hours.standard_hours`` or settings),
public holidays are computed; only the exceptions a centre enters (special days, extra closed days) are stored.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)

from session.tables import meetings, organisations, staff

metadata = MetaData()

meeting_plans = Table(
    "meeting_plans",
    metadata,
    Column("meeting_id", String(32), ForeignKey(meetings.c.id), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("filming", Text, nullable=False),
    Column("camera_operator", String(32), nullable=False),
    # iCalendar SEQUENCE of the last invitation sent; raised on every change and on cancellation.
    Column("ics_sequence", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
)

meeting_plan_items = Table(
    "meeting_plan_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("meeting_id", String(32), ForeignKey(meeting_plans.c.meeting_id), nullable=False),
    # participant | drawing | equipment
    Column("item_kind", String(16), nullable=False),
    Column("position", Integer, nullable=False),
    Column("value", String(200), nullable=False),
    UniqueConstraint("meeting_id", "item_kind", "position", name="uq_meeting_plan_items_position"),
)
Index("ix_meeting_plan_items_value", meeting_plan_items.c.item_kind, meeting_plan_items.c.value)

room_codes = Table(
    "room_codes",
    metadata,
    Column("meeting_id", String(32), ForeignKey(meetings.c.id), primary_key=True),
    Column("code", String(8), nullable=False, unique=True),
    Column("pin_hash", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True), nullable=True),
)

opening_exceptions = Table(
    "opening_exceptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("centre_id", Integer, ForeignKey(organisations.c.id), nullable=False),
    Column("department", String(32), nullable=False),
    Column("day", Date, nullable=False),
    # both NULL: closed all day; otherwise one period (closes 00:00 means midnight at the end of the day)
    Column("opens", Time, nullable=True),
    Column("closes", Time, nullable=True),
    Column("reason", String(100), nullable=False, default=""),
    UniqueConstraint("centre_id", "department", "day", name="uq_opening_exceptions_day"),
)

repair_diagnoses = Table(
    "repair_diagnoses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("meeting_id", String(32), ForeignKey(meetings.c.id), nullable=False),
    Column("serial_number", String(64), nullable=False),
    Column("fault_description", Text, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("next_step", Text, nullable=False),
    Column("recorded_by", Integer, ForeignKey(staff.c.id), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
Index("ix_repair_diagnoses_meeting", repair_diagnoses.c.meeting_id)
Index("ix_repair_diagnoses_serial", repair_diagnoses.c.serial_number)

repair_parts = Table(
    "repair_parts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("diagnosis_id", Integer, ForeignKey(repair_diagnoses.c.id), nullable=False),
    Column("position", Integer, nullable=False),
    Column("part_number", String(64), nullable=False),
    Column("description", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    UniqueConstraint("diagnosis_id", "position", name="uq_repair_parts_position"),
)

meeting_summaries = Table(
    "meeting_summaries",
    metadata,
    Column("meeting_id", String(32), ForeignKey(meetings.c.id), primary_key=True),
    Column("document", Text, nullable=False),
    Column("document_sha256", String(64), nullable=False),
    Column("confirmed_by", Integer, ForeignKey(staff.c.id), nullable=False),
    Column("confirmed_at", DateTime(timezone=True), nullable=False),
)
