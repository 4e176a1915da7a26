"""The PrivacyTrack fails closed: slow or failing processing, pauses and backlog never let a raw frame out."""

from __future__ import annotations

import asyncio
import fractions
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from privacy.vision.privacy_track import (
    CLOSED,
    FACE_VISIBLE,
    OPEN,
    PAUSE,
    STALL_S,
    PrivacyTrack,
    neutral_card_yuv,
    utc_now,
    yuv420p_frame,
)
from tests.fake_clock import FakeClock
from tests.media import clip_frames


class FrameSource(MediaStreamTrack):
    """Inbound camera stand-in: yields the given frames every ``interval`` seconds, then ends."""

    kind = "video"

    def __init__(self, frames: list[np.ndarray], interval: float) -> None:
        super().__init__()
        self.frames, self.interval, self.i = frames, interval, 0

    async def recv(self) -> VideoFrame:
        if self.i >= len(self.frames):
            raise MediaStreamError
        await asyncio.sleep(self.interval)
        frame = VideoFrame.from_ndarray(self.frames[self.i], format="bgr24")
        frame.pts, frame.time_base = self.i * 6000, fractions.Fraction(1, 90000)
        self.i += 1
        return frame


class Blackout:
    """A processor that blacks out the frame (marks 'processed' output unmistakably)."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay, self.fail = delay, fail
        self.calls = 0
        self.threads: set[str] = set()

    def new_track(self) -> Any:
        return None

    def process(self, frame_bgr: np.ndarray, state: Any, now: float) -> np.ndarray:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("detector crashed")
        time.sleep(self.delay)
        return np.zeros_like(frame_bgr)


def card(width: int, height: int, text: str) -> np.ndarray:
    return np.full((height, width, 3), 200 if text == "Pause" else 100, dtype=np.uint8)


def open_track(
    source: FrameSource, proc: Blackout, deadline: float, executor: Any, stall: float = STALL_S
) -> PrivacyTrack:
    track = PrivacyTrack(source, proc, executor=executor, deadline_s=deadline, card=card, stall_s=stall)
    track.set_gate(OPEN)
    return track


@pytest.fixture
def frames() -> list[np.ndarray]:
    return clip_frames()[:12]


@pytest.fixture
def executor() -> Any:
    with ThreadPoolExecutor(2, thread_name_prefix="privacy") as pool:
        yield pool


def is_input(out: VideoFrame, frames: list[np.ndarray]) -> bool:
    """Whether ``out`` is (close to) one of the unprocessed inputs."""
    bgr = out.to_ndarray(format="bgr24").astype(np.int16)
    return any(np.abs(bgr - f).mean() < 12 for f in frames)


async def collect(track: PrivacyTrack, n: int) -> list[VideoFrame]:
    out: list[VideoFrame] = []
    try:
        while len(out) < n:
            out.append(await asyncio.wait_for(track.recv(), 5))
    except MediaStreamError:
        pass
    return out


async def test_processed_frames_leave_as_yuv420p_with_timing(frames: list[np.ndarray], executor: Any) -> None:
    proc = Blackout()
    track = open_track(FrameSource(frames, 0.07), proc, 1, executor)
    out = await collect(track, 5)
    assert len(out) == 5
    assert all(f.format.name == "yuv420p" for f in out)
    assert all(f.pts is not None and f.pts % 6000 == 0 for f in out)
    assert all(f.to_ndarray(format="bgr24").max() < 30 for f in out)  # the processor's output
    assert proc.threads and all(name.startswith("privacy") for name in proc.threads)  # never on the event loop
    assert track.counters.processed == 5
    track.stop()


def is_card(out: VideoFrame) -> bool:
    return bool(np.array_equal(out.to_ndarray(), neutral_card_yuv(out.width, out.height)))


async def test_a_failing_check_sends_the_obscured_card_never_the_frame(frames: list[np.ndarray], executor: Any) -> None:
    track = open_track(FrameSource(frames, 0.05), Blackout(fail=True), 0.05, executor)
    out = await collect(track, 8)
    assert len(out) >= 4
    assert all(is_card(f) for f in out)
    assert track.counters.obscured >= 4
    assert track.counters.processed == 0
    track.stop()


async def test_frames_not_checked_in_time_are_never_sent_and_a_stalled_stream_shows_the_card(
    frames: list[np.ndarray], executor: Any
) -> None:
    """A stuck detector: no frame is checked within its deadline. None is sent until the stream has stalled for
    the stall time; from then on the card goes out for every frame."""
    track = open_track(FrameSource(frames, 0.05), Blackout(delay=0.3), 0.05, executor, stall=0.2)
    began = time.monotonic()
    first = await asyncio.wait_for(track.recv(), 5)
    assert time.monotonic() - began >= 0.2 + 0.05
    out = [first, *await collect(track, 4)]
    assert len(out) >= 3
    assert all(is_card(f) for f in out)
    assert not any(is_input(f, frames) for f in out)
    assert track.counters.late >= 2
    assert track.counters.processed == 0
    track.stop()


async def test_a_check_slower_than_the_frames_lowers_the_frame_rate_without_cards(
    frames: list[np.ndarray], executor: Any
) -> None:
    """An overloaded machine: each check takes longer than the frames are apart. Each frame waits for the
    previous check; what leaves is every frame that could be checked in time, and no card at all (the first
    design sent the card for every frame that came while a check ran: pictures and grey cards in turn)."""
    proc = Blackout(delay=0.08)
    track = open_track(FrameSource(clip_frames()[:24], 0.05), proc, 0.15, executor)
    out = await collect(track, 24)
    assert 6 <= len(out) < 20
    assert not any(is_card(f) for f in out)
    assert all(f.to_ndarray(format="bgr24").max() < 30 for f in out)  # the processor's output, every one
    assert track.counters.obscured == 0
    assert track.counters.processed == len(out)
    track.stop()


async def test_a_check_that_misses_its_deadline_is_still_sent_when_nothing_newer_was_checked(
    frames: list[np.ndarray], executor: Any
) -> None:
    """Every check takes twice the deadline (a saturated server). Each result was once thrown away and the next
    frame's check started over, so nothing was ever sent in time: the receivers saw the grey card after half a
    second. Each finished check is a checked picture: it leaves late instead, and the CPU it took is not lost."""
    proc = Blackout(delay=0.2)
    track = open_track(FrameSource(clip_frames()[:40], 0.05), proc, 0.1, executor)
    out = await collect(track, 5)
    assert len(out) == 5
    assert not any(is_card(f) for f in out)
    assert all(f.to_ndarray(format="bgr24").max() < 30 for f in out)  # the processor's output, every one
    assert track.counters.obscured == 0 and track.counters.overdue >= 4
    track.stop()


async def test_a_pause_during_a_late_check_shows_the_card_at_once_and_never_its_picture(
    frames: list[np.ndarray], executor: Any
) -> None:
    """The participant pauses while a check runs that will finish late: the pause card goes out with the next
    frame, not after that check (it takes 0.6 s here), and its picture is never sent."""
    proc = Blackout(delay=0.6)
    track = open_track(FrameSource(clip_frames()[:60], 0.05), proc, 0.3, executor, stall=2.0)
    first = await collect(track, 1)
    assert track.counters.overdue == 1 and not is_card(first[0])
    await asyncio.sleep(0.05)  # the next check is running
    track.set_gate(PAUSE)
    started = asyncio.get_running_loop().time()
    card = await collect(track, 1)
    assert asyncio.get_running_loop().time() - started < 0.15
    after = card + await collect(track, 2)
    assert all(abs(float(f.to_ndarray(format="bgr24").mean()) - 200) < 8 for f in after)  # the pause card
    assert track.counters.overdue == 1
    track.stop()


async def test_pause_shows_the_card_at_once_and_resume_returns(frames: list[np.ndarray], executor: Any) -> None:
    proc = Blackout()
    track = open_track(FrameSource(frames, 0.05), proc, 1, executor)
    await collect(track, 2)
    track.set_gate(PAUSE)
    paused = await collect(track, 3)
    assert all(abs(float(f.to_ndarray(format="bgr24").mean()) - 200) < 8 for f in paused)
    assert track.counters.paused == 3
    track.set_gate(OPEN)
    resumed = await collect(track, 2)
    assert all(f.to_ndarray(format="bgr24").max() < 30 for f in resumed)
    track.stop()


async def test_a_slow_reader_causes_drops_not_a_queue(frames: list[np.ndarray], executor: Any) -> None:
    many = frames * 5
    source = FrameSource(many, 0.005)
    track = open_track(source, Blackout(), 1, executor)
    got = []
    while True:
        try:
            got.append(await asyncio.wait_for(track.recv(), 5))
        except MediaStreamError:
            break
        await asyncio.sleep(0.05)  # a consumer 10x slower than the camera
    assert source.i == len(many)  # the source was drained at its own pace
    assert track.counters.dropped >= len(many) // 2
    assert len(got) + track.counters.dropped == track.counters.received
    track.stop()


async def test_closed_until_opened_and_face_visible_only_by_its_gate(frames: list[np.ndarray], executor: Any) -> None:
    proc = Blackout()
    track = PrivacyTrack(FrameSource(frames, 0.05), proc, executor=executor, deadline_s=1, card=card)
    closed = await collect(track, 3)  # a new track shows a card until the room opens it
    assert all(abs(float(f.to_ndarray(format="bgr24").mean()) - 100) < 8 for f in closed)
    assert track.counters.gated == 3 and proc.calls == 0
    track.set_gate(FACE_VISIBLE, until=utc_now() + timedelta(minutes=5))
    visible = await collect(track, 2)
    assert all(is_input(f, frames) for f in visible)  # the consented exception passes the picture as it is
    track.set_gate(CLOSED)
    assert not any(is_input(f, frames) for f in await collect(track, 2))
    track.stop()


@pytest.mark.parametrize(("width", "height"), [(640, 480), (321, 241), (1, 1)])
def test_the_output_conversion_matches_pyav(frames: list[np.ndarray], width: int, height: int) -> None:
    """The fast BGR to yuv420p conversion gives the picture PyAV's does (odd sizes take PyAV's own path)."""
    import cv2

    bgr = np.asarray(cv2.resize(frames[3], (width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    ours = yuv420p_frame(bgr)
    pyav = VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
    assert (ours.format.name, ours.width, ours.height) == ("yuv420p", width, height)
    back = ours.to_ndarray(format="bgr24").astype(np.int16)
    reference = pyav.to_ndarray(format="bgr24").astype(np.int16)
    assert float(np.abs(back - reference).mean()) < 1.5
    if width % 2 == 0 and height % 2 == 0:  # PyAV reads yuv420p planes of even sizes only
        luma = ours.to_ndarray()[:height].astype(np.int16)
        assert int(np.abs(luma - pyav.to_ndarray()[:height]).max()) <= 2


async def test_face_visible_ends_at_its_limit_even_if_nobody_closes_the_gate(
    frames: list[np.ndarray], executor: Any
) -> None:
    """The room's timer never fires here: the track's own clock check anonymizes the frames after the end."""
    wall, proc = FakeClock(), Blackout()
    track = PrivacyTrack(FrameSource(frames, 0.03), proc, executor=executor, deadline_s=1, card=card, wall_clock=wall)
    track.set_gate(FACE_VISIBLE, until=wall() + timedelta(minutes=5))
    assert all(is_input(f, frames) for f in await collect(track, 2))
    wall.advance(minutes=5)  # the end itself already counts as past
    after = await collect(track, 3)
    assert len(after) == 3 and all(f.to_ndarray(format="bgr24").max() < 30 for f in after)  # the processor's output
    assert track.gate == FACE_VISIBLE and track.gate_now() == OPEN and track.counters.expired == 3
    track.stop()


async def test_face_visible_without_an_end_is_anonymized(frames: list[np.ndarray], executor: Any) -> None:
    proc = Blackout()
    track = PrivacyTrack(FrameSource(frames, 0.03), proc, executor=executor, deadline_s=1, card=card)
    track.set_gate(FACE_VISIBLE)
    out = await collect(track, 3)
    assert len(out) == 3 and all(f.to_ndarray(format="bgr24").max() < 30 for f in out) and proc.calls == 3
    track.stop()


class EndsWhileChecking(ThreadPoolExecutor):
    """An executor during whose work the wall clock passes the face-visible end (a frame in flight)."""

    def __init__(self, wall: FakeClock) -> None:
        super().__init__(1, thread_name_prefix="privacy")
        self.wall = wall

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.wall.advance(minutes=10)
        return super().submit(fn, *args, **kwargs)


async def test_a_frame_in_flight_when_face_visible_ends_is_not_sent(frames: list[np.ndarray]) -> None:
    wall = FakeClock()
    with EndsWhileChecking(wall) as executor:
        track = PrivacyTrack(FrameSource(frames, 0.03), Blackout(), executor=executor, deadline_s=1, card=card,
                             wall_clock=wall)  # fmt: skip
        track.set_gate(FACE_VISIBLE, until=wall() + timedelta(minutes=5))
        out = await collect(track, 1)  # taken out under the gate, finished after its end
        assert len(out) == 1 and not is_input(out[0], frames)
        assert track.counters.obscured == 1 and track.counters.processed == 0
        track.stop()
