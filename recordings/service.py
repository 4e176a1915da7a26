"""What the composition root calls: start and stop recordings, route participants' processed tracks to them,
play back and export with audit, confirm deletion, sweep deadlines, and the compliance view.

The service checks what it can know itself (consent in the ledger, reason, deadline, which organisations took
part, states, custody) and takes what only the edge knows as arguments: who is acting (``StaffActor``: staff id,
the organisations they act for, whether they host this meeting) and which participants are users (``bruker``).
Role checks beyond that (who may play back, export or confirm at all) stay with the edge. Every start, stop,
access, export, deletion, custody close and confirmation is audited; refusals are audited as ``access.refused``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aiortc.mediastreams import MediaStreamTrack
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from privacy.audit_record import Actor, ActorKind, AuditAction, AuditRecord, DetailValue
from privacy.consent import Scope
from privacy.ledgers import AuditLog, Clock, ConsentLedger
from privacy.record_errors import InvalidInput
from privacy.signed_chain import format_time
from privacy.validators import validate_free_text
from recordings import store
from recordings.container_format import DEFAULT_CHUNK_SIZE
from recordings.deletion import DeletionEngine, StepHook, SweepReport, recording_path
from recordings.encrypted_file import EncryptedReader, EncryptedWriter, FinishedFile, TailState, file_sha256
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
from recordings.recorder import Recorder, RecorderOptions
from recordings.retention import PLAYABLE, DeletionTrigger, RetentionPolicy, State, choose_deadline

log = logging.getLogger(__name__)

REASON_MAX_LENGTH = 200
ACTION_EXPORT = "recording.export"
ACTION_ACCESS = "recording.access"
ACTION_CUSTODY_CLOSED = "recording.custody_closed"


@dataclass(frozen=True, slots=True)
class RecordingOptions:
    """Recording settings (from configuration)."""

    recordings_dir: Path
    """Where encrypted files are written; the KEK must not be stored under it (nor under the data directory)."""
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    recorder: RecorderOptions = field(default_factory=RecorderOptions)
    export_allowed: bool = False
    """Whether staff may export a copy at all (each export creates a custody record)."""
    node: str = "local"
    """This server process's name: after a crash it only recovers the recordings it was writing itself."""
    chunk_size: int = DEFAULT_CHUNK_SIZE
    sync_every_chunk: bool = True
    """fsync after every sealed chunk (see encrypted_file); off trades crash durability for fewer syncs."""


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


@dataclass(eq=False)
class _Active:
    recording_id: str
    meeting_id: str
    recorder: Recorder
    writer: EncryptedWriter
    stopping: bool = False


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


