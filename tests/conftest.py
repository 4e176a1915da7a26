from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from tests.coturn import coturn
from tests.live_server import LiveServer, server_settings, start_server
from tests.media import clip_frames, write_y4m


@pytest.fixture(scope="session")
def camera_y4m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real test clip as a 640x480 15 fps fake camera (made once per test run, outside the repository)."""
    return write_y4m(clip_frames(), tmp_path_factory.mktemp("camera") / "camera.y4m")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    live = await start_server(server_settings(tmp_path / "data"))
    yield live
    await live.stop()


__all__ = ["camera_y4m", "coturn", "server"]  # coturn: a fixture shared by tests/session and tests/browser

BROWSER_RERUNS = 2
"""Browser tests measure real frame rates and delays on a 2-core machine that also runs the server, two
Chromiums and the anonymizer; a busy moment can push one measurement over its bound. Such a test gets two more
tries; a real regression fails all three."""


def _bounded(test: Callable[..., Coroutine[Any, Any, Any]], seconds: float) -> Callable[..., Any]:
    """``test`` cancelled after ``seconds`` (its pytest-timeout limit), failing with a TimeoutError that shows where
    it waited.

    pytest-timeout's signal raises its exception inside whatever the event loop is running, and asyncio catches
    and logs exceptions raised in callbacks: a hung async test then never ends, and a whole run hangs with it.
    Cancelling the test's own coroutine runs its ``finally`` blocks (browsers and servers close) and ends it as
    a failure, which the browser tests' reruns then treat like any other.
    """

    @functools.wraps(test)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.wait_for(test(*args, **kwargs), seconds)

    return bounded


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    default = float(config.getini("timeout") or 0)
    for item in items:
        if item.get_closest_marker("browser") is not None and item.get_closest_marker("flaky") is None:
            item.add_marker(pytest.mark.flaky(reruns=BROWSER_RERUNS, reruns_delay=2))
        marker = item.get_closest_marker("timeout")
        limit = float(marker.args[0]) if marker is not None and marker.args else default
        test = getattr(item, "obj", None)
        if limit > 0 and inspect.iscoroutinefunction(test):
            item.obj = _bounded(test, limit)  # type: ignore[attr-defined]
