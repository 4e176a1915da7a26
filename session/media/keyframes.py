"""Keyframe requests for one shared encoding: coalesced and rate-limited.

Every receiver of a shared VP8 stream can ask for a keyframe (PLI/FIR from its browser, a new subscription, a
subscriber cut back after falling behind). A keyframe is several times larger than a delta frame, so on a lossy
link one receiver's requests would, unchecked, force keyframes on everyone, and the larger frames lose more
packets, which brings more requests. Here any number of requests inside ``min_interval_s`` of the last keyframe
become one keyframe at the end of that interval; the counters show how many were merged.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_KEYFRAME_INTERVAL_S = 0.5


@dataclass(slots=True)
class KeyframeGate:
    """Pure state: ``request()`` from any receiver, ``take(now)`` once per encoded frame."""

    min_interval_s: float = MIN_KEYFRAME_INTERVAL_S
    wanted: bool = True
    last: float | None = None
    requests: int = 0
    keyframes: int = 0

    def request(self) -> None:
        self.requests += 1
        self.wanted = True

    def take(self, now: float) -> bool:
        """True when this frame is to be a keyframe."""
        if not self.wanted or (self.last is not None and now - self.last < self.min_interval_s):
            return False
        self.wanted = False
        self.last = now
        self.keyframes += 1
        return True

    def forced(self, now: float) -> None:
        """The encoder made a keyframe on its own (a new encoder): it answers every request so far."""
        self.wanted = False
        self.last = now

    @property
    def coalesced(self) -> int:
        """Requests that did not cause a keyframe of their own."""
        return max(0, self.requests - self.keyframes)
