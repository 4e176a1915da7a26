from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser") is not None and item.get_closest_marker("flaky") is None:
            item.add_marker(pytest.mark.flaky(reruns=BROWSER_RERUNS, reruns_delay=2))