class RecordingService:
    """One per server process; create it in the composition root and call ``recover()`` before serving."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        consent: ConsentLedger,
        audit: AuditLog,
        key_provider: KeyProvider,
        signing_key: Ed25519PrivateKey,
        clock: Clock,
        options: RecordingOptions,
        executor: Executor | None = None,
        on_deletion_step: StepHook | None = None,
    ) -> None:
        self._engine = engine
        self._consent = consent
        self._audit = audit
        self._keys = key_provider
        self._clock = clock
        self.options = options
        self._executor = executor
        self._active: dict[str, _Active] = {}
        self._by_meeting: dict[str, str] = {}
        self._starting: set[str] = set()
        self._background: set[asyncio.Future[store.RecordingRow]] = set()
        self.deletion = DeletionEngine(
            engine,
            recordings_dir=options.recordings_dir,
            audit=audit,
            signing_key=signing_key,
            clock=clock,
            on_step=on_deletion_step,
        )

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

    # --- recording ------------------------------------------------------------------------------------------

    def active_recording(self, meeting_id: str) -> str | None:
        """The id of the meeting's running recording (show "recording is on" to everyone while there is one)."""
        return self._by_meeting.get(meeting_id)

    async def start(
        self,
        *,
        meeting_id: str,
        org_ids: Collection[int],
        host: StaffActor,
        reason: str,
        user_refs: Sequence[str],
        deadline: datetime | None = None,
    ) -> store.RecordingRow:
        """Start recording a meeting. ``org_ids`` are the organisations taking part, ``user_refs`` the participant
        refs with the role ``bruker`` (each needs an active ``recording`` consent). Then add participants."""
        orgs = frozenset(org_ids)
        try:
            if not host.is_host:
                raise RecordingNotAllowed("Bare en ansatt som er vert for møtet, kan starte opptak.")
            if not orgs or not host.org_ids & orgs:
                raise RecordingNotAllowed("Du kan bare starte opptak i møter for din egen organisasjon.")
            try:
                cleaned = validate_free_text("Begrunnelse", reason, max_length=REASON_MAX_LENGTH, required=False)
            except InvalidInput as exc:
                raise InvalidRecordingRequest(exc.message) from None
            if not cleaned:
                raise ReasonMissing()
            now = self._clock.now()
            chosen = choose_deadline(self.options.retention, now, deadline)
            for ref in user_refs:
                scopes = await self._consent.active_scopes(meeting_id, ref, now)
                if Scope.RECORDING not in scopes:
                    raise RecordingNotAllowed(
                        "Opptak krever at brukeren har samtykket til opptak. Registrer samtykket først."
                    )
            if meeting_id in self._by_meeting or meeting_id in self._starting:
                raise RecordingUnavailable("Opptak pågår allerede i dette møtet.")
        except RecordingError as exc:
            raise await self._refused(exc, "recording.start", host.actor, orgs, meeting_id) from None
        self._starting.add(meeting_id)
        try:
            return await self._start(meeting_id, orgs, host, cleaned, now, chosen)
        finally:
            self._starting.discard(meeting_id)

    async def _start(
        self, meeting_id: str, orgs: frozenset[int], host: StaffActor, reason: str, now: datetime, deadline: datetime
    ) -> store.RecordingRow:
        recording_id = store.new_id()
        kek = self._keys.current()
        row = store.RecordingRow(
            id=recording_id,
            meeting_id=meeting_id,
            node=self.options.node,
            reason=reason,
            started_by=host.staff_ref,
            created_at=now,
            deadline=deadline,
            state=State.RECORDING,
            file_path=f"{recording_id}.rec",
            kek_id=kek.kek_id.hex(),
            org_ids=tuple(sorted(orgs)),
        )
        details: dict[str, DetailValue] = {"recording_id": recording_id, "deadline": format_time(row.deadline)}
        # The row first: a crash before the file exists leaves a row that recovery marks broken, never a file
        # that no row knows about.
        async with self._engine.begin() as conn:
            await store.insert_recording(conn, row)
            await self._audit.append(
                AuditRecord(AuditAction.RECORDING_START.value, host.actor, row.org_ids, meeting_id, details), conn=conn
            )
        writer: EncryptedWriter | None = None
        recorder: Recorder | None = None
        try:
            self.options.recordings_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            writer = await asyncio.to_thread(
                EncryptedWriter,
                self._path(row),
                uuid.UUID(hex=recording_id),
                self._keys,
                chunk_size=self.options.chunk_size,
                sync_every_chunk=self.options.sync_every_chunk,
            )
            recorder = Recorder(
                writer,
                self.options.recorder,
                executor=self._executor,
                on_failure=lambda _exc: self._failed(recording_id),
            )
            await recorder.start()
        except Exception:
            log.exception("recording could not start")
            if recorder is not None:
                await recorder.stop()
            if writer is not None:
                writer.abort()
            await self._finish(row, None, None, broken=True)
            raise
        self._active[recording_id] = _Active(recording_id, meeting_id, recorder, writer)
        self._by_meeting[meeting_id] = recording_id
        log.info("recording started", extra={"recording_id": recording_id})
        return row

    def add_participant(
        self,
        meeting_id: str,
        participant_ref: str,
        *,
        video: MediaStreamTrack | None = None,
        audio: MediaStreamTrack | None = None,
    ) -> bool:
        """Record a participant's processed tracks (``Fanout.subscribe()`` of their PrivacyTrack and audio) if the
        meeting is being recorded; False (tracks untouched) when it is not. Never pass a raw inbound track."""
        active = self._active.get(self._by_meeting.get(meeting_id, ""))
        if active is None or active.stopping or active.recorder.failure is not None:
            return False
        active.recorder.add_participant(participant_ref, video=video, audio=audio)
        return True

    def stop_participant(self, meeting_id: str, participant_ref: str) -> bool:
        """Stop recording one participant's media at once (consent withdrawn, pause). Add them again on resume."""
        active = self._active.get(self._by_meeting.get(meeting_id, ""))
        return active.recorder.stop_participant(participant_ref) if active is not None else False

    async def stop(self, recording_id: str, by: StaffActor | None = None) -> store.RecordingRow:
        """Finish a recording (``by`` a host, or the system when None): the file is sealed and becomes playable."""
        active = self._active.get(recording_id)
        if active is None:
            row = await self._row(recording_id)
            if row.state is State.RECORDING:
                raise RecordingUnavailable("Opptaket tas opp på en annen server og kan ikke stoppes herfra.")
            return row
        if by is not None and not by.is_host:
            error = RecordingNotAllowed("Bare en ansatt som er vert for møtet, kan stoppe opptaket.")
            row = await self._row(recording_id)
            raise await self._refused(error, "recording.stop", by.actor, row.org_ids, row.meeting_id)
        return await self._stop_active(active, by.actor if by else Actor(ActorKind.SYSTEM, "recorder"))

    async def _stop_active(self, active: _Active, actor: Actor) -> store.RecordingRow:
        if active.stopping:
            return await self._row(active.recording_id)
        active.stopping = True
        try:
            stats = await active.recorder.stop()
            finished: FinishedFile | None = None
            if active.recorder.failure is None:
                try:
                    finished = await asyncio.to_thread(active.writer.close)
                except OSError:
                    log.exception("recording file could not be finished")
            if finished is None:
                active.writer.abort()
            row = await self._row(active.recording_id)
            return await self._finish(
                row, finished, round(stats.duration_s * 1000), broken=finished is None, actor=actor
            )
        finally:
            self._active.pop(active.recording_id, None)
            if self._by_meeting.get(active.meeting_id) == active.recording_id:
                del self._by_meeting[active.meeting_id]

    def _failed(self, recording_id: str) -> None:
        active = self._active.get(recording_id)
        if active is not None and not active.stopping:
            task = asyncio.ensure_future(self._stop_active(active, Actor(ActorKind.SYSTEM, "recorder")))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _finish(
        self,
        row: store.RecordingRow,
        finished: FinishedFile | None,
        duration_ms: int | None,
        *,
        broken: bool,
        actor: Actor | None = None,
    ) -> store.RecordingRow:
        values: dict[str, object] = {"finished_at": self._clock.now(), "duration_ms": duration_ms}
        if finished is not None:
            values.update(ciphertext_sha256=finished.sha256, size_bytes=finished.size)
        else:
            path = self._path(row)
            if path.exists():
                values.update(
                    ciphertext_sha256=await asyncio.to_thread(file_sha256, path), size_bytes=path.stat().st_size
                )
        state = State.BROKEN if broken else State.READY
        details: dict[str, DetailValue] = {"recording_id": row.id, "outcome": state.value}
        async with self._engine.begin() as conn:
            if await store.update_recording(conn, row.id, State.RECORDING, state=state, **values):
                record = AuditRecord(
                    AuditAction.RECORDING_STOP.value,
                    actor or Actor(ActorKind.SYSTEM, "recorder"),
                    row.org_ids,
                    row.meeting_id,
                    details,
                )
                await self._audit.append(record, conn=conn)
        return await self._row(row.id)

    async def recover(self) -> list[str]:
        """At start-up: recordings this node was writing when it died become ``broken`` (playable up to the last
        whole chunk), and interrupted deletions are finished. Returns the recovered recording ids."""
        async with self._engine.connect() as conn:
            ids = await store.ids_in_state(conn, [State.RECORDING], node=self.options.node)
        recovered = []
        for recording_id in ids:
            if recording_id in self._active:
                continue
            row = await self._row(recording_id)
            await self._finish(row, None, None, broken=True, actor=Actor(ActorKind.SYSTEM, "recovery"))
            recovered.append(recording_id)
        await self.deletion.resume_all()
        return recovered

    async def close(self) -> None:
        """Shutdown: finish every running recording (they become ready)."""
        for active in list(self._active.values()):
            with contextlib.suppress(Exception):
                await self._stop_active(active, Actor(ActorKind.SYSTEM, "shutdown"))
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # --- access ---------------------------------------------------------------------------------------------

    async def _check_access(self, row: store.RecordingRow, viewer: StaffActor, attempted: str) -> None:
        if not viewer.org_ids & set(row.org_ids):
            raise await self._refused(AccessDenied(), attempted, viewer.actor, row.org_ids, row.meeting_id)
        if row.state not in PLAYABLE:
            error = RecordingUnavailable("Opptaket kan ikke spilles av nå (det tas opp, eller det er slettet).")
            raise await self._refused(error, attempted, viewer.actor, row.org_ids, row.meeting_id)

    async def _open(self, row: store.RecordingRow) -> Playback:
        path = self._path(row)
        complete = row.state is State.READY
        try:
            reader = await asyncio.to_thread(EncryptedReader, path, self._keys, require_complete=complete)
        except FileNotFoundError:
            raise RecordingUnavailable("Opptaksfilen mangler.") from None
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
                raise RecordingNotAllowed("Eksport av opptak er ikke tillatt etter retningslinjene.")
            if org_id not in actor.org_ids or org_id not in row.org_ids:
                raise AccessDenied()
            try:
                cleaned = validate_free_text("Begrunnelse", reason, max_length=REASON_MAX_LENGTH, required=False)
            except InvalidInput as exc:
                raise InvalidRecordingRequest(exc.message) from None
            if not cleaned:
                raise ReasonMissing("Eksporten")
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
            if custody.org_id not in actor.org_ids:
                error = ConfirmationRefused("Bare organisasjonen som har kopien, kan registrere at den er slettet.")
                refusal = error
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

    # --- deletion -------------------------------------------------------------------------------------------

    async def request_deletion(
        self, recording_id: str, *, trigger: DeletionTrigger, by: StaffActor | None = None
    ) -> bool:
        """Delete now (a host's request, or after consent was withdrawn), stopping the recording first if it
        runs. ``by`` is the staff member asking (an organisation that took part), None for the system.
        Returns True once the certificate exists."""
        row = await self._row(recording_id)
        if by is not None and not by.org_ids & set(row.org_ids):
            raise await self._refused(AccessDenied(), "recording.delete", by.actor, row.org_ids, row.meeting_id)
        actor = by.actor if by is not None else Actor(ActorKind.SYSTEM, trigger.value)
        active = self._active.get(recording_id)
        if active is not None:
            await self._stop_active(active, actor)
        await self.deletion.request(recording_id, trigger, actor)
        return await self.deletion.run(recording_id)

    async def sweep(self) -> SweepReport:
        """Run periodically (e.g. every minute, in ``cleanup_ctx``): stops running recordings whose deadline has
        come, finishes interrupted deletions and deletes every recording at its deadline."""
        now = self._clock.now()
        for active in list(self._active.values()):
            row = await self._row(active.recording_id)
            if now >= row.deadline:
                await self._stop_active(active, Actor(ActorKind.SYSTEM, "retention"))
        return await self.deletion.sweep()

    async def confirm_no_copy(self, recording_id: str, *, org_id: int, by: StaffActor) -> store.RecordingRow:
        """Organisation ``org_id`` confirms it holds no copy. Allowed for its own staff, after the certificate
        exists and when none of its exports is still open; the last confirmation closes the recording."""
        refusal: RecordingError | None = None
        async with self._engine.begin() as conn:
            row = await self._row(recording_id, conn)
            done = {c.org_id for c in await store.confirmations(conn, recording_id)}
            open_copies = [
                c for c in await store.custody_records(conn, recording_id) if c.org_id == org_id and c.closed_at is None
            ]
            if org_id not in by.org_ids:
                refusal = ConfirmationRefused("Du kan bare bekrefte sletting på vegne av din egen organisasjon.")
            elif org_id not in row.org_ids:
                refusal = ConfirmationRefused("Organisasjonen deltok ikke i møtet der opptaket ble gjort.")
            elif row.state is State.CLOSED or org_id in done:
                refusal = ConfirmationRefused("Organisasjonen har allerede bekreftet slettingen.")
            elif row.state is not State.DELETED or await store.certificate(conn, recording_id) is None:
                refusal = ConfirmationRefused(
                    "Opptaket er ikke slettet ennå. Bekreftelsen kan gis når slettesertifikatet finnes."
                )
            elif open_copies:
                refusal = ConfirmationRefused(
                    f"Organisasjonen har {len(open_copies)} eksportert(e) kopi(er) som ikke er registrert slettet. "
                    "Registrer først at kopiene er slettet."
                )
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
