"""Access to finished recordings: playback and export (audited, only for the organisations that took part),
custody of exported copies, deletion confirmations, certificates and the compliance view.

The checks here are the ones the service can make itself (which organisations took part, states, custody); the
edge passes who is acting as a ``StaffActor`` and keeps the role checks (who may play back, export or confirm at
all; compliance officers read only). Refusals are audited as ``access.refused`` with the attempted action and an
error code, and the edge answers a refusal for another organisation's recording with 404 (THREAT_MODEL.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from privacy.records.audit_record import Actor, ActorKind, AuditAction, AuditRecord, DetailValue
from privacy.records.errors import InvalidInput
from privacy.records.ledgers import AuditLog, Clock
from privacy.records.validators import validate_free_text
from privacy.user_text import Text, said_by
from recordings import store
from recordings.deletion import recording_path
from recordings.encrypted_file import EncryptedReader, TailState
from recordings.errors import (
    AccessDenied,
    ConfirmationRefused,
    CustodyNotFound,
    InvalidRecordingRequest,
    ReasonMissing,
    RecordingError,
    RecordingNotAllowed,
    RecordingNotFound,
    RecordingUnavailable,
)
from recordings.key_provider import KeyProvider
from recordings.options import RecordingOptions
from recordings.retention import PLAYABLE, State

log = logging.getLogger(__name__)

REASON_MAX_LENGTH = 200
ACTION_EXPORT = "recording.export"
ACTION_ACCESS = "recording.access"
ACTION_CUSTODY_CLOSED = "recording.custody_closed"


def checked_reason(reason: str, what: str = "field.recording") -> str:
    """A reason as stored: trimmed, short, no identity numbers; ReasonMissing when empty."""
    try:
        cleaned = validate_free_text(Text("field.reason"), reason, max_length=REASON_MAX_LENGTH, required=False)
    except InvalidInput as exc:
        raise InvalidRecordingRequest(said_by(exc)) from None
    if not cleaned:
        raise ReasonMissing(Text(what))
    return cleaned


@dataclass(frozen=True, slots=True)
class StaffActor:
    """Someone acting through the edge: a staff id, the organisations they act for, whether they host the
    meeting in question."""

    staff_ref: str
    org_ids: frozenset[int]
    is_host: bool = False

    @property
    def actor(self) -> Actor:
        return Actor(ActorKind.STAFF, self.staff_ref)


class Playback:
    """Decrypted plaintext of one recording, for one HTTP response (Range requests included). Close it."""

    content_type = "video/webm"

    def __init__(self, reader: EncryptedReader, recording: store.RecordingRow) -> None:
        self._reader = reader
        self.recording = recording

    @property
    def complete(self) -> bool:
        """False for a broken recording that plays only up to its last whole chunk."""
        return self._reader.tail is TailState.COMPLETE

    @property
    def size(self) -> int:
        """Readable plaintext bytes (a broken recording: up to its last whole chunk)."""
        return self._reader.plaintext_size

    async def iter_range(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Plaintext ``[start, end)`` decrypted off the event loop, about one chunk per piece."""
        pieces = self._reader.iter_range(start, end)
        while True:
            piece = await asyncio.to_thread(next, pieces, None)
            if piece is None:
                return
            yield piece

    def close(self) -> None:
        self._reader.close()


