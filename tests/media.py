"""Test media from ../shared/data (never copied into the repository) and the fake camera made from it."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    return Path(os.environ.get("SAMHANDLING_TEST_DATA") or REPO.parent / "shared" / "data")


def clip_path() -> Path:
    return shared_data_dir() / "video" / "short_hamilton_clip.mp4"


def letterbox(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to fit ``width`` x ``height`` keeping the aspect ratio, black bars for the rest."""
    import cv2

    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = round(w * scale), round(h * scale)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def clip_frames(width: int = 640, height: int = 480, fps: int = 15) -> list[np.ndarray]:
    """The clip resampled to ``fps`` and letterboxed to the camera size, as BGR frames."""
    frames: list[np.ndarray] = []
    with av.open(str(clip_path())) as container:
        stream = container.streams.video[0]
        src_fps = float(stream.average_rate or 30)
        step = src_fps / fps
        next_pick = 0.0
        for i, frame in enumerate(container.decode(stream)):
            if i + 1e-6 >= next_pick:
                frames.append(letterbox(frame.to_ndarray(format="bgr24"), width, height))
                next_pick += step
    return frames


def write_y4m(frames: list[np.ndarray], path: Path, fps: int = 15) -> Path:
    """A .y4m file Chromium can use as its fake camera (--use-file-for-fake-video-capture)."""
    h, w = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for bgr in frames:
            yuv = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p").to_ndarray()
            out.write(b"FRAME\n")
            out.write(yuv.tobytes())
    return path


def frame_time_base(fps: int) -> Fraction:
    return Fraction(1, fps)
