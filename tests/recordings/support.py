"""Builders for the recordings tests: a stored recording without running the encoder, consent, services."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.consent import ConsentForm, ConsentGiven, Giver, Recorder, RecorderKind, Scope
from privacy.records.ledgers import AuditLog, AuditView, ConsentLedger
from recordings import store
from recordings.encrypted_file import EncryptedWriter
from recordings.retention import RetentionPolicy, State
from recordings.service import RecordingOptions, RecordingService
from tests.recordings.fakes import FakeKeyProvider, FixedClock

MEETING = "meeting-1"
KOMMUNE, SENTRAL, OTHER = 11, 22, 33


async def stored_recording(
    engine: AsyncEngine,
    folder: Path,
    keys: FakeKeyProvider,
    *,
    created_at: datetime,
    deadline: datetime,
    org_ids: tuple[int, ...] = (KOMMUNE, SENTRAL),
    state: State = State.READY,
    size: int = 50_000,
) -> store.RecordingRow:
    """A finished recording of random bytes, as the service would leave it (file, row, hash)."""
    recording_id = store.new_id()
    path = folder / f"{recording_id}.rec"
    writer = EncryptedWriter(path, uuid.UUID(hex=recording_id), keys)
    writer.write(os.urandom(size))
    finished = writer.close()
    row = store.RecordingRow(
        id=recording_id,
        meeting_id=MEETING,
        node="local",
        reason="dokumentere tilpasning",
        started_by="staff-1",
        created_at=created_at,
        deadline=deadline,
        state=state,
        file_path=path.name,
        kek_id=keys.current().kek_id.hex(),
        org_ids=org_ids,
        finished_at=created_at + timedelta(minutes=20),
        duration_ms=20 * 60 * 1000,
        size_bytes=path.stat().st_size,
        ciphertext_sha256=finished.sha256,
    )
    async with engine.begin() as conn:
        await store.insert_recording(conn, row)
    return row


def recording_consent(meeting_id: str, subject_ref: str, given_at: datetime, consent_id: str) -> ConsentGiven:
    return ConsentGiven(
        consent_id=consent_id,
        meeting_id=meeting_id,
        subject_ref=subject_ref,
        giver=Giver.USER,
        form=ConsentForm.ORAL,
        scopes=frozenset({Scope.VIDEO, Scope.AUDIO, Scope.RECORDING}),
        purpose="dokumentere tilpasning",
        given_at=given_at,
        recorded_by=Recorder(RecorderKind.STAFF, "staff-1"),
    )


def make_service(
    engine: AsyncEngine,
    folder: Path,
    keys: FakeKeyProvider,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
    *,
    policy: RetentionPolicy | None = None,
    export_allowed: bool = False,
) -> tuple[RecordingService, ConsentLedger, AuditLog]:
    consent = ConsentLedger(engine, signing_key, clock)
    audit = AuditLog(engine, signing_key, clock)
    options = RecordingOptions(
        recordings_dir=folder, retention=policy or RetentionPolicy(), export_allowed=export_allowed
    )
    service = RecordingService(
        engine,
        consent=consent,
        audit=audit,
        key_provider=keys,
        signing_key=signing_key,
        clock=clock,
        options=options,
    )
    return service, consent, audit


async def actions(audit: AuditLog) -> list[AuditView]:
    return await audit.entries(org_ids=None, limit=1000)
