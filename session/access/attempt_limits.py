"""Failed-guess limits that slow a guesser down without letting a stranger lock anyone else out.

Failures are counted per key: a client (a keyed hash of its address, taken behind a trusted proxy from the
forwarding header) and, where there is one, the thing being guessed at (a room code). The first ``free``
failures cost nothing; after that each further attempt must wait twice as long as the one before, up to
``max_delay``. There is deliberately no global counter: a global limit is a switch any stranger can flip to lock
out every citizen at once. A key that stays quiet for ``forget_after`` starts afresh, and the table keeps at most
``max_keys`` keys (the oldest go first), so a flood of new addresses costs bounded memory.

The policy and ``BackoffLimiter`` are pure and clock-injected: callers pass ``now`` in seconds. ``BackoffLimiter``
keeps its counts in one process's memory, which a second worker or node would not see (each would grant its own
free failures); the app therefore counts through an :class:`AttemptLimiter` backed by the shared database
(``session.access.attempt_store``), and ``MemoryAttemptLimiter`` puts the in-memory one behind the same interface.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)
class _Failures:
    count: int
    last: float
    wait_until: float


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    free: int = 5
    """Failures allowed before any waiting (typing mistakes)."""
    first_delay: float = 2.0
    max_delay: float = 3600.0
    forget_after: float = 24 * 3600.0
    max_keys: int = 100_000

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures: 0 while free, then doubling up to ``max_delay``."""
        over = failures - self.free - 1
        if over < 0:
            return 0.0
        return min(self.max_delay, self.first_delay * 2.0 ** min(over, 40))


class BackoffLimiter:
    """Exponential back-off per key; see the module docstring for why there is no total."""

    def __init__(self, policy: BackoffPolicy | None = None) -> None:
        self.policy = policy or BackoffPolicy()
        self._keys: OrderedDict[str, _Failures] = OrderedDict()

    def _current(self, key: str, now: float) -> _Failures | None:
        entry = self._keys.get(key)
        if entry is not None and now - entry.last > self.policy.forget_after:
            del self._keys[key]
            return None
        return entry

    def blocked(self, key: str, now: float) -> bool:
        entry = self._current(key, now)
        return entry is not None and now < entry.wait_until

    def failed(self, key: str, now: float) -> None:
        entry = self._current(key, now)
        count = 1 if entry is None else entry.count + 1
        self._keys[key] = _Failures(count, now, now + self.policy.delay(count))
        self._keys.move_to_end(key)
        while len(self._keys) > self.policy.max_keys:
            self._keys.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._keys.pop(key, None)

    def attempt(self, key: str, now: float) -> bool:
        """Charge one try to ``key`` before it is checked; False (nothing charged) while ``key`` must wait."""
        if self.blocked(key, now):
            return False
        self.failed(key, now)
        return True

    def refund(self, key: str) -> None:
        """Give back a charged try that did not fail; a wait it started runs out on its own."""
        entry = self._keys.get(key)
        if entry is not None and entry.count > 0:
            entry.count -= 1

    def __len__(self) -> int:
        return len(self._keys)


class AttemptLimiter(Protocol):
    """Where tries are counted. ``key`` is already a keyed hash chosen by the caller (purpose and client).

    A try is charged *before* it is checked and given back when it did not fail: so a burst of tries sent at once
    is limited as strictly as tries sent one after another (a check-then-count limiter lets the whole burst in).
    """

    async def attempt(self, key: str, now: float) -> bool:
        """Charge one try to ``key``; False, and nothing charged, while ``key`` must wait. Every try counts, also
        two at the same moment in two processes."""
        ...

    async def refund(self, key: str) -> None:
        """Give back a try that did not fail (the right code, or one that had expired)."""
        ...


class MemoryAttemptLimiter:
    """A :class:`BackoffLimiter` behind the :class:`AttemptLimiter` interface: one process only (tests, tools)."""

    def __init__(self, policy: BackoffPolicy | None = None) -> None:
        self.state = BackoffLimiter(policy)

    async def attempt(self, key: str, now: float) -> bool:
        return self.state.attempt(key, now)

    async def refund(self, key: str) -> None:
        self.state.refund(key)


def guesses_per_day(policy: BackoffPolicy) -> int:
    """The most failures one key can make in a day under ``policy`` (for the arithmetic in the threat model)."""
    t, n = 0.0, 0
    while True:
        wait = policy.delay(n)
        if t + wait > 86_400:
            return n
        t += wait
        n += 1
