"""Closing mediapipe graphs whose owner was collected, without deadlocking the thread that collected it.

A mediapipe task's ``close()`` goes through mediapipe's own thread pool (``ThreadPoolExecutor.submit``), and
``submit`` holds ``concurrent.futures``' one global shutdown lock (not reentrant) while it starts a worker thread.
A finalizer runs wherever the garbage collector happens to run: it ran inside such a ``submit`` (an aiortc
sender's ``run_in_executor`` creating a thread, a collection, a BlazeFace detector's finalizer), and its own
``submit`` then waited for that lock in the same thread, forever: a whole test run hung. So a collected owner's
close is handed to one closer thread: :meth:`queue.SimpleQueue.put` is safe to call from a finalizer. An explicit
``close()`` still closes at once, in the caller's thread.

At exit, what is still open is closed from a threading-atexit hook: mediapipe runs every native call through a
thread pool that Python shuts down before ordinary atexit handlers run, and graphs still open then make
mediapipe's ``__del__`` print errors.
"""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401 - registers its exit hook before ours (see _close_all_at_exit)
import contextlib
import queue
import threading
import weakref
from collections.abc import Callable

_pending: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
_closer: threading.Thread | None = None
_start_lock = threading.Lock()


def _close_pending() -> None:
    while True:
        close = _pending.get()
        with contextlib.suppress(Exception):  # mediapipe's pool may already be shut down at exit
            close()


def _start_closer() -> None:
    """Start the closer thread once; called where a finalizer is registered, never from a finalizer."""
    global _closer
    with _start_lock:
        if _closer is None:
            _closer = threading.Thread(target=_close_pending, name="mediapipe-closer", daemon=True)
            _closer.start()


def _close_later(close: Callable[[], object]) -> None:
    _pending.put(close)


class ClosedWhenCollected:
    """The close of one native resource: :meth:`close` runs it now (once, under ``lock``, the lock its calls take);
    if ``owner`` is collected first, it runs on the closer thread; still open at exit, it runs then."""

    def __init__(self, owner: object, close: Callable[[], object], lock: threading.Lock) -> None:
        _start_closer()
        self._close = close
        self._lock = lock
        self._finalizer = weakref.finalize(owner, _close_later, close)
        self._finalizer.atexit = False
        _open.add(self)

    def close(self) -> None:
        with self._lock:
            if self._finalizer.detach() is not None:
                self._close()


_open: weakref.WeakSet[ClosedWhenCollected] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    for handle in list(_open):
        handle.close()


_register = getattr(threading, "_register_atexit", None)
if _register is not None:
    _register(_close_all_at_exit)
