"""Tables that let several server processes and nodes act as one service (SQLAlchemy Core, both engines).

``dropin_queues`` holds each department's drop-in line as one JSON document (anonymous tickets: random ids,
times, the role a caller picked; nothing else), so a caller polling node A and a technician on node B see the
same line. ``cluster_nodes`` is each node's heartbeat: a node that stops beating is dead, and the others finish
what it left (its recordings become ``broken``), as the node itself does at start-up. ``attempt_failures``
counts failed guesses (join codes, room codes) per keyed hash of a client, so that every worker and node slows
the same guesser down (``session.access.attempt_store``); it holds no address, and quiet rows are swept after a day.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Double, Index, Integer, MetaData, String, Table, Text

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

attempt_failures = Table(
    "attempt_failures",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failed", Double, nullable=False),
    Column("wait_until", Double, nullable=False),
    Index("ix_attempt_failures_last_failed", "last_failed"),
)
"""Times are seconds since the epoch (the limiter's clock); ``key_hash`` is an HMAC, never an address."""
