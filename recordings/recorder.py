"""The meeting recorder: participants' processed tracks in, one encrypted WebM (VP8 + Opus) out.

Only already-anonymized media may be given to it: video tracks from the participant's PrivacyTrack fan-out
(yuv420p frames) and audio tracks. The recorder composes the video of every participant into one picture (a
near-square grid, each letterboxed into its tile) and mixes their audio, so one file plays the whole meeting in
any browser. Frames in any other pixel format are dropped rather than converted, because converting a frame
object that other consumers share is what crashed FFmpeg's scaler before (DESIGN.md, pitfall 1); so are frames
of odd size (camera sizes are even).

Time. A tick task on the event loop samples, at the output frame rate, the newest frame of each participant (one
frame kept per input: a slow encoder skips frames, never queues them) and the audio due since the start (a
bounded buffer per input, newest audio wins); encoding and muxing run on one worker thread, one tick at a time.
The output clock is the recorder's own (``clock``), not the inputs' timestamps.

Muxing. PyAV writes into the EncryptedWriter through an object with only ``write``, so the muxer sees a
non-seekable output and writes WebM in live mode: no cues and no duration (the database keeps the duration).
Every completed cluster (at most ``cluster_ms`` long) is handed to the writer, so after a crash the file plays
up to the last whole chunk. Browsers play such files from the start; seeking is approximate.

``stop_participant`` removes a participant's inputs at once (withdrawn consent, pause): their newest frame and
buffered audio are dropped and their tracks stopped; only a tick already handed to the encoder (sampled before the
call) can still carry their media. Adding them again (``add_participant``) resumes with new tracks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from recordings.mixing import CHANNELS, SAMPLE_RATE, AudioBuffer, Planes, compose, mix

log = logging.getLogger(__name__)

AUDIO_FRAME_SAMPLES = 960  # 20 ms, what Opus encodes per packet


class Sink(Protocol):
    """Where the muxed bytes go (an EncryptedWriter). Called from the encoding thread only."""

    def write(self, data: bytes | bytearray | memoryview) -> int: ...


@dataclass(frozen=True, slots=True)
class RecorderOptions:
    width: int = 640
    """Output picture width (even)."""
    height: int = 480
    """Output picture height (even)."""
    fps: int = 15
    """Output frame rate; the grid is sampled this often."""
    video_bitrate: int = 800_000
    audio_bitrate: int = 64_000
    keyframe_interval_s: float = 2.0
    """A keyframe at least this often, so playback can start anywhere near a cluster."""
    audio_buffer_ms: int = 500
    """Per-participant audio kept waiting for the mix; older audio is dropped beyond this."""
    cluster_ms: int = 1000
    """Longest WebM cluster: bounds what the muxer holds back from the writer (and a crash loses)."""

    def __post_init__(self) -> None:
        if self.width % 2 or self.height % 2 or self.width < 16 or self.height < 16:
            raise ValueError("output size must be even and at least 16x16")
        if not 1 <= self.fps <= 60:
            raise ValueError("fps out of range")


@dataclass
class RecorderStats:
    video_frames: int = 0
    audio_samples: int = 0
    dropped_format: int = 0
    """Video frames refused because they were not yuv420p of even size."""
    dropped_audio_samples: int = 0
    duration_s: float = 0.0


@dataclass(eq=False)
class _Input:
    ref: str
    video: MediaStreamTrack | None
    audio: MediaStreamTrack | None
    audio_buffer: AudioBuffer
    latest: Planes | None = None
    resampler: Any = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopped: bool = False


@dataclass(frozen=True, slots=True)
class _Tick:
    video_pts: int | None
    pictures: list[Planes | None]
    audio_blocks: list[np.ndarray]
    audio_samples: int


def planes_of(frame: av.VideoFrame) -> Planes | None:
    """A private copy of a yuv420p frame's planes; None for any other format or an odd size."""
    if frame.format.name != "yuv420p" or frame.width % 2 or frame.height % 2:
        return None
    return Planes.from_packed(frame.to_ndarray(), frame.width, frame.height)  # without arguments: a plain copy


