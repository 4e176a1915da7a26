"""Reading and writing the video files that offline anonymization accepts (.y4m and .mp4), with PyAV.

Frames come out as BGR arrays in decoding order and go back in as yuv420p at the input's frame rate and size,
so an anonymized video has exactly as many frames, and the same size, as its input. ``.y4m`` is what
Chromium's fake camera reads; ``.mp4`` is written as H.264 (libx264, the codec every player has).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import av
import numpy as np

from privacy.vision.errors import MediaInputError, MediaOutputError

VIDEO_SUFFIXES = {".y4m": "yuv4mpegpipe", ".mp4": "mp4"}
"""Supported video file suffixes and the container format each is written in."""


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the writer needs to reproduce the input's shape and timing."""

    width: int
    height: int
    rate: Fraction


def probe(path: Path) -> VideoInfo:
    """Size and frame rate of the first video stream; :class:`MediaInputError` if there is none."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaInputError(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or Fraction(15)
            return VideoInfo(stream.codec_context.width, stream.codec_context.height, Fraction(rate))
    except av.FFmpegError as exc:
        raise MediaInputError(f"{path.name}: cannot be read as video ({type(exc).__name__})") from exc


def read_frames(path: Path) -> Iterator[np.ndarray]:
    """The video's frames as BGR uint8 arrays, in order."""
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="bgr24")
    except av.FFmpegError as exc:
        raise MediaInputError(f"{path.name}: cannot be decoded ({type(exc).__name__})") from exc


class VideoWriter:
    """Writes BGR frames to ``path`` in the container that its suffix names (see :data:`VIDEO_SUFFIXES`)."""

    def __init__(self, path: Path, info: VideoInfo, suffix: str) -> None:
        container_format = VIDEO_SUFFIXES.get(suffix)
        if container_format is None:
            raise MediaOutputError(f"unsupported video output type {suffix}")
        self.count = 0
        try:
            self._container: Any = av.open(str(path), "w", format=container_format)
            codec = "rawvideo" if container_format == "yuv4mpegpipe" else "libx264"
            self._stream: Any = cast(Any, self._container.add_stream(codec, rate=info.rate))
        except av.FFmpegError as exc:
            raise MediaOutputError(f"{path.name}: cannot be written ({type(exc).__name__})") from exc
        self._stream.width = info.width
        self._stream.height = info.height
        self._stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            self._stream.options = {"preset": "veryfast", "crf": "20"}
        self._time_base = Fraction(1) / info.rate

    def write(self, frame_bgr: np.ndarray) -> None:
        """Append one frame (its size must match the stream's)."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_bgr), format="bgr24").reformat(format="yuv420p")
        frame.pts = self.count
        frame.time_base = self._time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.count += 1

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def abort(self) -> None:
        """Close without flushing (the caller deletes the partial file)."""
        with contextlib.suppress(av.FFmpegError):
            self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
