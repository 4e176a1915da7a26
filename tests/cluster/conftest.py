"""One cluster (PostgreSQL, two nodes, HAProxy) for the whole module: starting it takes tens of seconds."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.support import Cluster, missing_binaries, start_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    missing = missing_binaries()
    if missing:
        pytest.skip(f"cluster tests need {', '.join(missing)} (Debian packages postgresql and haproxy)")
    if importlib.util.find_spec("asyncpg") is None:
        pytest.skip("cluster tests need asyncpg (pip install -e '.[postgres]')")
    root: Path = tmp_path_factory.mktemp("cluster")
    started = start_cluster(root)
    try:
        yield started
    finally:
        started.stop()