def samples_of(frame: av.AudioFrame, inp: _Input) -> np.ndarray:
    """The frame as 48 kHz stereo int16 ``(samples, 2)``; other formats go through the input's own resampler."""
    layout = frame.layout.name
    if frame.format.name == "s16" and frame.sample_rate == SAMPLE_RATE and layout in ("mono", "stereo"):
        channels = 1 if layout == "mono" else 2
        data = frame.to_ndarray().reshape(-1, channels)
        return np.repeat(data, 2, axis=1) if channels == 1 else data.copy()
    if inp.resampler is None:
        inp.resampler = av.AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE)
    parts = [f.to_ndarray().reshape(-1, CHANNELS) for f in inp.resampler.resample(frame)]
    return np.concatenate(parts) if parts else np.zeros((0, CHANNELS), np.int16)


class _Sink:
    """What PyAV sees: ``write`` only (no seek, so streaming mode; no close, so the recorder owns closing)."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def write(self, data: bytes) -> int:
        return self._sink.write(data)


class _Muxer:
    """The PyAV side; every method runs on the encoding thread."""

    def __init__(self, sink: Sink, options: RecorderOptions) -> None:
        self.options = options
        container_options = {"live": "1", "cluster_time_limit": str(options.cluster_ms)}
        self.container: Any = av.open(_Sink(sink), "w", format="webm", container_options=container_options)
        video = self.container.add_stream("libvpx", rate=options.fps)
        video.width, video.height, video.pix_fmt = options.width, options.height, "yuv420p"
        video.bit_rate = options.video_bitrate
        video.codec_context.gop_size = max(1, round(options.keyframe_interval_s * options.fps))
        video.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        audio = self.container.add_stream("libopus", rate=SAMPLE_RATE)
        audio.layout = "stereo"
        audio.bit_rate = options.audio_bitrate
        self.video, self.audio = video, audio
        self.audio_pts = 0
        self._carry = np.zeros((0, CHANNELS), np.int16)

    def encode(self, tick: _Tick) -> None:
        if tick.video_pts is not None:
            picture = compose(tick.pictures, self.options.width, self.options.height)
            frame = av.VideoFrame.from_ndarray(picture.packed(), format="yuv420p")
            frame.pts, frame.time_base = tick.video_pts, Fraction(1, self.options.fps)
            self._mux(self.video.encode(frame))
        if tick.audio_samples:
            mixed = mix(tick.audio_blocks, tick.audio_samples)
            pending = np.concatenate([self._carry, mixed]) if len(self._carry) else mixed
            whole = len(pending) // AUDIO_FRAME_SAMPLES * AUDIO_FRAME_SAMPLES
            for start in range(0, whole, AUDIO_FRAME_SAMPLES):
                self._encode_audio(pending[start : start + AUDIO_FRAME_SAMPLES])
            self._carry = pending[whole:]

    def _encode_audio(self, block: np.ndarray) -> None:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts, frame.time_base = self.audio_pts, Fraction(1, SAMPLE_RATE)
        self.audio_pts += len(block)
        self._mux(self.audio.encode(frame))

    def _mux(self, packets: list[Any]) -> None:
        for packet in packets:
            self.container.mux(packet)

    def finish(self) -> None:
        if len(self._carry):
            padded = np.zeros((AUDIO_FRAME_SAMPLES, CHANNELS), np.int16)
            padded[: len(self._carry)] = self._carry
            self._encode_audio(padded)
        self._mux(self.video.encode(None))
        self._mux(self.audio.encode(None))
        self.container.close()

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.container.close()


class Recorder:
    """Records one meeting's processed media into ``sink``. ``start()`` first, ``stop()`` at the end (always).

    ``executor`` runs the encoder (one tick at a time, so a shared pool is fine); by default the recorder has its
    own single thread. ``on_failure`` is called (on the event loop) if encoding or writing fails; the recorder
    then stops taking media and ``failure`` holds the error.
    """

    def __init__(
        self,
        sink: Sink,
        options: RecorderOptions | None = None,
        *,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.options = options or RecorderOptions()
        self.stats = RecorderStats()
        self.failure: BaseException | None = None
        self._sink = sink
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self._clock = clock
        self._on_failure = on_failure
        self._inputs: dict[str, _Input] = {}
        self._muxer: _Muxer | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._start = 0.0
        self._last_pts = -1
        self._audio_due = 0

    @property
    def participants(self) -> list[str]:
        return list(self._inputs)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._muxer = await loop.run_in_executor(self._executor, _Muxer, self._sink, self.options)
        self._start = self._clock()
        self._task = asyncio.create_task(self._run())

    def add_participant(
        self, ref: str, *, video: MediaStreamTrack | None = None, audio: MediaStreamTrack | None = None
    ) -> None:
        """Record this participant's processed ``video`` and/or ``audio`` (the recorder stops them at the end)."""
        if self._stopping or self.failure is not None:
            raise RuntimeError("recorder is not running")
        self.stop_participant(ref)
        max_samples = SAMPLE_RATE * self.options.audio_buffer_ms // 1000
        inp = _Input(ref, video, audio, AudioBuffer(max_samples))
        if video is not None:
            inp.tasks.append(asyncio.create_task(self._pull_video(inp, video)))
        if audio is not None:
            inp.tasks.append(asyncio.create_task(self._pull_audio(inp, audio)))
        self._inputs[ref] = inp

    def stop_participant(self, ref: str) -> bool:
        """Stop recording this participant's media now; False when they were not being recorded."""
        inp = self._inputs.pop(ref, None)
        if inp is None:
            return False
        inp.stopped = True
        inp.latest = None
        self.stats.dropped_audio_samples += inp.audio_buffer.dropped
        inp.audio_buffer.clear()
        for task in inp.tasks:
            task.cancel()
        for track in (inp.video, inp.audio):
            if track is not None:
                track.stop()
        return True

    async def stop(self) -> RecorderStats:
        """Stop every input, write what is due, flush the encoders and close the WebM (not the sink)."""
        if self._stopping:
            return self.stats
        for ref in list(self._inputs):
            self.stop_participant(ref)
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        loop = asyncio.get_running_loop()
        try:
            if self._muxer is not None and self.failure is None:
                await loop.run_in_executor(self._executor, self._muxer.finish)
            elif self._muxer is not None:
                await loop.run_in_executor(self._executor, self._muxer.abandon)
        except Exception as exc:
            self._fail(exc)
        finally:
            if self._own_executor:
                self._executor.shutdown(wait=False)
        self.stats.duration_s = max(0.0, self._clock() - self._start)
        return self.stats

    # --- inputs (event loop) ------------------------------------------------------------------------------

    async def _pull_video(self, inp: _Input, track: MediaStreamTrack) -> None:
        try:
            while not inp.stopped:
                frame = await track.recv()
                if inp.stopped:
                    break
                picture = planes_of(frame) if isinstance(frame, av.VideoFrame) else None
                if picture is None:
                    self.stats.dropped_format += 1
                    continue
                inp.latest = picture
        except MediaStreamError:
            inp.latest = None  # the track ended (participant left): a blank tile, never a frozen last frame
        except Exception:
            inp.latest = None
            log.exception("video input failed")

    async def _pull_audio(self, inp: _Input, track: MediaStreamTrack) -> None:
        try:
            while not inp.stopped:
                frame = await track.recv()
                if inp.stopped:
                    break
                if isinstance(frame, av.AudioFrame):
                    inp.audio_buffer.push(samples_of(frame, inp))
        except MediaStreamError:
            pass
        except Exception:
            log.exception("audio input failed")

    # --- ticks --------------------------------------------------------------------------------------------

    def _sample(self, now: float) -> _Tick:
        elapsed = now - self._start
        pts = math.floor(elapsed * self.options.fps)
        video_pts = pts if pts > self._last_pts else None
        if video_pts is not None:
            self._last_pts = pts
        due = math.floor(elapsed * SAMPLE_RATE) - self._audio_due
        self._audio_due += due
        inputs = list(self._inputs.values())
        pictures = [inp.latest for inp in inputs if inp.video is not None]
        blocks = [inp.audio_buffer.pull(due) for inp in inputs if inp.audio is not None] if due > 0 else []
        return _Tick(video_pts, pictures, blocks, max(0, due))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        muxer = self._muxer
        assert muxer is not None
        period = 1 / self.options.fps
        try:
            while not self._stopping:
                tick = self._sample(self._clock())
                await loop.run_in_executor(self._executor, muxer.encode, tick)
                if tick.video_pts is not None:
                    self.stats.video_frames += 1
                self.stats.audio_samples += tick.audio_samples
                next_at = self._start + (self._last_pts + 1) * period
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, next_at - self._clock()))
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if self.failure is not None:
            return
        self.failure = exc
        log.error("recording failed", extra={"error": type(exc).__name__})
        for ref in list(self._inputs):
            self.stop_participant(ref)
        if self._on_failure is not None:
            self._on_failure(exc)
