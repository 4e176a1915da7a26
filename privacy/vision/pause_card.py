"""The neutral card that replaces a paused participant's video.

It carries no pixel of the camera: a flat muted background, a thin frame and a word ("Pause" by default), so
viewers see at once that the pause is deliberate and nothing is broken. Cards are cached per size and text
because a pause can last minutes at 15 frames per second; callers get a copy they may modify.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

BACKGROUND_BGR = (74, 64, 58)
"""A dark slate blue-grey: calm, clearly not a camera image."""
FOREGROUND_BGR = (235, 235, 235)

_cache: dict[tuple[int, int, str], np.ndarray] = {}
_lock = threading.Lock()


def _render(width: int, height: int, text: str) -> np.ndarray:
    card = np.empty((height, width, 3), dtype=np.uint8)
    card[:] = BACKGROUND_BGR
    if width < 8 or height < 8:
        return card
    border = max(1, min(width, height) // 60)
    inset = max(2, min(width, height) // 20)
    cv2.rectangle(card, (inset, inset), (width - 1 - inset, height - 1 - inset), FOREGROUND_BGR, border)
    if not text:
        return card
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, min(width, height) // 120)
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, thickness)
    scale = max(0.3, min((width * 0.5) / max(1, tw), (height * 0.15) / max(1, th)))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    origin = ((width - tw) // 2, (height + th) // 2)
    cv2.putText(card, text, origin, font, scale, FOREGROUND_BGR, thickness, cv2.LINE_AA)
    return card


def pause_card(width: int, height: int, text: str = "Pause") -> np.ndarray:
    """A ``height`` x ``width`` BGR uint8 neutral card showing ``text`` (a new array on every call)."""
    if width <= 0 or height <= 0:
        raise ValueError("card size must be positive")
    key = (width, height, text)
    with _lock:
        card = _cache.get(key)
        if card is None:
            if len(_cache) > 32:
                _cache.clear()
            card = _render(width, height, text)
            _cache[key] = card
    return card.copy()
