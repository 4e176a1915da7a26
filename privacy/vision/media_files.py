"""Offline anonymization of an image, a directory of images or a video (``samhandling anonymize IN OUT``).

Staff use this before they share pictures in a case, and it is how the live pipeline is checked on recorded
material: a video goes through the same :class:`~privacy.vision.anonymizer.Anonymizer` and per-track state as a live
call, frame by frame and in order. Without a deadline every detector runs on every frame
(:meth:`AnonymizerOptions.for_files`); with ``realtime_fps`` the live options and the live deadline apply:
frames arrive at that rate, a frame that arrives while the previous one is still being processed is sent
fully obscured, and a frame that took longer than one frame interval is too.

Output appears only when complete: it is written under a temporary name beside the target and renamed at the
end, so a failure never leaves something that looks like a finished result.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from privacy.vision.anonymizer import Anonymizer, AnonymizerOptions, TrackState, obscure_whole_frame
from privacy.vision.counters import CounterSnapshot
from privacy.vision.errors import MediaInputError, MediaOutputError
from privacy.vision.video_io import VIDEO_SUFFIXES, VideoWriter, probe, read_frames

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
"""Image file suffixes read and written (through OpenCV)."""


@dataclass(frozen=True, slots=True)
class MediaReport:
    """What one run did: how many files and frames, and the frame counters summed over all tracks."""

    kind: str
    """"image", "directory" or "video"."""
    files: int
    frames: int
    counters: CounterSnapshot


def kind_of(path: Path) -> str:
    """ "directory", "image" or "video" by the path itself (a directory) or its suffix."""
    if path.is_dir():
        return "directory"
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "unknown"


def _add(a: CounterSnapshot, b: CounterSnapshot) -> CounterSnapshot:
    return CounterSnapshot(**{k: getattr(a, k) + getattr(b, k) for k in CounterSnapshot.__dataclass_fields__})


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise MediaInputError(f"{path.name}: cannot be read as an image")
    return image


def _write_image(path: Path, image: np.ndarray, suffix: str) -> None:
    ok, encoded = cv2.imencode(suffix, image)
    if not ok:
        raise MediaOutputError(f"{path.name}: cannot be encoded as {suffix}")
    path.write_bytes(encoded.tobytes())


def _temp_beside(target: Path, directory: bool = False) -> Path:
    parent = target.parent
    if not parent.is_dir():
        raise MediaOutputError(f"output folder {parent} does not exist")
    prefix = f".{target.name}.partial-"
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=target.suffix, dir=parent)
    os.close(fd)
    return Path(name)


def _discard(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class MediaAnonymizer:
    """Runs offline jobs with one :class:`Anonymizer` (model loading is paid once per process)."""

    def __init__(
        self,
        anonymizer: Anonymizer | None = None,
        *,
        realtime_fps: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if realtime_fps is not None and realtime_fps <= 0:
            raise ValueError("realtime_fps must be positive")
        self.realtime_fps = realtime_fps
        if anonymizer is None:
            if realtime_fps is None:
                options = AnonymizerOptions.for_files()
            else:
                options = replace(AnonymizerOptions(), deadline_s=1.0 / realtime_fps)
            anonymizer = Anonymizer(options)
        self.anonymizer = anonymizer
        self._clock = clock
        self._sleep = sleep

    def run(self, source: Path, target: Path) -> MediaReport:
        """Anonymize ``source`` into ``target`` (the same kind); raises a :class:`PrivacyError` subclass."""
        if not source.exists():
            raise MediaInputError(f"{source} does not exist")
        kind = kind_of(source)
        if kind == "unknown":
            images = ", ".join(sorted(IMAGE_SUFFIXES))
            raise MediaInputError(f"{source.name}: unsupported file type (images: {images}; videos: .y4m, .mp4)")
        if target.exists():
            target_kind = kind_of(target)
        elif kind == "directory" and not target.suffix:
            target_kind = "directory"
        else:
            target_kind = kind_of(target)
        if target_kind != kind:
            raise MediaOutputError(
                f"output must be {'a' if kind != 'image' else 'an'} {kind} like the input, not {target.name!r}"
            )
        if target.resolve() == source.resolve():
            raise MediaOutputError("output must differ from the input")
        if kind == "image":
            return self._image(source, target)
        if kind == "directory":
            return self._directory(source, target)
        return self._video(source, target)

    def _still(self, image: np.ndarray) -> tuple[np.ndarray, CounterSnapshot]:
        state = self.anonymizer.new_track()
        out = self.anonymizer.process(image, state, 0.0)
        return out, state.snapshot()

    def _image(self, source: Path, target: Path) -> MediaReport:
        out, counters = self._still(_read_image(source))
        temp = _temp_beside(target)
        try:
            _write_image(temp, out, target.suffix.lower())
            os.replace(temp, target)
        except BaseException:
            _discard(temp)
            raise
        return MediaReport("image", 1, 1, counters)

    def _directory(self, source: Path, target: Path) -> MediaReport:
        images = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise MediaInputError(f"{source.name}: no images in the folder")
        if target.exists() and any(target.iterdir()):
            raise MediaOutputError(f"{target.name}: output folder exists and is not empty")
        temp = _temp_beside(target, directory=True)
        total = CounterSnapshot()
        try:
            for path in images:
                out, counters = self._still(_read_image(path))
                _write_image(temp / path.name, out, path.suffix.lower())
                total = _add(total, counters)
            if target.exists():
                target.rmdir()
            os.replace(temp, target)
        except BaseException:
            _discard(temp)
            raise
        return MediaReport("directory", len(images), len(images), total)

    def _video(self, source: Path, target: Path) -> MediaReport:
        info = probe(source)
        temp = _temp_beside(target)
        state = self.anonymizer.new_track()
        try:
            with VideoWriter(temp, info, target.suffix.lower()) as writer:
                frames = self._frames(source, state, float(info.rate))
                for out in frames:
                    writer.write(out)
            if writer.count == 0:
                raise MediaInputError(f"{source.name}: no frames")
            os.replace(temp, target)
        except BaseException:
            _discard(temp)
            raise
        return MediaReport("video", 1, writer.count, state.snapshot())

    def _frames(self, source: Path, state: TrackState, rate: float) -> Iterator[np.ndarray]:
        """Anonymized frames in order; with ``realtime_fps`` frames arrive on the live clock."""
        if self.realtime_fps is None:
            for index, frame in enumerate(read_frames(source)):
                yield self.anonymizer.process(frame, state, index / rate)
            return
        interval = 1.0 / self.realtime_fps
        start = self._clock()
        busy_until = start
        for index, frame in enumerate(read_frames(source)):
            arrival = start + index * interval
            if busy_until > arrival:
                # The previous frame is still being processed: this one leaves fully obscured (the live rule).
                state.count_dropped()
                yield obscure_whole_frame(frame)
                continue
            wait = arrival - self._clock()
            if wait > 0:
                self._sleep(wait)
            out = self.anonymizer.process(frame, state, index * interval)
            busy_until = self._clock()
            yield out

    def close(self) -> None:
        """Stop the anonymizer's background worker."""
        self.anonymizer.close()


def anonymize_path(source: Path, target: Path, *, realtime_fps: float | None = None) -> MediaReport:
    """One-shot helper: anonymize ``source`` into ``target`` with a freshly built detector stack."""
    job = MediaAnonymizer(realtime_fps=realtime_fps)
    try:
        return job.run(source, target)
    finally:
        job.close()
