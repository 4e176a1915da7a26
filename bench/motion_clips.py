"""Synthetic motion clips made from the labelled stills: a virtual camera panning and zooming over a photo.

Real labelled video is not available, but the failure modes of live anonymization are motion and light: a
face slides, grows and shrinks, and a dark or backlit stretch hides it from the detectors. Each clip moves a
4:3 window over a still along a smooth random path (pan across most of the photo, zoom between 1x and 2x,
up to about 25 output pixels per frame), renders 640x480 frames, and passes through a dark stretch (exposure
down to a fifth) and a backlit stretch (shadows and mid-tones crushed, highlights kept). The ground-truth boxes
are mapped through the same window, so every frame has exact labels. Paths are seeded: a clip is the same on
every run.

Harder styles (:data:`HARD_STYLES`) stress what single-frame detectors miss: ``fast`` pans three times as fast
(motion blur included), ``roll`` tilts the camera by up to 35 degrees either way (turned heads, in the image
plane), ``edge`` starts with the faces outside the frame and slides them in across an edge (partial faces
entering; outside the photo is black, never a mirrored copy), and ``backlit`` keeps the whole clip against
strong light (faces in crushed shadows, a blown-out glow behind them).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from bench.ground_truth import Still
from privacy.vision.boxes import Box

WIDTH, HEIGHT = 640, 480
HARD_STYLES = ("fast", "roll", "edge", "backlit")


@dataclass(frozen=True, slots=True)
class ClipFace:
    """A labelled face in one clip frame; ``scored`` says whether it counts (tall enough, mostly inside)."""

    box: Box
    scored: bool


@dataclass(frozen=True, slots=True)
class ClipFrame:
    """One rendered frame and its faces (indexed like the still's faces, so runs can be followed)."""

    image: np.ndarray
    faces: tuple[ClipFace, ...]
    light: str
    """"normal", "dark" or "backlit"."""


@dataclass(frozen=True, slots=True)
class Window:
    """The part of the still that the virtual camera sees."""

    x: float
    y: float
    w: float
    angle: float = 0.0
    """Camera roll in degrees (the picture turns about the window's centre)."""

    @property
    def h(self) -> float:
        return self.w * HEIGHT / WIDTH


def _path(still_w: int, still_h: int, frames: int, rng: np.random.Generator, style: str = "standard") -> list[Window]:
    max_w = min(float(still_w), still_h * WIDTH / HEIGHT)
    zoom_phase, pan_phase = rng.uniform(0, 2 * math.pi, size=2)
    zoom_cycles, pan_cycles = rng.uniform(0.5, 1.2), rng.uniform(0.4, 0.9)
    direction = rng.choice([-1.0, 1.0])
    if style == "fast":
        zoom_cycles, pan_cycles = 2 * zoom_cycles, 3 * pan_cycles
    windows = []
    for i in range(frames):
        t = i / max(1, frames - 1)
        zoom = 1.5 + 0.5 * math.sin(2 * math.pi * zoom_cycles * t + zoom_phase)  # 1x .. 2x
        w = max_w / zoom
        h = w * HEIGHT / WIDTH
        fx = 0.5 + 0.5 * direction * math.sin(2 * math.pi * pan_cycles * t + pan_phase)
        fy = 0.5 + 0.4 * math.cos(2 * math.pi * pan_cycles * 0.7 * t + pan_phase)
        angle = 35.0 * math.sin(2 * math.pi * pan_cycles * t + zoom_phase) if style == "roll" else 0.0
        if style == "edge":
            # The window starts mostly beside the photo and slides onto it: the faces enter across an edge.
            progress = min(1.0, 1.5 * t)
            start, end = (-0.6 * w, still_w - w) if direction > 0 else (still_w - 0.4 * w, 0.0)
            windows.append(Window(start + (end - start) * progress, (still_h - h) * fy, w))
            continue
        windows.append(Window((still_w - w) * fx, (still_h - h) * fy, w, angle))
    return windows


def _lighting(frames: int, rng: np.random.Generator) -> list[str]:
    light = ["normal"] * frames
    third = max(1, frames // 3)
    length = max(2, frames // 6)
    dark_start = int(rng.integers(0, max(1, third - length + 1)))
    back_start = third + int(rng.integers(0, max(1, third)))
    for i in range(dark_start, min(frames, dark_start + length)):
        light[i] = "dark"
    for i in range(back_start, min(frames, back_start + length)):
        light[i] = "backlit"
    return light


_BACKLIT_TABLE = np.clip(255.0 * np.power(np.arange(256) / 255.0, 2.6) * 1.15, 0, 255).astype(np.uint8)


def _apply_light(frame: np.ndarray, light: str) -> np.ndarray:
    if light == "dark":
        return cv2.convertScaleAbs(frame, alpha=0.2, beta=0)
    if light == "backlit":
        out: np.ndarray = cv2.LUT(frame, _BACKLIT_TABLE)
        return out
    return frame


def _matrix(window: Window) -> np.ndarray:
    """The 2x3 map from still pixels to frame pixels (scale and shift, then the roll about the centre)."""
    scale = WIDTH / window.w
    matrix = np.array([[scale, 0.0, -window.x * scale], [0.0, scale, -window.y * scale], [0.0, 0.0, 1.0]])
    if window.angle:
        roll = np.vstack([cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), window.angle, 1.0), [0.0, 0.0, 1.0]])
        matrix = roll @ matrix
    return matrix[:2]


def render(image: np.ndarray, window: Window, border: int = cv2.BORDER_REFLECT) -> tuple[np.ndarray, float]:
    """The 640x480 view through ``window`` and the scale from still to frame pixels."""
    frame = cv2.warpAffine(image, _matrix(window), (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=border)
    return frame, WIDTH / window.w


def _map_face(box: Box, window: Window, scale: float, min_height: float, invalid: bool) -> ClipFace:
    del scale
    corners = np.array([[box.x, box.y, 1.0], [box.x + box.w, box.y, 1.0], [box.x, box.y + box.h, 1.0]])
    corners = np.vstack([corners, [box.x + box.w, box.y + box.h, 1.0]])
    points = corners @ _matrix(window).T
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    mapped = Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    inside = mapped.clipped(WIDTH, HEIGHT)
    share = (inside.w * inside.h) / (mapped.w * mapped.h) if inside is not None and mapped.w * mapped.h > 0 else 0.0
    return ClipFace(mapped, (not invalid) and mapped.h >= min_height and share >= 0.7)


def _blur_along(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Motion blur of a camera moving ``dx``, ``dy`` pixels during the exposure (about half a frame)."""
    length = int(min(25.0, math.hypot(dx, dy) / 2))
    if length < 2:
        return frame
    kernel = np.zeros((length, length), np.float32)
    angle = math.atan2(dy, dx)
    c, s = (length - 1) / 2, (length - 1) / 2
    for k in range(length):
        r = k - c
        kernel[round(s + r * math.sin(angle)), round(c + r * math.cos(angle))] = 1.0
    blurred: np.ndarray = cv2.filter2D(frame, -1, kernel / kernel.sum())
    return blurred


def _glow(frame: np.ndarray) -> np.ndarray:
    """Strong light behind the subject: shadows crushed, a blown-out glow across the upper frame."""
    dark: np.ndarray = cv2.LUT(frame, _BACKLIT_TABLE)
    ys = np.linspace(1.0, 0.0, HEIGHT, dtype=np.float32)[:, None, None]
    lit = dark.astype(np.float32) + 140.0 * ys**2
    return np.clip(lit, 0, 255).astype(np.uint8)


def make_clip(
    still: Still, frames: int, seed: int, min_height: float = 32.0, style: str = "standard"
) -> Iterator[ClipFrame]:
    """The frames of one clip over ``still`` (generated lazily: a clip is never held in memory whole).

    ``style`` is ``"standard"`` or one of :data:`HARD_STYLES`.
    """
    image = cv2.imread(str(still.path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(still.path)
    rng = np.random.default_rng(seed)
    windows = _path(image.shape[1], image.shape[0], frames, rng, style)
    lights = ["backlit"] * frames if style == "backlit" else _lighting(frames, rng)
    noise_rng = np.random.default_rng(seed + 1)
    border = cv2.BORDER_CONSTANT if style in ("roll", "edge") else cv2.BORDER_REFLECT
    previous = windows[0]
    for window, light in zip(windows, lights, strict=True):
        frame, scale = render(image, window, border)
        if style == "fast":
            frame = _blur_along(frame, (previous.x - window.x) * scale, (previous.y - window.y) * scale)
        previous = window
        frame = _glow(frame) if style == "backlit" else _apply_light(frame, light)
        noise = noise_rng.normal(0.0, 2.0, size=frame.shape)
        frame = np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        faces = tuple(_map_face(f.box, window, scale, min_height, f.invalid) for f in still.faces)
        yield ClipFrame(frame, faces, light)


def pick_stills(stills: Sequence[Still], count: int, min_height: float = 32.0) -> list[Still]:
    """``count`` stills spread evenly over those with at least one face of ``min_height`` pixels or more."""
    usable = [s for s in stills if any(not f.invalid and f.box.h >= min_height for f in s.faces)]
    if count >= len(usable):
        return list(usable)
    step = len(usable) / count
    return [usable[int(i * step)] for i in range(count)]
