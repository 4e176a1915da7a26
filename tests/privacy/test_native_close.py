"""A detector collected inside another thread pool's ``submit`` must not wait for the lock that ``submit`` holds.

``concurrent.futures`` holds one global, non-reentrant lock in every ``ThreadPoolExecutor.submit``; mediapipe
closes a graph through its own pool. A whole test run once hung with the main thread inside an aiortc sender's
``run_in_executor``, where a garbage collection ran a BlazeFace detector's finalizer, whose close waited for that
lock in the same thread. Here the lock is held by the test (as that ``submit`` held it) while another thread lets
the last reference to a detector go: the release must return at once, and the graph is closed once the lock is
free.
"""

from __future__ import annotations

import concurrent.futures.thread as pool_threads
import gc
import threading

import pytest

from privacy.vision.blazeface import BlazeFaceDetector
from privacy.vision.head_cues import PersonSegmenter
from privacy.vision.native_close import ClosedWhenCollected


@pytest.mark.parametrize("make", [BlazeFaceDetector, PersonSegmenter], ids=["blazeface", "person-mask"])
def test_a_collected_detector_does_not_wait_for_the_pool_lock(make: type) -> None:
    holder: list[object] = [make()]
    closed = threading.Event()
    task = holder[0]._task  # type: ignore[attr-defined]

    def close_and_tell() -> None:
        task.close()  # mediapipe's own close, through mediapipe's pool
        closed.set()

    # The detector's own close, observed: the same mechanism, with a close that says when it ran.
    holder[0]._closing._finalizer.detach()  # type: ignore[attr-defined]
    holder[0]._closing = ClosedWhenCollected(holder[0], close_and_tell, holder[0]._lock)  # type: ignore[attr-defined]

    def let_go() -> None:
        holder.clear()
        gc.collect()

    releaser = threading.Thread(target=let_go)
    with pool_threads._global_shutdown_lock:  # what ThreadPoolExecutor.submit holds while it starts a thread
        releaser.start()
        releaser.join(timeout=5)
        released = not releaser.is_alive()
    releaser.join(timeout=30)
    assert released, "letting the detector go waited for the thread pool's lock"
    assert closed.wait(timeout=30), "the collected detector's graph was never closed"


def test_an_explicit_close_closes_at_once_and_only_once() -> None:
    detector = BlazeFaceDetector()
    calls: list[int] = []
    task = detector._task

    def close() -> None:
        calls.append(1)
        task.close()

    detector._closing._finalizer.detach()
    detector._closing = ClosedWhenCollected(detector, close, detector._lock)
    detector.close()
    assert calls == [1]  # at once, in this thread
    detector.close()
    del detector
    gc.collect()
    assert calls == [1]
