"""SIGKILL in the middle of a recording: what is on disk is a readable prefix (or recognised as broken), never
plaintext."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from recordings import container_format as fmt
from recordings.encrypted_file import EncryptedReader, TailState
from recordings.key_provider import FileKeyProvider, create_kek_file
from tests.media import REPO

CHUNK = 4096
MARKERS = [b"\x1a\x45\xdf\xa3", b"webm", b"OpusHead", b"V_VP8", b"A_OPUS", bytes.fromhex("9d012a4001f000")]


def wait_for_size(path: Path, size: int, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size >= size:
            return
        if process.poll() is not None:
            raise AssertionError(f"worker exited early: {process.stderr.read() if process.stderr else ''}")
        time.sleep(0.05)
    raise AssertionError("the worker did not write enough in time")


@pytest.mark.slow
def test_sigkill_mid_recording_leaves_a_readable_prefix_and_no_plaintext(tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    kek_file = tmp_path / "recordings.kek"
    create_kek_file(kek_file)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.recordings.crash_worker", "record", str(folder), str(kek_file), str(CHUNK)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        path = folder / "crash.rec"
        wait_for_size(path, fmt.HEADER_BYTES + 6 * (CHUNK + fmt.TAG_BYTES) + 1000, process)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    assert sorted(p.name for p in folder.iterdir()) == ["crash.rec"]  # no temporary file, no plaintext beside it
    ciphertext = path.read_bytes()
    for marker in MARKERS:
        assert marker not in ciphertext

    with EncryptedReader(path, FileKeyProvider(kek_file)) as reader:
        assert reader.tail in (TailState.TORN, TailState.UNFINISHED)  # never mistaken for a finished recording
        assert reader.chunk_count >= 6
        prefix = b"".join(reader.iter_chunks())
        assert prefix.startswith(b"\x1a\x45\xdf\xa3") and b"OpusHead" in prefix
        for start in range(0, len(prefix) - 32, 997):
            assert prefix[start : start + 32] not in ciphertext
        decoded = 0
        try:
            with av.open(reader.stream(), "r") as container:
                for frame in container.decode(video=0):
                    assert (frame.width, frame.height) == (320, 240)
                    decoded += 1
        except av.error.FFmpegError:
            pass  # the prefix may end inside a cluster; what came before it played
    assert decoded >= 3
