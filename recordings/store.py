"""Reads and writes of the recordings tables (SQLAlchemy Core, async), each on the caller's connection.

Callers own transactions, so that a state change, its certificate and its audit entry commit together. State
changes are compare-and-set (``UPDATE ... WHERE state = expected``): two nodes or two requests racing for the same
recording cannot both move it. ``compliance_view`` is the read the compliance page needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from privacy.records.signed_chain import format_time
from privacy.records.validators import find_identity_numbers
from recordings.retention import DeletionStep, DeletionTrigger, Overdue, RetentionPolicy, State, overdue
from recordings.tables import (
    recording_certificates,
    recording_confirmations,
    recording_custody,
    recording_orgs,
    recordings,
)


def new_id() -> str:
    """A random 32-hex-digit id that the audit log's identity-number tripwire can never mistake for one."""
    while True:
        candidate = uuid.uuid4().hex
        if not find_identity_numbers(candidate):
            return candidate


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class RecordingRow:
    id: str
    meeting_id: str
    node: str
    reason: str
    started_by: str
    created_at: datetime
    deadline: datetime
    state: State
    file_path: str
    kek_id: str
    org_ids: tuple[int, ...]
    finished_at: datetime | None = None
    duration_ms: int | None = None
    size_bytes: int | None = None
    ciphertext_sha256: str | None = None
    deletion_step: DeletionStep | None = None
    deletion_trigger: DeletionTrigger | None = None
    deletion_actor_kind: str | None = None
    deletion_actor_ref: str | None = None
    deletion_requested_at: datetime | None = None
    deletion_sha256: str | None = None
    key_destroyed_at: datetime | None = None
    file_removed_at: datetime | None = None
    deleted_at: datetime | None = None
    closed_at: datetime | None = None


def _row(row: Row[Any], org_ids: Iterable[int]) -> RecordingRow:
    return RecordingRow(
        id=row.id,
        meeting_id=row.meeting_id,
        node=row.node,
        reason=row.reason,
        started_by=row.started_by,
        created_at=_time(row.created_at),
        deadline=_time(row.deadline),
        state=State(row.state),
        file_path=row.file_path,
        kek_id=row.kek_id,
        org_ids=tuple(sorted(org_ids)),
        finished_at=parse_time(row.finished_at),
        duration_ms=row.duration_ms,
        size_bytes=row.size_bytes,
        ciphertext_sha256=row.ciphertext_sha256,
        deletion_step=DeletionStep(row.deletion_step) if row.deletion_step else None,
        deletion_trigger=DeletionTrigger(row.deletion_trigger) if row.deletion_trigger else None,
        deletion_actor_kind=row.deletion_actor_kind,
        deletion_actor_ref=row.deletion_actor_ref,
        deletion_requested_at=parse_time(row.deletion_requested_at),
        deletion_sha256=row.deletion_sha256,
        key_destroyed_at=parse_time(row.key_destroyed_at),
        file_removed_at=parse_time(row.file_removed_at),
        deleted_at=parse_time(row.deleted_at),
        closed_at=parse_time(row.closed_at),
    )


def _stored(values: Mapping[str, object]) -> dict[str, object]:
    """Column values as stored: times as fixed-format text, enums as their values."""
    out: dict[str, object] = {}
    for name, value in values.items():
        if isinstance(value, datetime):
            out[name] = format_time(value)
        elif isinstance(value, State | DeletionStep | DeletionTrigger):
            out[name] = value.value
        else:
            out[name] = value
    return out


# --- recordings --------------------------------------------------------------------------------------------


async def insert_recording(conn: AsyncConnection, row: RecordingRow) -> None:
    values = {name: getattr(row, name) for name in (c.name for c in recordings.columns)}
    await conn.execute(insert(recordings).values(_stored(values)))
    if row.org_ids:
        await conn.execute(
            insert(recording_orgs), [{"recording_id": row.id, "org_id": org} for org in sorted(set(row.org_ids))]
        )


