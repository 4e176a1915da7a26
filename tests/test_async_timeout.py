"""A hung async test ends as a failure, even while its event loop is busy (see ``_bounded`` in tests/conftest.py).

A child pytest runs a test that waits forever while a callback keeps the loop busy, as a live call does. Without
the bound, pytest-timeout's exception is raised inside that callback, asyncio logs and swallows it, and the child
never ends; the parent's own limit then fails this test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.media import REPO

HUNG = textwrap.dedent(
    """
    import asyncio

    import pytest

    FINALLY = []


    @pytest.mark.timeout(3)
    async def test_waits_forever_on_a_busy_loop() -> None:
        loop = asyncio.get_running_loop()

        def busy() -> None:  # a callback that is running most of the time, like RTP senders in a call
            end = loop.time() + 0.05
            while loop.time() < end:
                pass
            loop.call_soon(busy)

        loop.call_soon(busy)
        try:
            await asyncio.Event().wait()
        finally:
            print("FINALLY-RAN")
    """
)


def test_a_hung_async_test_fails_within_its_limit_and_runs_its_finally(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_collection_modifyitems  # noqa: F401\n")
    (tmp_path / "test_hung.py").write_text(HUNG)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\ntimeout = 120\n")
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:rerunfailures",
         str(tmp_path / "test_hung.py")],
        cwd=tmp_path, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    took = time.monotonic() - started
    assert child.returncode == 1, child.stdout[-2000:]
    assert "1 failed" in child.stdout and "TimeoutError" in child.stdout
    assert "FINALLY-RAN" in child.stdout
    assert took < 45, took
