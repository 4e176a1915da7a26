"""Recording meetings: start and stop, route participants' processed tracks to the recorder, recover after a
crash, and delete (at the deadline, by a host, after consent was withdrawn). ``RecordingService`` also carries
everything of ``RecordingAccess`` (playback, export, custody, confirmations, compliance view), so the
composition root holds one object.

Starting checks what the service can know itself: a host, a reason, an allowed deadline, a ``recording`` consent
in the ledger for every participant the edge names as a user (``bruker``), one recording per meeting. Start,
stop and deletion are audited; refusals as ``access.refused``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Collection, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

from aiortc.mediastreams import MediaStreamTrack
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.audit_record import Actor, ActorKind, AuditAction, AuditRecord, DetailValue
from privacy.records.consent import Scope
from privacy.records.ledgers import AuditLog, Clock, ConsentLedger
from privacy.records.signed_chain import format_time
from privacy.user_text import Text
from recordings import store
from recordings.access import Playback, RecordingAccess, StaffActor, checked_reason
from recordings.deletion import DeletionEngine, StepHook, SweepReport
from recordings.encrypted_file import EncryptedWriter, FinishedFile, file_sha256
from recordings.errors import AccessDenied, RecordingError, RecordingNotAllowed, RecordingUnavailable
from recordings.key_provider import KeyProvider
from recordings.options import RecordingOptions
from recordings.recorder import Recorder
from recordings.retention import DeletionTrigger, State, choose_deadline

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Active:
    recording_id: str
    meeting_id: str
    recorder: Recorder
    writer: EncryptedWriter
    stopping: bool = False


class RecordingService(RecordingAccess):
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
        super().__init__(engine, audit=audit, key_provider=key_provider, clock=clock, options=options)
        self._consent = consent
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
                raise RecordingNotAllowed(Text("err.rec.start_host_only"))
            if not orgs or not host.org_ids & orgs:
                raise RecordingNotAllowed(Text("err.rec.start_own_org"))
            cleaned = checked_reason(reason)
            now = self._clock.now()
            chosen = choose_deadline(self.options.retention, now, deadline)
            for ref in user_refs:
                scopes = await self._consent.active_scopes(meeting_id, ref, now)
                if Scope.RECORDING not in scopes:
                    raise RecordingNotAllowed(Text("err.rec.needs_consent"))
            if meeting_id in self._by_meeting or meeting_id in self._starting:
                raise RecordingUnavailable(Text("err.rec.already_recording"))
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

    async def add_participant(
        self,
        meeting_id: str,
        participant_ref: str,
        *,
        is_user: bool,
        video: MediaStreamTrack | None = None,
        audio: MediaStreamTrack | None = None,
    ) -> bool:
        """Record a participant's processed tracks (``Fanout.subscribe()`` of their PrivacyTrack and of their
        audio; never a raw inbound track) if the meeting is being recorded. A user (``is_user``: role ``bruker``)
        is recorded only with an active ``recording`` consent, so one who joins later without it is left out.
        False when nothing is recorded: the tracks are untouched and the caller stops them."""
        recording_id = self._by_meeting.get(meeting_id, "")
        if recording_id not in self._active:
            return False
        if is_user:
            scopes = await self._consent.active_scopes(meeting_id, participant_ref, self._clock.now())
            if Scope.RECORDING not in scopes:
                return False
        active = self._active.get(recording_id)  # looked up again: the recording may have stopped meanwhile
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
                raise RecordingUnavailable(Text("err.rec.other_server"))
            return row
        if by is not None and not by.is_host:
            error = RecordingNotAllowed(Text("err.rec.stop_host_only"))
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

    async def recover(self, node: str | None = None) -> list[str]:
        """At start-up: recordings this node was writing when it died become ``broken`` (playable up to the last
        whole chunk), and interrupted deletions are finished. Returns the recovered recording ids. With ``node``,
        the same for a dead node's recordings (another node found that it stopped beating)."""
        async with self._engine.connect() as conn:
            ids = await store.ids_in_state(conn, [State.RECORDING], node=node or self.options.node)
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


__all__ = ["Playback", "RecordingAccess", "RecordingOptions", "RecordingService", "StaffActor"]
