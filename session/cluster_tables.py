"""Tables that let several server processes and nodes act as one service (SQLAlchemy Core, both engines).

``dropin_queues`` holds each department's drop-in line as one JSON document (anonymous tickets: random ids,
times, the role a caller picked; nothing else), so a caller polling node A and a technician on node B see the
same line. ``cluster_nodes`` is each node's heartbeat: a node that stops beating is dead, and the others finish
what it left (its recordings become ``broken``), as the node itself does at start-up.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()

dropin_queues = Table(
    "dropin_queues",
    metadata,
    Column("centre_id", Integer, primary_key=True, autoincrement=False),
    Column("department", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
)

cluster_nodes = Table(
    "cluster_nodes",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Column("draining", Integer, nullable=False, default=0),
)
