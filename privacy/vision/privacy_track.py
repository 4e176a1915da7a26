"""The one gate every inbound video frame passes before it can reach a sender or a recorder.

A :class:`PrivacyTrack` wraps a participant's inbound camera track. It drains the inbound track continuously
(aiortc queues without limit when nobody reads), keeps only the newest frame, and runs the frame processor
off the event loop with a deadline. Whatever goes wrong — a slow or failing detector, a frame arriving while
the previous one is still being checked, a pause — the frame that leaves is never the unchecked input.

A frame that could not be checked within its deadline is not sent then: the receivers keep the last checked
picture and the frame rate falls. Its check runs on, and when it finishes with nothing newer checked, that
checked picture is sent late (if it is not older than :data:`STALL_S` and its gate still holds): on an
overloaded server every check was once thrown away when it missed its deadline, so the more frames were late,
the more of the CPU went to checks nobody used. Only when no frame has been checked for :data:`STALL_S` (a
stuck detector), or the detector raised, does the fully obscured card go out. Replacing every late frame by
the card, as the first design did, made an overloaded six-person call flicker between pictures and grey cards
(a third of the frames were cards); a lower frame rate of checked pictures is what a video call on a slow link
looks like.
The consented face-visible exception carries its own end, checked on every frame: when it has passed, frames
are anonymized again whether or not anyone has told the track yet.
Frames leave as yuv420p so that encoders sharing one frame never convert it concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Protocol

import cv2
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

log = logging.getLogger(__name__)


class FrameProcessor(Protocol):
    """The pure privacy pipeline: one call at a time per track state, in a worker thread."""

    def new_track(self) -> Any: ...

    def process(self, frame_bgr: np.ndarray, state: Any, now: float) -> np.ndarray: ...


@dataclass(slots=True)
class TrackCounters:
    received: int = 0
    processed: int = 0
    obscured: int = 0
    """Frames replaced by the obscured card: the check failed, or none was checked for :data:`STALL_S`."""
    late: int = 0
    """Frames not sent because their check did not finish within the deadline (the receivers keep the last
    checked picture)."""
    overdue: int = 0
    """Frames sent after their deadline: their check finished late, and nothing newer had been checked."""
    dropped: int = 0
    """Frames overwritten by a newer one before they were processed."""
    paused: int = 0
    gated: int = 0
    """Frames replaced by a card because the participant may not be shown yet (roster, consent)."""
    expired: int = 0
    """Frames anonymized because the face-visible gate had passed its end before the room closed it."""


OPEN = "open"
FACE_VISIBLE = "face_visible"
PAUSE = "pause"
CLOSED = "closed"
"""Gate values. Anything other than OPEN and FACE_VISIBLE replaces the picture with a card."""


STALL_S = 0.5
"""No frame checked for this long: the obscured card goes out (and keeps going out until one is checked), so a
receiver sees that the picture stopped instead of a frozen last frame."""


def utc_now() -> datetime:
    """The wall clock a face-visible gate's end is read on, unless another (the app's) is injected."""
    return datetime.now(UTC)


def neutral_card_yuv(width: int, height: int, luma: int = 96) -> np.ndarray:
    """A flat grey yuv420p plane set (no information at all), cheap enough to build on the event loop."""
    card = np.full((height * 3 // 2, width), 128, dtype=np.uint8)
    card[:height] = luma
    return card


class PrivacyTrack(MediaStreamTrack):
    kind = "video"

    def __init__(
        self,
        source: MediaStreamTrack,
        processor: FrameProcessor,
        *,
        executor: Executor,
        deadline_s: float,
        card: Callable[[int, int, str], np.ndarray],
        stall_s: float = STALL_S,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__()
        self._source = source
        self._processor = processor
        self._state = processor.new_track()
        self._executor = executor
        self._deadline = deadline_s
        self._stall = stall_s
        self._stalled_since: float | None = None
        self._render_card = card
        self._clock = clock
        self._wall_clock = wall_clock
        self.counters = TrackCounters()
        self._gate = CLOSED  # nothing of the camera leaves before the room has opened the gate
        self._until: datetime | None = None
        self._expiry_logged = False
        self._newest: tuple[VideoFrame, float] | None = None
        self._arrived = asyncio.Event()
        self._job: asyncio.Future[VideoFrame] | None = None
        self._job_frame: tuple[VideoFrame, str, float] | None = None
        """The frame the running or last check looked at, its gate and arrival; None once its result was used."""
        self._reader = asyncio.ensure_future(self._drain())
        self._cards: dict[tuple[str, int, int], np.ndarray] = {}
        self.on_counters: Callable[[str], None] | None = None

    @property
    def gate(self) -> str:
        """The gate as the room last set it (see :meth:`gate_now` for the one frames leave under)."""
        return self._gate

    @property
    def face_visible_until(self) -> datetime | None:
        return self._until

    def set_gate(self, gate: str, *, until: datetime | None = None) -> None:
        """Takes effect for the very next frame that leaves, also one being processed now.

        ``until`` is when a FACE_VISIBLE gate ends by itself (the consent's limit). The track checks it on every
        frame, so the face is anonymized again at that moment even if the room's timer is late or never runs;
        FACE_VISIBLE without an end is never granted (frames are anonymized as under OPEN)."""
        self._gate = gate
        self._until = until if gate == FACE_VISIBLE else None
        self._expiry_logged = False

    def gate_now(self) -> str:
        """The gate a frame leaves under now: FACE_VISIBLE past its end, or without one, counts as OPEN."""
        gate = self._gate
        if gate == FACE_VISIBLE and (self._until is None or self._wall_clock() >= self._until):
            return OPEN
        return gate

    async def _drain(self) -> None:
        try:
            while True:
                frame = await self._source.recv()
                self.counters.received += 1
                if self._newest is not None:
                    self.counters.dropped += 1
                    self._count("dropped")
                self._newest = (frame, self._clock())  # type: ignore[assignment]
                self._arrived.set()
        except MediaStreamError:
            pass
        finally:
            self._arrived.set()

    def _count(self, what: str) -> None:
        if self.on_counters is not None:
            self.on_counters(what)

    def _card(self, kind: str, frame: VideoFrame) -> VideoFrame:
        key = (kind, frame.width, frame.height)
        if key not in self._cards:
            if kind == "obscured":
                self._cards[key] = neutral_card_yuv(frame.width, frame.height)
            else:
                bgr = self._render_card(frame.width, frame.height, "Pause" if kind == PAUSE else "")
                self._cards[key] = VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p").to_ndarray()
        return _with_timing(VideoFrame.from_ndarray(self._cards[key], format="yuv420p"), frame)

    def _gated(self, frame: VideoFrame, gate: str) -> VideoFrame | None:
        """The card for a closed gate, or None when the picture may go through the processor."""
        if gate in (OPEN, FACE_VISIBLE):
            return None
        if gate == PAUSE:
            self.counters.paused += 1
            self._count("paused")
        else:
            self.counters.gated += 1
            self._count("gated")
        return self._card(PAUSE if gate == PAUSE else CLOSED, frame)

    def _run(self, frame: VideoFrame, gate: str) -> VideoFrame:
        if gate == FACE_VISIBLE:  # consented exception: the picture is sent as it is, for a limited time
            return _with_timing(frame.reformat(format="yuv420p"), frame)
        bgr = frame.to_ndarray(format="bgr24")
        out = self._processor.process(bgr, self._state, self._clock())
        if out is bgr:  # a processor must never hand back its input
            raise RuntimeError("frame processor returned its input")
        return _with_timing(yuv420p_frame(out), frame)

    async def recv(self) -> VideoFrame:
        while True:
            pending = await self._pending_in_time()
            if pending is not None:
                self._stalled_since = None
                return pending
            frame, arrived = await self._newest_frame()
            gate = self._gate_for_frame()
            card = self._gated(frame, gate)
            if card is not None:
                return card
            out = await self._checked(frame, gate, arrived)
            if out is not None:
                self._stalled_since = None
                return out
            # Not checked in time: not sent now (its check runs on). The next one is tried, unless the stream stalled.
            self._stalled_since = arrived if self._stalled_since is None else self._stalled_since
            if self._clock() - self._stalled_since >= self._stall:
                return self._obscured(frame)
            self.counters.late += 1
            self._count("late")

    async def _newest_frame(self) -> tuple[VideoFrame, float]:
        if self.readyState != "live":
            raise MediaStreamError
        while self._newest is None:
            if self._reader.done():
                self.stop()
                raise MediaStreamError
            self._arrived.clear()
            await self._arrived.wait()
        newest, self._newest = self._newest, None
        return newest

    async def _pending_in_time(self) -> VideoFrame | None:
        """The result of a check started for an earlier frame and not taken yet (it began while an overdue
        picture left), if it finishes within that frame's deadline: waiting for the next frame instead would
        send every later picture one frame interval late."""
        job, checked = self._job, self._job_frame
        if job is None or checked is None:
            return None
        if self.gate_now() != checked[1]:  # paused or closed meanwhile: the card goes out at once, not after it
            self._job_frame = None
            return None
        if not await self._done_by_deadline(job, checked[2]):
            return None
        return self._finish()

    async def _done_by_deadline(self, job: asyncio.Future[VideoFrame], arrived: float) -> bool:
        """Wait for ``job`` until the deadline of the frame that arrived at ``arrived``; whether it finished (a
        check that raised has finished too: :meth:`_finish` turns it into the card)."""
        if not job.done():
            with contextlib.suppress(Exception):
                remaining = self._deadline - (self._clock() - arrived)
                await asyncio.wait_for(asyncio.shield(job), timeout=max(0.0, remaining))
        return job.done()

    async def _checked(self, frame: VideoFrame, gate: str, arrived: float) -> VideoFrame | None:
        """The frame as it may leave: processed, or a card (the check failed, the gate changed meanwhile); or the
        earlier frame whose check finished late, while this one's runs on; None when neither is ready within
        this frame's deadline (one check runs per track: a frame waits for the previous frame's check)."""
        if self._job is not None and not await self._done_by_deadline(self._job, arrived):
            return None
        overdue = self._finish() if self._job_frame is not None else None
        loop = asyncio.get_running_loop()
        self._job = asyncio.ensure_future(loop.run_in_executor(self._executor, self._run, frame, gate))
        self._job_frame = (frame, gate, arrived)
        if overdue is not None:
            return overdue  # the earlier frame, checked, leaves now; this one's check runs on
        if not await self._done_by_deadline(self._job, arrived):
            return None
        return self._finish()

    def _finish(self) -> VideoFrame | None:
        """The finished check's frame as it may leave, taken once: processed; the obscured card when the check
        raised; a card when the gate changed meanwhile (or the face-visible period ended); None when its frame
        is older than both its deadline and :data:`STALL_S` (too old to be worth sending)."""
        job, checked = self._job, self._job_frame
        self._job_frame = None
        assert job is not None and job.done() and checked is not None
        frame, gate, arrived = checked
        if job.cancelled():
            return None
        error = job.exception()
        if error is not None:
            log.warning("frame processing failed", exc_info=error)
            return self._obscured(frame)
        age = self._clock() - arrived
        if age > self._deadline and age > self._stall:
            return None
        now_gate = self.gate_now()
        if now_gate != gate:  # the gate changed (or the face-visible period ended) while this frame was processed
            card = self._gated(frame, now_gate)
            if card is not None or gate == FACE_VISIBLE:
                return card or self._obscured(frame)
        self.counters.processed += 1
        if age > self._deadline:
            self.counters.overdue += 1
            self._count("overdue")
        return job.result()

    def _gate_for_frame(self) -> str:
        gate = self.gate_now()
        if gate != self._gate:  # the face-visible period is over but the room has not closed the gate yet
            self.counters.expired += 1
            self._count("expired")
            if not self._expiry_logged:
                self._expiry_logged = True
                log.info("face-visible gate without a current end; frames are anonymized")
        return gate

    def _obscured(self, frame: VideoFrame) -> VideoFrame:
        self.counters.obscured += 1
        self._count("obscured")
        return self._card("obscured", frame)

    def stop(self) -> None:
        super().stop()
        self._reader.cancel()
        if self._job is not None:
            # Let a running job finish in its thread; its result is simply never used.
            self._job.add_done_callback(_consume)
        with contextlib.suppress(Exception):
            self._source.stop()


def _consume(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


def yuv420p_frame(bgr: np.ndarray) -> VideoFrame:
    """A yuv420p frame of a BGR picture, converted by OpenCV when the size is even (0.5 ms at 640x480).

    PyAV's ``from_ndarray(bgr24).reformat(yuv420p)`` takes 1.3 ms for the same frame (an extra copy and a
    generic scaler); both use BT.601 limited range and differ only in how chroma is subsampled (mean 0.5 of
    255). Odd sizes, which I420 cannot hold in OpenCV's layout, take PyAV's path.
    """
    height, width = bgr.shape[:2]
    if height % 2 or width % 2 or height == 0 or width == 0:
        return VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24").reformat(format="yuv420p")
    yuv = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
    return VideoFrame.from_ndarray(yuv, format="yuv420p")


def _with_timing(out: VideoFrame, like: VideoFrame) -> VideoFrame:
    out.pts = like.pts
    out.time_base = like.time_base if like.time_base is not None else Fraction(1, 90000)
    return out
