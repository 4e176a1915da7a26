"""Hand-written fakes and builders for the privacy-records tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def make_identity_number(date_part: str, individual: str, residue: int = 0) -> str | None:
    """An 11-digit number with computed control digits, or None when k1 or k2 would be 10 (unusable).

    ``residue`` is the remainder the first control sum leaves: 0 for numbers issued before 2032, 0-3 after
    (Skatteetaten's 2032 rule). Test numbers are always built here, never copied from anywhere.
    """
    base = [int(c) for c in date_part + individual]
    k1 = (residue - sum(w * d for w, d in zip(K1_WEIGHTS, base, strict=True))) % 11
    if k1 == 10:
        return None
    k2 = -sum(w * d for w, d in zip(K2_WEIGHTS, [*base, k1], strict=True)) % 11
    if k2 == 10:
        return None
    return f"{date_part}{individual}{k1}{k2}"


def first_identity_number(date_part: str, residue: int = 0, start: int = 100) -> str:
    """The first usable number on ``date_part`` with individual numbers counted up from ``start``."""
    for individual in range(start, 1000):
        number = make_identity_number(date_part, f"{individual:03d}", residue)
        if number is not None:
            return number
    raise AssertionError("no usable individual number")


class FixedClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


class FakeMeetings:
    """The session layer's meeting lookup, as a set of known meeting ids."""

    def __init__(self, *known: str) -> None:
        self.known = set(known)

    async def __call__(self, _conn: object, meeting_id: str) -> bool:
        return meeting_id in self.known


class TickingClock(FixedClock):
    """A clock that moves one millisecond every time it is read, so the order of reads shows in the times."""

    def now(self) -> datetime:
        return self.advance(0.001)
