"""The deletion engine: crypto-shred, remove, certify, as a state machine persisted in the database.

A deletion is requested (the row moves to ``deleting`` with step ``requested`` and who/what triggered it), then
carried out step by step, each step committed before the next begins:

1. ``requested`` -> ``key_destroyed``: hash the file as it is (once), overwrite its wrapped data key in place
   and fsync (crypto-shredding: from here on the ciphertext is noise), then record the step.
2. ``key_destroyed`` -> ``file_removed``: unlink the file and fsync its directory, then record the step.
3. ``file_removed`` -> state ``deleted``: sign the certificate and, in one transaction, store it, move the row to
   ``deleted`` and append ``recording.deleted`` to the audit log.

Every step is idempotent (shredding a shredded header, unlinking a missing file), so a crash between the work and
its commit repeats the step harmlessly, and ``resume_all`` (at start-up and on every sweep) carries on from the
persisted step: a destroyed key always ends with a certificate. State changes are compare-and-set on state and
step, and the certificate's primary key is the recording id, so two workers cannot both certify one recording.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.audit_record import Actor, ActorKind, AuditAction, AuditRecord
from privacy.records.ledgers import AuditLog, Clock
from recordings import store
from recordings.certificates import DeletionFacts, issue
from recordings.encrypted_file import destroy_key, file_sha256, fsync_directory, key_destroyed
from recordings.errors import ContainerError, RecordingNotFound
from recordings.retention import DeletionStep, DeletionTrigger, State

log = logging.getLogger(__name__)

StepHook = Callable[[str, DeletionStep], Awaitable[None]]
RETENTION_ACTOR = Actor(ActorKind.SYSTEM, "retention")
_MAX_STEPS = 8


def recording_path(recordings_dir: Path, file_path: str) -> Path:
    """The file of a recording; refuses a stored path that would leave the recordings directory."""
    base = recordings_dir.resolve()
    path = (base / file_path).resolve()
    if path.parent != base:
        raise ValueError("recording path outside the recordings directory")
    return path


def _hash_unless_shredded(path: Path) -> str | None:
    try:
        if key_destroyed(path):
            return None
    except FileNotFoundError:
        return None
    except ContainerError:
        pass  # damaged header: hash it as it is, the certificate should say what was destroyed
    return file_sha256(path)


def _shred(path: Path) -> None:
    try:
        destroy_key(path)
    except FileNotFoundError:
        log.warning("recording file already missing at key destruction")


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    fsync_directory(path.parent)


@dataclass
class SweepReport:
    deleted: list[str] = field(default_factory=list)
    """Recordings that reached ``deleted`` in this sweep (resumed or due)."""
    failed: list[str] = field(default_factory=list)
    """Recordings whose deletion raised; they stay ``deleting`` and are retried on the next sweep."""


class DeletionEngine:
    """Carries out deletions. ``on_step`` (optional) is awaited after each step is committed, for metrics and for
    tests that stop the process between steps."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        recordings_dir: Path,
        audit: AuditLog,
        signing_key: Ed25519PrivateKey,
        clock: Clock,
        on_step: StepHook | None = None,
    ) -> None:
        self._engine = engine
        self._dir = recordings_dir
        self._audit = audit
        self._key = signing_key
        self._clock = clock
        self._on_step = on_step
        self._lock = asyncio.Lock()

    async def request(self, recording_id: str, trigger: DeletionTrigger, actor: Actor) -> bool:
        """Persist a deletion request for a ready or broken recording; False when it is not in such a state
        (already deleting or deleted: nothing to do; still recording: the caller must stop it first)."""
        async with self._engine.begin() as conn:
            if await store.get_recording(conn, recording_id) is None:
                raise RecordingNotFound()
            moved = await store.update_recording(
                conn,
                recording_id,
                {State.READY, State.BROKEN},
                state=State.DELETING,
                deletion_step=DeletionStep.REQUESTED,
                deletion_trigger=trigger,
                deletion_actor_kind=actor.kind.value,
                deletion_actor_ref=actor.ref,
                deletion_requested_at=self._clock.now(),
            )
        if moved:
            await self._stepped(recording_id, DeletionStep.REQUESTED)
        return moved

    async def run(self, recording_id: str) -> bool:
        """Carry a requested deletion through to the certificate; True when the recording is deleted (or closed)."""
        async with self._lock:
            for _ in range(_MAX_STEPS):
                async with self._engine.connect() as conn:
                    row = await store.get_recording(conn, recording_id)
                if row is None:
                    raise RecordingNotFound()
                if row.state is not State.DELETING:
                    return row.state in (State.DELETED, State.CLOSED)
                await self._advance(row)
        raise RuntimeError("deletion did not settle")

    async def resume_all(self) -> SweepReport:
        """Finish every deletion left half-way (after a crash or a failed attempt)."""
        async with self._engine.connect() as conn:
            ids = await store.ids_in_state(conn, [State.DELETING])
        return await self._run_many(ids)

    async def sweep(self) -> SweepReport:
        """Resume interrupted deletions, then delete every ready or broken recording whose deadline has come."""
        report = await self.resume_all()
        async with self._engine.connect() as conn:
            due = await store.ids_in_state(conn, [State.READY, State.BROKEN], due_at=self._clock.now())
        for recording_id in due:
            try:
                await self.request(recording_id, DeletionTrigger.DEADLINE, RETENTION_ACTOR)
            except Exception:
                log.exception("deletion request failed")
                report.failed.append(recording_id)
        more = await self._run_many([r for r in due if r not in report.failed])
        report.deleted += more.deleted
        report.failed += more.failed
        return report

    async def _run_many(self, ids: list[str]) -> SweepReport:
        report = SweepReport()
        for recording_id in ids:
            try:
                if await self.run(recording_id):
                    report.deleted.append(recording_id)
            except Exception:
                log.exception("deletion step failed")
                report.failed.append(recording_id)
        return report

    async def _stepped(self, recording_id: str, step: DeletionStep) -> None:
        if self._on_step is not None:
            await self._on_step(recording_id, step)

    async def _advance(self, row: store.RecordingRow) -> None:
        path = recording_path(self._dir, row.file_path)
        step = row.deletion_step or DeletionStep.REQUESTED
        if step is DeletionStep.REQUESTED:
            if row.deletion_sha256 is None:
                digest = await asyncio.to_thread(_hash_unless_shredded, path)
                if digest is not None:
                    await self._set(row.id, step, deletion_sha256=digest)
            await asyncio.to_thread(_shred, path)
            if await self._set(row.id, step, deletion_step=DeletionStep.KEY_DESTROYED, key_destroyed_at=self._now()):
                await self._stepped(row.id, DeletionStep.KEY_DESTROYED)
        elif step is DeletionStep.KEY_DESTROYED:
            await asyncio.to_thread(_remove, path)
            if await self._set(row.id, step, deletion_step=DeletionStep.FILE_REMOVED, file_removed_at=self._now()):
                await self._stepped(row.id, DeletionStep.FILE_REMOVED)
        else:
            await self._certify(row)

    def _now(self) -> datetime:
        return self._clock.now()

    async def _set(self, recording_id: str, step: DeletionStep, **values: object) -> bool:
        async with self._engine.begin() as conn:
            return await store.update_deletion_step(conn, recording_id, step, **values)

    async def _certify(self, row: store.RecordingRow) -> None:
        now = self._clock.now()
        trigger = row.deletion_trigger or DeletionTrigger.DEADLINE
        actor = Actor(ActorKind(row.deletion_actor_kind or "system"), row.deletion_actor_ref or "retention")
        facts = DeletionFacts(
            recording_id=row.id,
            meeting_id=row.meeting_id,
            org_ids=row.org_ids,
            ciphertext_sha256=row.ciphertext_sha256,
            ciphertext_sha256_at_deletion=row.deletion_sha256,
            created_at=row.created_at,
            deadline=row.deadline,
            deletion_requested_at=row.deletion_requested_at or now,
            key_destroyed_at=row.key_destroyed_at or now,
            file_removed_at=row.file_removed_at or now,
            trigger=trigger,
            actor_kind=actor.kind.value,
            actor_ref=actor.ref,
        )
        document = issue(facts, self._key, now)
        record = AuditRecord(
            AuditAction.RECORDING_DELETED.value,
            actor,
            row.org_ids,
            row.meeting_id,
            {"recording_id": row.id, "trigger": trigger.value},
        )
        try:
            async with self._engine.begin() as conn:
                await store.insert_certificate(conn, row.id, now, document)
                moved = await store.update_deletion_step(
                    conn, row.id, DeletionStep.FILE_REMOVED, state=State.DELETED, deleted_at=now
                )
                if not moved:
                    raise _Lost()
                await self._audit.append(record, conn=conn)
        except (_Lost, IntegrityError):
            return  # another worker certified it; the caller re-reads the row
        log.info("recording deleted", extra={"recording_id": row.id, "trigger": trigger.value})


class _Lost(Exception):
    """The row moved on under us (another worker); roll back and re-read."""
