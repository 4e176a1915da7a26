"""The recorder: real video frames through fake aiortc tracks, encrypted as written, played back with PyAV."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest

from recordings.encrypted_file import EncryptedReader, EncryptedWriter, TailState
from recordings.recorder import Recorder, RecorderOptions
from tests.media import clip_frames
from tests.recordings.fakes import ArrayVideoTrack, FakeKeyProvider, ToneAudioTrack, solid_bgr

VP8_KEYFRAME_640x480 = bytes.fromhex("9d012a8002e001")


def entropy_bits_per_byte(data: bytes) -> float:
    counts = Counter(data)
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def decode(path: Path, keys: FakeKeyProvider) -> tuple[list[av.VideoFrame], int, bytes]:
    with EncryptedReader(path, keys, require_complete=True) as reader:
        plaintext = b"".join(reader.iter_chunks())
        with av.open(reader.stream(), "r") as container:
            frames = list(container.decode(video=0))
        with av.open(reader.stream(), "r") as container:
            samples = sum(frame.samples for frame in container.decode(audio=0))
    return frames, samples, plaintext


async def record(path: Path, keys: FakeKeyProvider, seconds: float, **participants: tuple[object, object]) -> Recorder:
    writer = EncryptedWriter(path, uuid.uuid4(), keys, chunk_size=16 * 1024)
    recorder = Recorder(writer, RecorderOptions())
    await recorder.start()
    for ref, (video, audio) in participants.items():
        recorder.add_participant(ref, video=video, audio=audio)  # type: ignore[arg-type]
    await asyncio.sleep(seconds)
    await recorder.stop()
    assert recorder.failure is None
    writer.close()
    return recorder


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    return clip_frames()[:60]


async def test_real_frames_are_recorded_encrypted_and_play_back(
    tmp_path: Path, keys: FakeKeyProvider, clip: list[np.ndarray]
) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    path = folder / "meeting.rec"
    recorder = await record(path, keys, 2.0, bruker=(ArrayVideoTrack(clip), ToneAudioTrack()))

    frames, samples, plaintext = decode(path, keys)
    # Output timing follows the clock: a loaded machine skips frames (never queues or invents them), so the
    # count may fall short of 15 fps but the timestamps still span the recording.
    expected = 2.0 * 15
    assert 0.25 * expected <= len(frames) <= expected + 3
    assert len(frames) == recorder.stats.video_frames
    times = [float(f.time) for f in frames]
    assert times == sorted(times) and 1.3 <= times[-1] <= recorder.stats.duration_s
    assert {(f.width, f.height) for f in frames} == {(640, 480)}
    assert 1.3 <= samples / 48_000 <= recorder.stats.duration_s + 0.05
    picture = frames[-1].to_ndarray(format="bgr24")
    assert picture.std() > 20  # the clip's content, not a blank card

    # The container is a browser-playable WebM, and nothing of it is on disk in the clear.
    assert plaintext.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in plaintext and b"OpusHead" in plaintext
    assert VP8_KEYFRAME_640x480 in plaintext
    assert [p.name for p in folder.iterdir()] == ["meeting.rec"]  # no temporary files beside it
    ciphertext = path.read_bytes()
    markers = [
        b"\x1a\x45\xdf\xa3",  # EBML magic
        b"webm",
        b"OpusHead",
        b"V_VP8",
        VP8_KEYFRAME_640x480,
        b"\xff\xd8\xff\xe0",  # JPEG SOI + APP0
        b"\x00\x00\x00\x01\x67",  # H.264 start code + SPS
        b"\x00\x00\x00\x01\x65",  # H.264 start code + IDR slice
    ]
    for marker in markers:
        assert marker not in ciphertext
    rng = np.random.default_rng(3)
    for start in rng.integers(0, len(plaintext) - 16, 300):
        assert plaintext[start : start + 16] not in ciphertext
    assert entropy_bits_per_byte(ciphertext) >= 7.9


def red_share(frame: av.VideoFrame) -> float:
    bgr = frame.to_ndarray(format="bgr24").astype(int)
    red = (bgr[..., 2] > 150) & (bgr[..., 1] < 100) & (bgr[..., 0] < 100)
    return float(red.mean())


async def test_stop_participant_removes_their_media_at_once(tmp_path: Path, keys: FakeKeyProvider) -> None:
    path = tmp_path / "r.rec"
    writer = EncryptedWriter(path, uuid.uuid4(), keys)
    recorder = Recorder(writer, RecorderOptions(fps=10))
    await recorder.start()
    red = ArrayVideoTrack([solid_bgr((0, 0, 255))], fps=10, loop=True)
    blue = ArrayVideoTrack([solid_bgr((255, 0, 0))], fps=10, loop=True)
    recorder.add_participant("bruker", video=red, audio=ToneAudioTrack())
    recorder.add_participant("ergo", video=blue)
    await asyncio.sleep(1.0)
    assert recorder.stop_participant("bruker") is True
    assert red.readyState == "ended"
    assert recorder.participants == ["ergo"]
    await asyncio.sleep(1.0)
    await recorder.stop()
    writer.close()

    frames, _, _ = decode(path, keys)
    shares = [red_share(f) for f in frames]
    assert max(shares[: len(shares) // 2]) > 0.2  # while recorded, the red participant fills a tile
    assert max(shares[-5:]) < 0.01  # after stop_participant, nothing of them


async def test_frames_in_other_formats_are_dropped_not_converted(tmp_path: Path, keys: FakeKeyProvider) -> None:
    class RgbTrack(ArrayVideoTrack):
        async def recv(self) -> av.VideoFrame:
            frame = await super().recv()
            return frame.reformat(format="rgb24")

    path = tmp_path / "r.rec"
    writer = EncryptedWriter(path, uuid.uuid4(), keys)
    recorder = Recorder(writer, RecorderOptions(fps=10))
    await recorder.start()
    recorder.add_participant("bruker", video=RgbTrack([solid_bgr((0, 0, 255))], fps=10, loop=True))
    await asyncio.sleep(0.5)
    await recorder.stop()
    writer.close()
    assert recorder.stats.dropped_format >= 3
    frames, _, _ = decode(path, keys)
    assert frames and max(red_share(f) for f in frames) == 0.0


async def test_mono_and_resampled_audio_is_recorded(tmp_path: Path, keys: FakeKeyProvider) -> None:
    path = tmp_path / "r.rec"
    await record(
        path,
        keys,
        1.0,
        telefon=(None, ToneAudioTrack(layout="mono")),
        nettbrett=(None, ToneAudioTrack(rate=16_000)),
    )
    with EncryptedReader(path, keys) as reader:
        assert reader.tail is TailState.COMPLETE
        with av.open(reader.stream(), "r") as container:
            audio = [f.to_ndarray() for f in container.decode(audio=0)]
    samples = np.concatenate(audio, axis=-1)
    assert samples.shape[-1] >= 0.7 * 48_000
    assert np.abs(samples).max() > 0.05  # not silence
