"""The Alembic migrations build exactly the schema the code's table definitions describe."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from privacy.records import tables as privacy_tables
from recordings import tables as recording_tables
from session import cluster_tables
from session import tables as session_tables
from session.access import brukerpass_tables
from session.access import tables as access_tables
from session.planning import tables as planning_tables
from web.database import migrate


def test_migrated_schema_matches_the_table_definitions(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    migrate(f"sqlite+aiosqlite:///{db}")
    inspector = sa.inspect(sa.create_engine(f"sqlite:///{db}"))
    for metadata in (
        session_tables.metadata,
        privacy_tables.metadata,
        planning_tables.metadata,
        access_tables.metadata,
        recording_tables.metadata,
        cluster_tables.metadata,
        brukerpass_tables.metadata,
    ):
        for table in metadata.sorted_tables:
            assert inspector.has_table(table.name), table.name
            migrated = {c["name"]: c for c in inspector.get_columns(table.name)}
            assert set(migrated) == {c.name for c in table.columns}, table.name
            for column in table.columns:
                assert migrated[column.name]["nullable"] == column.nullable, (table.name, column.name)
            indexes = {i["name"] for i in inspector.get_indexes(table.name)}
            assert {i.name for i in table.indexes} <= indexes, table.name
