"""One cluster (PostgreSQL, two nodes, HAProxy) for the whole module: starting it takes tens of seconds. Tests
that need only the database get ``postgres``: the same throw-away PostgreSQL, migrated, without nodes."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.support import Cluster, Postgres, missing_binaries, start_cluster
from web.database import migrate


def _skip_without(binaries: tuple[str, ...]) -> None:
    missing = missing_binaries(binaries)
    if missing:
        pytest.skip(f"cluster tests need {', '.join(missing)} (Debian packages postgresql and haproxy)")
    if importlib.util.find_spec("asyncpg") is None:
        pytest.skip("cluster tests need asyncpg (pip install -e '.[postgres]')")


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """The URL of a migrated, empty PostgreSQL database."""
    _skip_without(("initdb", "pg_ctl"))
    pg = Postgres()
    try:
        pg.init()
        pg.start()
        migrate(pg.url)
        yield pg.url
    finally:
        pg.destroy()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _skip_without(("initdb", "pg_ctl", "haproxy"))
    root: Path = tmp_path_factory.mktemp("cluster")
    started = start_cluster(root)
    try:
        yield started
    finally:
        started.stop()
