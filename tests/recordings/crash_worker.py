"""A process for the SIGKILL tests to kill: it records generated frames, or runs a deletion and stops between
steps. Run as ``python -m tests.recordings.crash_worker record|delete ...``; it prints one line when it has
reached the point the test waits for, then keeps going (or waits) until it is killed."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import datetime
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import create_async_engine

from privacy.records.ledgers import AuditLog
from recordings.deletion import RETENTION_ACTOR, DeletionEngine
from recordings.encrypted_file import EncryptedWriter
from recordings.key_provider import FileKeyProvider
from recordings.recorder import Recorder, RecorderOptions
from recordings.retention import DeletionStep, DeletionTrigger
from tests.recordings.fakes import ArrayVideoTrack, FixedClock, ToneAudioTrack


def generated_frames(count: int = 30, width: int = 320, height: int = 240) -> list[np.ndarray]:
    """Moving colour gradients with a bright square: cheap to encode, never the same twice in a row."""
    ys, xs = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(count):
        frame = np.stack([(xs + 8 * i) % 256, (ys + 4 * i) % 256, (xs + ys) // 3 % 256], axis=-1).astype(np.uint8)
        x = (10 * i) % (width - 40)
        frame[100:140, x : x + 40] = 255
        frames.append(frame)
    return frames


async def record(folder: Path, kek_file: Path, chunk_size: int) -> None:
    writer = EncryptedWriter(folder / "crash.rec", uuid.uuid4(), FileKeyProvider(kek_file), chunk_size=chunk_size)
    recorder = Recorder(writer, RecorderOptions(width=320, height=240, cluster_ms=300))
    await recorder.start()
    recorder.add_participant("bruker", video=ArrayVideoTrack(generated_frames(), loop=True), audio=ToneAudioTrack())
    print("recording", flush=True)
    await asyncio.sleep(60)


async def delete(db_url: str, folder: Path, key: Ed25519PrivateKey, recording_id: str, stop_at: str, now: str) -> None:
    engine = create_async_engine(db_url)

    async def on_step(_recording_id: str, step: DeletionStep) -> None:
        if step.value == stop_at:
            print(step.value, flush=True)
            await asyncio.sleep(60)

    clock = FixedClock(datetime.fromisoformat(now))
    deletion = DeletionEngine(
        engine, recordings_dir=folder, audit=AuditLog(engine, key, clock), signing_key=key, clock=clock, on_step=on_step
    )
    await deletion.request(recording_id, DeletionTrigger.DEADLINE, RETENTION_ACTOR)
    await deletion.run(recording_id)
    print("finished", flush=True)


def main(argv: list[str]) -> None:
    if argv[0] == "record":
        asyncio.run(record(Path(argv[1]), Path(argv[2]), int(argv[3])))
    elif argv[0] == "delete":
        key = serialization.load_pem_private_key(Path(argv[3]).read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        asyncio.run(delete(argv[1], Path(argv[2]), key, argv[4], argv[5], argv[6]))
    else:
        raise SystemExit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
