"""SIGKILL between key destruction and certificate: on restart the engine writes the certificate and the file
is gone; a destroyed key never stays without its certificate."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.ledgers import AuditLog
from recordings import store
from recordings.certificates import verify
from recordings.deletion import DeletionEngine, recording_path
from recordings.encrypted_file import key_destroyed
from recordings.retention import DeletionStep, State
from tests.media import REPO
from tests.recordings.fakes import FakeKeyProvider, FixedClock
from tests.recordings.support import stored_recording


@pytest.mark.slow
async def test_sigkill_after_key_destruction_is_finished_on_restart(
    engine: AsyncEngine,
    db_url: str,
    tmp_path: Path,
    recordings_dir: Path,
    keys: FakeKeyProvider,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
) -> None:
    row = await stored_recording(
        engine, recordings_dir, keys, created_at=clock.now(), deadline=clock.now() + timedelta(days=1)
    )
    path = recording_path(recordings_dir, row.file_path)
    key_file = tmp_path / "signing.pem"
    key_file.write_bytes(
        signing_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(key_file, 0o600)
    command = [
        sys.executable,
        "-m",
        "tests.recordings.crash_worker",
        "delete",
        db_url,
        str(recordings_dir),
        str(key_file),
        row.id,
        DeletionStep.KEY_DESTROYED.value,
        clock.now().isoformat(),
    ]
    worker = await asyncio.create_subprocess_exec(
        *command, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert worker.stdout is not None and worker.stderr is not None
    line = await asyncio.wait_for(worker.stdout.readline(), timeout=60)
    worker.send_signal(signal.SIGKILL)
    _, errors = await worker.communicate()
    assert line.strip() == b"key_destroyed", errors.decode(errors="replace")
    assert worker.returncode == -signal.SIGKILL

    async with engine.connect() as conn:
        killed = await store.get_recording(conn, row.id)
        assert await store.certificate(conn, row.id) is None
    assert killed is not None
    assert (killed.state, killed.deletion_step) == (State.DELETING, DeletionStep.KEY_DESTROYED)
    assert path.exists() and key_destroyed(path)

    clock.advance(minutes=1)
    restarted = DeletionEngine(
        engine,
        recordings_dir=recordings_dir,
        audit=AuditLog(engine, signing_key, clock),
        signing_key=signing_key,
        clock=clock,
    )
    assert (await restarted.resume_all()).deleted == [row.id]
    assert not path.exists()
    async with engine.connect() as conn:
        finished = await store.get_recording(conn, row.id)
        document = await store.certificate(conn, row.id)
    assert finished is not None and finished.state is State.DELETED
    assert document is not None
    facts = verify(document, signing_key.public_key()).payload
    assert facts["ciphertext_sha256_at_deletion"] == row.ciphertext_sha256
    assert facts["key_destroyed_at"] < facts["file_removed_at"] <= facts["issued_at"]
    assert [e.record.action for e in await AuditLog(engine, signing_key, clock).entries(org_ids=None)] == [
        "recording.deleted"
    ]