async def _orgs(conn: AsyncConnection, ids: Collection[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {i: [] for i in ids}
    if ids:
        query = select(recording_orgs).where(recording_orgs.c.recording_id.in_(sorted(ids)))
        for row in (await conn.execute(query)).all():
            found[row.recording_id].append(int(row.org_id))
    return found


async def get_recording(conn: AsyncConnection, recording_id: str) -> RecordingRow | None:
    row = (await conn.execute(select(recordings).where(recordings.c.id == recording_id))).first()
    if row is None:
        return None
    orgs = await _orgs(conn, [recording_id])
    return _row(row, orgs[recording_id])


async def update_recording(
    conn: AsyncConnection, recording_id: str, expected: State | Collection[State], **values: object
) -> bool:
    """Set ``values`` if the recording is in ``expected`` state(s); False when it was not (nothing changed)."""
    states = [expected] if isinstance(expected, State) else list(expected)
    query = (
        update(recordings)
        .where(recordings.c.id == recording_id, recordings.c.state.in_([s.value for s in states]))
        .values(_stored(values))
    )
    result = await conn.execute(query)
    return bool(result.rowcount)


async def lock_recording(conn: AsyncConnection, recording_id: str) -> None:
    """Serialise transactions on one recording: an UPDATE that changes nothing takes the row lock on PostgreSQL
    and the write lock at once on SQLite, so what the transaction reads next cannot change under it."""
    await conn.execute(update(recordings).where(recordings.c.id == recording_id).values(state=recordings.c.state))


async def update_deletion_step(conn: AsyncConnection, recording_id: str, step: DeletionStep, **values: object) -> bool:
    """Set ``values`` if the recording is being deleted and at ``step``; False when it moved on (compare-and-set)."""
    query = (
        update(recordings)
        .where(
            recordings.c.id == recording_id,
            recordings.c.state == State.DELETING.value,
            recordings.c.deletion_step == step.value,
        )
        .values(_stored(values))
    )
    return bool((await conn.execute(query)).rowcount)


async def ids_in_state(
    conn: AsyncConnection, states: Collection[State], *, node: str | None = None, due_at: datetime | None = None
) -> list[str]:
    """Recording ids in these states (optionally on one node, optionally with deadline at or before ``due_at``)."""
    query = select(recordings.c.id).where(recordings.c.state.in_([s.value for s in states]))
    if node is not None:
        query = query.where(recordings.c.node == node)
    if due_at is not None:
        query = query.where(recordings.c.deadline <= format_time(due_at))
    return list((await conn.execute(query.order_by(recordings.c.deadline, recordings.c.id))).scalars())


# --- custody, confirmations, certificates ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustodyRecord:
    id: str
    recording_id: str
    org_id: int
    reason: str
    created_by: str
    created_at: datetime
    closed_by: str | None = None
    closed_at: datetime | None = None


def _custody(row: Row[Any]) -> CustodyRecord:
    return CustodyRecord(
        row.id,
        row.recording_id,
        int(row.org_id),
        row.reason,
        row.created_by,
        _time(row.created_at),
        row.closed_by,
        parse_time(row.closed_at),
    )


async def insert_custody(conn: AsyncConnection, record: CustodyRecord) -> None:
    values = {name: getattr(record, name) for name in (c.name for c in recording_custody.columns)}
    await conn.execute(insert(recording_custody).values(_stored(values)))


async def get_custody(conn: AsyncConnection, custody_id: str) -> CustodyRecord | None:
    row = (await conn.execute(select(recording_custody).where(recording_custody.c.id == custody_id))).first()
    return None if row is None else _custody(row)


async def close_custody(conn: AsyncConnection, custody_id: str, closed_by: str, closed_at: datetime) -> bool:
    query = (
        update(recording_custody)
        .where(recording_custody.c.id == custody_id, recording_custody.c.closed_at.is_(None))
        .values(closed_by=closed_by, closed_at=format_time(closed_at))
    )
    return bool((await conn.execute(query)).rowcount)


async def custody_records(conn: AsyncConnection, recording_id: str) -> list[CustodyRecord]:
    query = select(recording_custody).where(recording_custody.c.recording_id == recording_id)
    rows = (await conn.execute(query.order_by(recording_custody.c.created_at))).all()
    return [_custody(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Confirmation:
    org_id: int
    confirmed_by: str
    confirmed_at: datetime


async def insert_confirmation(conn: AsyncConnection, recording_id: str, confirmation: Confirmation) -> None:
    values = {
        "recording_id": recording_id,
        "org_id": confirmation.org_id,
        "confirmed_by": confirmation.confirmed_by,
        "confirmed_at": confirmation.confirmed_at,
    }
    await conn.execute(insert(recording_confirmations).values(_stored(values)))


async def confirmations(conn: AsyncConnection, recording_id: str) -> list[Confirmation]:
    query = select(recording_confirmations).where(recording_confirmations.c.recording_id == recording_id)
    rows = (await conn.execute(query.order_by(recording_confirmations.c.org_id))).all()
    return [Confirmation(int(r.org_id), r.confirmed_by, _time(r.confirmed_at)) for r in rows]


async def insert_certificate(conn: AsyncConnection, recording_id: str, issued_at: datetime, document: str) -> None:
    values = {"recording_id": recording_id, "issued_at": format_time(issued_at), "certificate": document}
    await conn.execute(insert(recording_certificates).values(values))


async def certificate(conn: AsyncConnection, recording_id: str) -> str | None:
    query = select(recording_certificates.c.certificate).where(recording_certificates.c.recording_id == recording_id)
    return (await conn.execute(query)).scalar()


# --- the compliance view -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComplianceEntry:
    """One line of the compliance view: a recording with everything that says whether deletion is proven."""

    recording: RecordingRow
    certificate: str | None
    certificate_issued_at: datetime | None
    confirmations: tuple[Confirmation, ...]
    open_custody: int
    overdue: Overdue | None

    @property
    def missing_confirmations(self) -> tuple[int, ...]:
        done = {c.org_id for c in self.confirmations}
        return tuple(org for org in self.recording.org_ids if org not in done)


async def compliance_view(
    conn: AsyncConnection,
    *,
    org_ids: Collection[int] | None,
    now: datetime,
    policy: RetentionPolicy,
    limit: int = 500,
) -> list[ComplianceEntry]:
    """Recordings that any of ``org_ids`` took part in (``None``: all, for centre-wide roles; empty: none), overdue
    ones first, then by deadline. Every state is listed, closed ones included: they are the proof."""
    query = select(recordings)
    if org_ids is not None:
        mine = select(recording_orgs.c.recording_id).where(recording_orgs.c.org_id.in_(sorted(org_ids)))
        query = query.where(recordings.c.id.in_(mine))
    rows = (await conn.execute(query.order_by(recordings.c.deadline).limit(max(1, min(limit, 5000))))).all()
    ids = [row.id for row in rows]
    orgs = await _orgs(conn, ids)
    certs: dict[str, tuple[str, str]] = {}
    confirmed: dict[str, list[Confirmation]] = {i: [] for i in ids}
    custody_open: dict[str, int] = {}
    if ids:
        cert_rows = await conn.execute(
            select(recording_certificates).where(recording_certificates.c.recording_id.in_(ids))
        )
        certs = {r.recording_id: (r.certificate, r.issued_at) for r in cert_rows}
        conf_rows = await conn.execute(
            select(recording_confirmations)
            .where(recording_confirmations.c.recording_id.in_(ids))
            .order_by(recording_confirmations.c.org_id)
        )
        for r in conf_rows:
            confirmed[r.recording_id].append(Confirmation(int(r.org_id), r.confirmed_by, _time(r.confirmed_at)))
        open_rows = await conn.execute(
            select(recording_custody.c.recording_id, func.count())
            .where(recording_custody.c.recording_id.in_(ids), recording_custody.c.closed_at.is_(None))
            .group_by(recording_custody.c.recording_id)
        )
        custody_open = {r[0]: int(r[1]) for r in open_rows}
    entries: list[ComplianceEntry] = []
    for row in rows:
        rec = _row(row, orgs[row.id])
        cert = certs.get(rec.id)
        flag = overdue(policy, now, state=rec.state, deadline=rec.deadline, deleted_at=rec.deleted_at)
        entries.append(
            ComplianceEntry(
                rec,
                cert[0] if cert else None,
                parse_time(cert[1]) if cert else None,
                tuple(confirmed[rec.id]),
                custody_open.get(rec.id, 0),
                flag,
            )
        )
    entries.sort(key=lambda e: (e.overdue is None, e.recording.deadline, e.recording.id))
    return entries
