from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fake_clock import FakeClock
from tests.live_server import LiveServer, server_settings, start_server
from tests.planning_web.support import MONDAY_10


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_10)


@pytest.fixture
async def clocked(tmp_path: Path, clock: FakeClock) -> AsyncIterator[LiveServer]:
    """A server whose wall clock the test moves (opening hours, lockouts, "in the past")."""
    live = await start_server(server_settings(tmp_path / "data"), clock=clock)
    yield live
    await live.stop()
