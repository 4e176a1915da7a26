"""Datetimes read back from the database, made timezone-aware.

Every time is stored in UTC, in timezone-aware columns; SQLite's driver hands them back naive (PostgreSQL's
does not). One helper for every store, so a store cannot read a UTC moment back as a local one."""

from __future__ import annotations

from datetime import UTC, datetime


def stored_utc(value: datetime) -> datetime:
    """The stored moment, aware: a naive value from SQLite is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def stored_utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else stored_utc(value)