class RecordingAccess:
    """Reads and custody of recordings; ``RecordingService`` adds recording and deletion on top."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        audit: AuditLog,
        key_provider: KeyProvider,
        clock: Clock,
        options: RecordingOptions,
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._keys = key_provider
        self._clock = clock
        self.options = options

    # --- helpers --------------------------------------------------------------------------------------------

    async def _refused(
        self, error: RecordingError, attempted: str, actor: Actor, orgs: Collection[int], meeting: str | None
    ) -> RecordingError:
        """Audit a refusal (best effort: a refusal must still reach the user if the log cannot take it)."""
        details: dict[str, DetailValue] = {"attempted": attempted, "code": error.code}
        try:
            await self._audit.append(
                AuditRecord(AuditAction.ACCESS_REFUSED.value, actor, tuple(sorted(orgs))[:16], meeting, details)
            )
        except Exception:
            log.exception("refusal could not be audited")
        return error

    async def _row(self, recording_id: str, conn: AsyncConnection | None = None) -> store.RecordingRow:
        if conn is not None:
            row = await store.get_recording(conn, recording_id)
        else:
            async with self._engine.connect() as own:
                row = await store.get_recording(own, recording_id)
        if row is None:
            raise RecordingNotFound()
        return row

    def _path(self, row: store.RecordingRow) -> Path:
        return recording_path(self.options.recordings_dir, row.file_path)

    # --- access ---------------------------------------------------------------------------------------------

    async def _check_access(self, row: store.RecordingRow, viewer: StaffActor, attempted: str) -> None:
        if not viewer.org_ids & set(row.org_ids):
            raise await self._refused(AccessDenied(), attempted, viewer.actor, row.org_ids, row.meeting_id)
        if row.state not in PLAYABLE:
            error = RecordingUnavailable(Text("err.rec.not_playable"))
            raise await self._refused(error, attempted, viewer.actor, row.org_ids, row.meeting_id)

    async def _open(self, row: store.RecordingRow) -> Playback:
        path = self._path(row)
        complete = row.state is State.READY
        try:
            reader = await asyncio.to_thread(EncryptedReader, path, self._keys, require_complete=complete)
        except FileNotFoundError:
            raise RecordingUnavailable(Text("err.rec.file_missing")) from None
        return Playback(reader, row)

    async def open_playback(self, recording_id: str, viewer: StaffActor, *, audit_access: bool = True) -> Playback:
        """Decrypting access for playback by staff of an organisation that took part. Audit once per viewing
        (``audit_access=False`` for the further Range requests of the same viewing)."""
        row = await self._row(recording_id)
        await self._check_access(row, viewer, ACTION_ACCESS)
        playback = await self._open(row)
        if audit_access:
            details: dict[str, DetailValue] = {"recording_id": row.id}
            try:
                await self._audit.append(AuditRecord(ACTION_ACCESS, viewer.actor, row.org_ids, row.meeting_id, details))
            except BaseException:
                playback.close()
                raise
        return playback

    async def export(
        self, recording_id: str, actor: StaffActor, *, org_id: int, reason: str
    ) -> tuple[store.CustodyRecord, Playback]:
        """An explicit export: a custody record says organisation ``org_id`` holds a copy until it is closed."""
        row = await self._row(recording_id)
        try:
            if not self.options.export_allowed:
                raise RecordingNotAllowed(Text("err.rec.export_not_allowed"))
            if org_id not in actor.org_ids or org_id not in row.org_ids:
                raise AccessDenied()
            cleaned = checked_reason(reason, "field.export")
        except RecordingError as exc:
            raise await self._refused(exc, ACTION_EXPORT, actor.actor, row.org_ids, row.meeting_id) from None
        await self._check_access(row, actor, ACTION_EXPORT)
        playback = await self._open(row)
        custody = store.CustodyRecord(store.new_id(), row.id, org_id, cleaned, actor.staff_ref, self._clock.now())
        details: dict[str, DetailValue] = {"recording_id": row.id, "custody_id": custody.id, "holder_org": org_id}
        try:
            async with self._engine.begin() as conn:
                await store.insert_custody(conn, custody)
                await self._audit.append(
                    AuditRecord(ACTION_EXPORT, actor.actor, row.org_ids, row.meeting_id, details), conn=conn
                )
        except BaseException:
            playback.close()
            raise
        return custody, playback

    async def close_custody(self, custody_id: str, actor: StaffActor) -> store.CustodyRecord:
        """The holder organisation states that its exported copy is destroyed."""
        async with self._engine.begin() as conn:
            custody = await store.get_custody(conn, custody_id)
            if custody is None:
                raise CustodyNotFound()
            row = await self._row(custody.recording_id, conn)
            await store.lock_recording(conn, custody.recording_id)
            if custody.org_id not in actor.org_ids:
                refusal = ConfirmationRefused(Text("err.rec.copy_other_org"))
            elif custody.closed_at is not None:
                return custody
            else:
                refusal = None
                now = self._clock.now()
                await store.close_custody(conn, custody_id, actor.staff_ref, now)
                details: dict[str, DetailValue] = {"recording_id": row.id, "custody_id": custody_id}
                await self._audit.append(
                    AuditRecord(ACTION_CUSTODY_CLOSED, actor.actor, row.org_ids, row.meeting_id, details), conn=conn
                )
        if refusal is not None:
            raise await self._refused(refusal, ACTION_CUSTODY_CLOSED, actor.actor, row.org_ids, row.meeting_id)
        async with self._engine.connect() as conn:
            closed = await store.get_custody(conn, custody_id)
        assert closed is not None
        return closed

    # --- deletion proof --------------------------------------------------------------------------------------

    async def confirm_no_copy(self, recording_id: str, *, org_id: int, by: StaffActor) -> store.RecordingRow:
        """Organisation ``org_id`` confirms it holds no copy. Allowed for its own staff, after the certificate
        exists and when none of its exports is still open; the last confirmation closes the recording."""
        refusal: RecordingError | None = None
        async with self._engine.begin() as conn:
            await store.lock_recording(conn, recording_id)  # confirmations of one recording, one at a time
            row = await self._row(recording_id, conn)
            done = {c.org_id for c in await store.confirmations(conn, recording_id)}
            open_copies = [
                c for c in await store.custody_records(conn, recording_id) if c.org_id == org_id and c.closed_at is None
            ]
            if org_id not in by.org_ids:
                refusal = ConfirmationRefused(Text("err.rec.confirm_own_org"))
            elif org_id not in row.org_ids:
                refusal = ConfirmationRefused(Text("err.rec.org_not_in_meeting"))
            elif row.state is State.CLOSED or org_id in done:
                refusal = ConfirmationRefused(Text("err.rec.already_confirmed"))
            elif row.state is not State.DELETED or await store.certificate(conn, recording_id) is None:
                refusal = ConfirmationRefused(Text("err.rec.not_deleted_yet"))
            elif open_copies:
                refusal = ConfirmationRefused(Text("err.rec.open_copies", count=len(open_copies)))
            else:
                now = self._clock.now()
                await store.insert_confirmation(conn, recording_id, store.Confirmation(org_id, by.staff_ref, now))
                details: dict[str, DetailValue] = {"recording_id": recording_id, "confirming_org": org_id}
                await self._audit.append(
                    AuditRecord(
                        AuditAction.RECORDING_DELETION_CONFIRMED.value, by.actor, row.org_ids, row.meeting_id, details
                    ),
                    conn=conn,
                )
                if set(row.org_ids) <= done | {org_id}:
                    await store.update_recording(conn, recording_id, State.DELETED, state=State.CLOSED, closed_at=now)
        if refusal is not None:
            raise await self._refused(
                refusal, AuditAction.RECORDING_DELETION_CONFIRMED.value, by.actor, row.org_ids, row.meeting_id
            )
        return await self._row(recording_id)

    async def find(self, recording_id: str) -> store.RecordingRow | None:
        """A recording's row without an access check (the caller scopes what it shows)."""
        async with self._engine.connect() as conn:
            return await store.get_recording(conn, recording_id)

    async def open_custody(self, recording_id: str) -> list[store.CustodyRecord]:
        """Exported copies of the recording that are not yet destroyed."""
        async with self._engine.connect() as conn:
            return [c for c in await store.custody_records(conn, recording_id) if c.closed_at is None]

    async def compliance_view(self, org_ids: Collection[int] | None) -> list[store.ComplianceEntry]:
        """The compliance officer's list for their organisations (read-only), overdue first."""
        async with self._engine.connect() as conn:
            return await store.compliance_view(
                conn, org_ids=org_ids, now=self._clock.now(), policy=self.options.retention
            )

    async def certificate(self, recording_id: str, viewer_org_ids: Collection[int] | None) -> str | None:
        """The signed certificate document, for organisations that took part (None: any, centre-wide roles)."""
        async with self._engine.connect() as conn:
            row = await self._row(recording_id, conn)
            if viewer_org_ids is not None and not set(viewer_org_ids) & set(row.org_ids):
                raise AccessDenied()
            return await store.certificate(conn, recording_id)
