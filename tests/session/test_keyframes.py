"""Keyframe requests from many receivers become at most one keyframe per interval, none lost."""

from __future__ import annotations

from session.media.keyframes import KeyframeGate


def test_the_first_frame_is_a_keyframe() -> None:
    assert KeyframeGate().take(0.0)


def test_a_burst_of_requests_becomes_one_keyframe_and_a_later_request_is_served_after_the_interval() -> None:
    gate = KeyframeGate(min_interval_s=0.5)
    assert gate.take(0.0)
    for _ in range(50):  # a PLI flood from several receivers
        gate.request()
    frames = [gate.take(0.1 + i / 15) for i in range(30)]  # 2 s of frames at 15 fps
    assert sum(frames) == 1 and frames.index(True) == 6  # the first frame at or after 0.5 s
    assert gate.requests == 50 and gate.coalesced == 48  # the initial keyframe and one answer


def test_no_request_no_keyframe() -> None:
    gate = KeyframeGate()
    gate.take(0.0)
    assert not any(gate.take(t / 15) for t in range(1, 100))


def test_a_keyframe_the_encoder_made_anyway_answers_the_waiting_requests() -> None:
    gate = KeyframeGate()
    gate.take(0.0)
    gate.request()
    gate.forced(1.0)
    assert not gate.take(1.1) and not gate.take(5.0)
