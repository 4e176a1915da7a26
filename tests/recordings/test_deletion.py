"""The deletion engine with an injected clock: deadlines, crypto-shredding, certificates, resumption after a
crash at every step, and the compliance view's overdue flags."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.ledgers import AuditLog
from recordings import store
from recordings.certificates import verify
from recordings.deletion import RETENTION_ACTOR, DeletionEngine, recording_path
from recordings.encrypted_file import destroy_key, key_destroyed
from recordings.retention import DeletionStep, DeletionTrigger, Overdue, RetentionPolicy, State
from tests.recordings.fakes import FakeKeyProvider, FixedClock
from tests.recordings.support import KOMMUNE, SENTRAL, stored_recording


class Crash(Exception):
    """Stands in for the process dying right after a step was committed."""


def deletion_engine(
    engine: AsyncEngine,
    folder: Path,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
    crash_at: DeletionStep | None = None,
) -> DeletionEngine:
    async def on_step(_recording_id: str, step: DeletionStep) -> None:
        if step is crash_at:
            raise Crash(step.value)

    audit = AuditLog(engine, signing_key, clock)
    return DeletionEngine(
        engine, recordings_dir=folder, audit=audit, signing_key=signing_key, clock=clock, on_step=on_step
    )


async def row_of(engine: AsyncEngine, recording_id: str) -> store.RecordingRow:
    async with engine.connect() as conn:
        row = await store.get_recording(conn, recording_id)
    assert row is not None
    return row


async def certificate_of(engine: AsyncEngine, recording_id: str) -> str | None:
    async with engine.connect() as conn:
        return await store.certificate(conn, recording_id)


async def test_the_sweep_deletes_at_the_deadline_and_not_before(
    engine: AsyncEngine,
    recordings_dir: Path,
    keys: FakeKeyProvider,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
) -> None:
    created = clock.now()
    row = await stored_recording(
        engine, recordings_dir, keys, created_at=created, deadline=created + timedelta(days=30)
    )
    path = recording_path(recordings_dir, row.file_path)
    deletion = deletion_engine(engine, recordings_dir, signing_key, clock)

    clock.advance(days=30, microseconds=-1)
    assert (await deletion.sweep()).deleted == []
    assert path.exists() and (await row_of(engine, row.id)).state is State.READY

    clock.advance(microseconds=1)
    report = await deletion.sweep()
    assert report.deleted == [row.id] and report.failed == []
    assert not path.exists()
    deleted = await row_of(engine, row.id)
    assert deleted.state is State.DELETED
    assert deleted.key_destroyed_at == deleted.file_removed_at == deleted.deleted_at == clock.now()

    document = await certificate_of(engine, row.id)
    assert document is not None
    facts = verify(document, signing_key.public_key()).payload
    assert facts["recording_id"] == row.id
    assert facts["ciphertext_sha256"] == facts["ciphertext_sha256_at_deletion"] == row.ciphertext_sha256
    assert facts["org_ids"] == [KOMMUNE, SENTRAL]
    assert facts["trigger"] == "deadline" and facts["triggered_by"] == {"kind": "system", "ref": "retention"}
    assert facts["created_at"].startswith("2026-03-02T09:00:00") and facts["deadline"].startswith("2026-04-01")

    entries = await AuditLog(engine, signing_key, clock).entries(org_ids=[SENTRAL])
    assert [e.record.action for e in entries] == ["recording.deleted"]
    assert entries[0].record.details == {"recording_id": row.id, "trigger": "deadline"}
    assert (await deletion.sweep()).deleted == []  # nothing left to do


@pytest.mark.parametrize("crash_at", list(DeletionStep))
async def test_a_crash_after_any_step_is_resumed_to_a_certificate(
    engine: AsyncEngine,
    recordings_dir: Path,
    keys: FakeKeyProvider,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
    crash_at: DeletionStep,
) -> None:
    row = await stored_recording(
        engine, recordings_dir, keys, created_at=clock.now(), deadline=clock.now() + timedelta(days=1)
    )
    path = recording_path(recordings_dir, row.file_path)
    crashing = deletion_engine(engine, recordings_dir, signing_key, clock, crash_at)
    with pytest.raises(Crash):
        await crashing.request(row.id, DeletionTrigger.HOST, RETENTION_ACTOR)
        await crashing.run(row.id)
    interrupted = await row_of(engine, row.id)
    assert interrupted.state is State.DELETING and interrupted.deletion_step is crash_at
    assert await certificate_of(engine, row.id) is None
    if crash_at is DeletionStep.KEY_DESTROYED:
        assert key_destroyed(path)  # the key is gone and no certificate exists: the state resume must repair

    clock.advance(minutes=5)
    restarted = deletion_engine(engine, recordings_dir, signing_key, clock)
    assert (await restarted.resume_all()).deleted == [row.id]
    assert not path.exists()
    document = await certificate_of(engine, row.id)
    assert document is not None
    assert verify(document, signing_key.public_key()).payload["trigger"] == "host"


async def test_shredded_before_the_step_was_committed_still_finishes(
    engine: AsyncEngine,
    recordings_dir: Path,
    keys: FakeKeyProvider,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
) -> None:
    row = await stored_recording(
        engine, recordings_dir, keys, created_at=clock.now(), deadline=clock.now() + timedelta(days=1)
    )
    deletion = deletion_engine(engine, recordings_dir, signing_key, clock, crash_at=DeletionStep.REQUESTED)
    with pytest.raises(Crash):
        await deletion.request(row.id, DeletionTrigger.CONSENT_WITHDRAWN, RETENTION_ACTOR)
    destroy_key(recording_path(recordings_dir, row.file_path))  # died after shredding, before recording it
    assert (await deletion_engine(engine, recordings_dir, signing_key, clock).resume_all()).deleted == [row.id]
    document = await certificate_of(engine, row.id)
    assert document is not None
    payload = verify(document, signing_key.public_key()).payload
    assert payload["ciphertext_sha256"] == row.ciphertext_sha256
    assert payload["ciphertext_sha256_at_deletion"] is None  # shredded before it was hashed: said, not guessed


async def test_a_missing_file_is_still_certified(
    engine: AsyncEngine,
    recordings_dir: Path,
    keys: FakeKeyProvider,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
) -> None:
    row = await stored_recording(
        engine, recordings_dir, keys, created_at=clock.now(), deadline=clock.now() + timedelta(hours=1)
    )
    recording_path(recordings_dir, row.file_path).unlink()
    clock.advance(hours=2)
    assert (await deletion_engine(engine, recordings_dir, signing_key, clock).sweep()).deleted == [row.id]
    document = await certificate_of(engine, row.id)
    assert document is not None
    assert json.loads(document)["certificate"]["ciphertext_sha256_at_deletion"] is None


async def test_a_recording_still_being_written_is_not_deleted_by_the_engine(
    engine: AsyncEngine,
    recordings_dir: Path,
    keys: FakeKeyProvider,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
) -> None:
    row = await stored_recording(
        engine,
        recordings_dir,
        keys,
        created_at=clock.now(),
        deadline=clock.now() + timedelta(hours=1),
        state=State.RECORDING,
    )
    deletion = deletion_engine(engine, recordings_dir, signing_key, clock)
    assert await deletion.request(row.id, DeletionTrigger.HOST, RETENTION_ACTOR) is False
    clock.advance(hours=2)
    assert (await deletion.sweep()).deleted == []  # the service stops it first, then deletes


async def test_overdue_flags_in_the_compliance_view_over_time(
    engine: AsyncEngine,
    recordings_dir: Path,
    keys: FakeKeyProvider,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
) -> None:
    policy = RetentionPolicy(deletion_tolerance=timedelta(hours=1), confirmation_grace=timedelta(days=7))
    t0 = clock.now()
    soon = await stored_recording(engine, recordings_dir, keys, created_at=t0, deadline=t0 + timedelta(days=2))
    later = await stored_recording(engine, recordings_dir, keys, created_at=t0, deadline=t0 + timedelta(days=20))
    other = await stored_recording(
        engine, recordings_dir, keys, created_at=t0, deadline=t0 + timedelta(days=1), org_ids=(99,)
    )

    async def view() -> list[tuple[str, Overdue | None, State]]:
        async with engine.connect() as conn:
            entries = await store.compliance_view(conn, org_ids=[KOMMUNE], now=clock.now(), policy=policy)
        return [(e.recording.id, e.overdue, e.recording.state) for e in entries]

    assert await view() == [(soon.id, None, State.READY), (later.id, None, State.READY)]
    clock.advance(days=3)  # the sweep did not run (server down): soon is overdue, listed first
    assert await view() == [(soon.id, Overdue.DEADLINE_PASSED, State.READY), (later.id, None, State.READY)]

    await deletion_engine(engine, recordings_dir, signing_key, clock).sweep()
    assert await view() == [(soon.id, None, State.DELETED), (later.id, None, State.READY)]
    clock.advance(days=8)  # deleted, but nobody confirmed within the grace period
    assert await view() == [(soon.id, Overdue.UNCONFIRMED, State.DELETED), (later.id, None, State.READY)]
    clock.advance(days=10)  # later passed its deadline too (not swept yet): both overdue, earliest deadline first
    assert [flag for _, flag, _ in await view()] == [Overdue.UNCONFIRMED, Overdue.DEADLINE_PASSED]

    async with engine.connect() as conn:
        assert await store.compliance_view(conn, org_ids=[], now=clock.now(), policy=policy) == []
        everything = await store.compliance_view(conn, org_ids=None, now=clock.now(), policy=policy)
    assert {e.recording.id for e in everything} == {soon.id, later.id, other.id}
