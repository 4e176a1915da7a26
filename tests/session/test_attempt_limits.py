"""Attempt limits slow one guesser down and never lock out anyone else."""

from __future__ import annotations

from session.access.attempt_limits import BackoffLimiter, BackoffPolicy, guesses_per_day


def test_free_failures_then_waits_that_double_up_to_the_cap() -> None:
    policy = BackoffPolicy(free=3, first_delay=2.0, max_delay=60.0)
    assert [policy.delay(n) for n in range(1, 10)] == [0.0, 0.0, 0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    limiter = BackoffLimiter(policy)
    for _ in range(3):
        limiter.failed("a", 0.0)
        assert not limiter.blocked("a", 0.0)
    limiter.failed("a", 0.0)
    assert limiter.blocked("a", 1.9) and not limiter.blocked("a", 2.0)
    limiter.failed("a", 2.0)
    assert limiter.blocked("a", 5.9) and not limiter.blocked("a", 6.0)
    limiter.succeeded("a")
    assert not limiter.blocked("a", 6.0)


def test_no_number_of_strangers_can_lock_out_someone_else() -> None:
    limiter = BackoffLimiter(BackoffPolicy(free=0, max_keys=1000))
    for n in range(5000):
        limiter.failed(f"stranger-{n}", 100.0)
        limiter.failed(f"stranger-{n}", 100.0)
    assert not limiter.blocked("citizen", 100.0)
    assert len(limiter) == 1000  # memory stays bounded under a flood of new addresses


def test_a_quiet_key_starts_afresh() -> None:
    limiter = BackoffLimiter(BackoffPolicy(free=0, first_delay=10.0, forget_after=100.0))
    limiter.failed("a", 0.0)  # first failure: wait 10 s
    limiter.failed("a", 10.0)  # second failure: wait 20 s
    assert limiter.blocked("a", 29.0)
    limiter.failed("a", 500.0)  # long quiet: counted as a first failure again
    assert not limiter.blocked("a", 510.0)


def test_the_daily_budget_used_in_the_threat_model() -> None:
    budget = guesses_per_day(BackoffPolicy())
    assert 25 <= budget <= 40  # 5 free, about 11 doublings to the hour, then one an hour


def test_a_try_is_charged_before_it_is_checked_and_given_back_when_it_did_not_fail() -> None:
    limiter = BackoffLimiter(BackoffPolicy(free=1, first_delay=4.0))
    assert limiter.attempt("a", 0.0) and limiter.attempt("a", 0.0)  # the second starts a 4 s wait
    assert not limiter.attempt("a", 3.9)  # refused, and not charged
    assert limiter.attempt("a", 4.0)  # the third: 8 s
    limiter.refund("a")  # it was the right code
    assert not limiter.attempt("a", 11.9)  # a wait already started runs out on its own
    assert limiter.attempt("a", 12.0) and limiter.blocked("a", 19.9)  # the third again: 8 s, not 16 s
