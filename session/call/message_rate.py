"""A token bucket per signalling socket: a client that floods messages is told to slow down, not disconnected.

Pure and clock-injected. Audited actions (pause, roster, consent, admit) get a smaller bucket of their own, so
that toggling pause three hundred times cannot write three hundred signed audit rows; identical audit records
that still get through close together are merged by the effect interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float
    """Tokens added per second."""
    burst: float
    """Most tokens held; also the start."""
    tokens: float = -1.0
    updated: float = 0.0

    def take(self, now: float, cost: float = 1.0) -> bool:
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True


def message_bucket() -> TokenBucket:
    """Every message: a browser sends a few per second at most (pings, media toggles); bursts on joining."""
    return TokenBucket(rate=20.0, burst=60.0)


def audited_bucket() -> TokenBucket:
    """Messages that write to the signed audit log: a person does not pause or admit more than once a second."""
    return TokenBucket(rate=0.5, burst=10.0)
