"""Persistence of the two signed chains (consent ledger, audit log) in SQLAlchemy Core, async.

Appending is atomic and serialised per chain. The first statement of an append is an UPDATE of the chain's
head row that changes nothing: on PostgreSQL it takes that row's lock, so a second appender waits until the
first commits and then (under READ COMMITTED, the default) reads the new tail; on SQLite it takes the database
write lock at once, so two writers queue on ``busy_timeout`` instead of failing to upgrade a read lock. The
same SQL runs on both, and the primary key on ``seq`` refuses a fork even if locking were misconfigured. Under
SERIALIZABLE isolation a waiting appender fails with a serialization error instead, which callers may retry.

Before appending, the newest entries (``tail_window``) are verified: hashes, signatures, links, derived columns
and the head row. A chain whose tail does not verify is refused with ChainTampered and nothing is appended; the
whole chain is checked by ``verify_stored`` (at start-up and by ``samhandling audit verify``). Lock order when
one transaction appends to both chains: consent ledger first, then audit log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Insert, Row, Table, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from privacy.records import consent
from privacy.records.audit_record import AuditRecord
from privacy.records.errors import ChainTampered, PrivacyRecordError
from privacy.records.signed_chain import (
    GENESIS,
    ChainEntry,
    ChainHead,
    FailureReason,
    NotCanonical,
    VerifyResult,
    failure,
    seal,
    verify_chain,
)
from privacy.records.tables import audit_log, audit_log_orgs, chain_heads, consent_ledger

TAIL_WINDOW = 16
BATCH = 1000


class ChainName(StrEnum):
    CONSENT = "consent"
    AUDIT = "audit"


TABLES: dict[ChainName, Table] = {ChainName.CONSENT: consent_ledger, ChainName.AUDIT: audit_log}
Check = Callable[[AsyncConnection], Awaitable[None]]


def derived_columns(chain: ChainName, payload: Mapping[str, object]) -> tuple[dict[str, object], tuple[int, ...]]:
    """The query columns and (audit only) organisation ids derived from a payload, validating it on the way."""
    if chain is ChainName.CONSENT:
        event = consent.from_payload(payload)
        columns: dict[str, object] = {
            "event_type": consent.GIVEN if isinstance(event, consent.ConsentGiven) else consent.WITHDRAWN,
            "consent_id": event.consent_id,
            "meeting_id": event.meeting_id,
            "subject_ref": event.subject_ref,
        }
        return columns, ()
    record = AuditRecord.from_payload(payload)
    return {"action": record.action, "meeting_id": record.meeting_id}, record.org_ids


def _entry(chain: ChainName, row: Row[Any]) -> ChainEntry:
    return ChainEntry(
        chain=chain.value,
        seq=int(row.seq),
        prev_hash=row.prev_hash,
        created_at=row.created_at,
        payload_json=row.payload,
        entry_hash=row.entry_hash,
        signature=row.signature,
    )


def _insert_head_if_missing(conn: AsyncConnection, chain: ChainName) -> Insert:
    values = {"chain": chain.value, "last_seq": GENESIS.seq, "last_hash": GENESIS.entry_hash}
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return sqlite_insert(chain_heads).values(values).on_conflict_do_nothing(index_elements=["chain"])
    if dialect == "postgresql":
        return postgresql_insert(chain_heads).values(values).on_conflict_do_nothing(index_elements=["chain"])
    return insert(chain_heads).values(values)  # other databases: a concurrent first append may fail once


async def read_head(conn: AsyncConnection, chain: ChainName) -> ChainHead | None:
    row = (
        await conn.execute(
            select(chain_heads.c.last_seq, chain_heads.c.last_hash).where(chain_heads.c.chain == chain.value)
        )
    ).first()
    return ChainHead(int(row.last_seq), row.last_hash) if row is not None else None


async def lock_chain(conn: AsyncConnection, chain: ChainName) -> ChainHead:
    """Take the chain's append lock for the rest of the transaction and return the recorded head."""
    touch = update(chain_heads).where(chain_heads.c.chain == chain.value).values(last_seq=chain_heads.c.last_seq)
    if (await conn.execute(touch)).rowcount == 0:
        await conn.execute(_insert_head_if_missing(conn, chain))
        await conn.execute(touch)
    head = await read_head(conn, chain)
    if head is None:  # cannot happen: the row was touched or inserted in this transaction
        raise RuntimeError("chain head row missing after locking")
    return head


async def _rows_after(conn: AsyncConnection, chain: ChainName, lo: int) -> list[Row[Any]]:
    table = TABLES[chain]
    return list((await conn.execute(select(table).where(table.c.seq > lo).order_by(table.c.seq))).all())


async def _org_links(conn: AsyncConnection, lo: int, hi: int) -> dict[int, set[int]]:
    links: dict[int, set[int]] = {}
    query = select(audit_log_orgs.c.seq, audit_log_orgs.c.org_id).where(
        audit_log_orgs.c.seq > lo, audit_log_orgs.c.seq <= hi
    )
    for seq, org_id in (await conn.execute(query)).all():
        links.setdefault(int(seq), set()).add(int(org_id))
    return links


def _index_problem(chain: ChainName, row: Row[Any], links: Mapping[int, set[int]]) -> str | None:
    try:
        entry = _entry(chain, row)
        columns, org_ids = derived_columns(chain, entry.payload())
    except (PrivacyRecordError, NotCanonical, ValueError) as exc:
        return f"payload cannot be read as a {chain.value} record ({type(exc).__name__})"
    for name, value in columns.items():
        if row._mapping[name] != value:
            return f"column {name} differs from the signed payload"
    if chain is ChainName.AUDIT and links.get(entry.seq, set()) != set(org_ids):
        return "organisation links differ from the signed payload"
    return None


async def _check_rows(
    conn: AsyncConnection,
    chain: ChainName,
    rows: Sequence[Row[Any]],
    public_key: Ed25519PublicKey,
    start: ChainHead | None,
    checked_before: int,
) -> VerifyResult:
    """Chain checks plus derived-column checks over consecutive rows; the earliest failure wins."""
    entries = [_entry(chain, row) for row in rows]
    result = verify_chain(entries, public_key, chain=chain.value, start=start)
    result = VerifyResult(
        result.ok, checked_before + result.checked, result.head, result.first_bad_seq, result.reason, result.detail
    )
    if not rows:
        return result
    links = await _org_links(conn, int(rows[0].seq) - 1, int(rows[-1].seq)) if chain is ChainName.AUDIT else {}
    for index, row in enumerate(rows):
        if result.first_bad_seq is not None and int(row.seq) >= result.first_bad_seq:
            break
        problem = _index_problem(chain, row, links)
        if problem is not None:
            last = entries[index - 1].head if index else (start or GENESIS)
            return failure(last, checked_before + index, int(row.seq), FailureReason.INDEX_MISMATCH, problem)
    return result


def _head_problem(recorded: ChainHead | None, last: ChainHead, checked: int) -> VerifyResult | None:
    if recorded is None:
        if last.seq == 0:
            return None
        return failure(last, checked, last.seq, FailureReason.HEAD_MISMATCH, "the chain's head record is missing")
    if recorded == last:
        return None
    if recorded.seq > last.seq:
        detail = f"head record says the chain ends at seq {recorded.seq}; entries after seq {last.seq} are missing"
        return failure(last, checked, last.seq + 1, FailureReason.HEAD_MISMATCH, detail)
    if recorded.seq < last.seq:
        detail = f"entries after seq {recorded.seq} are not in the head record"
        return failure(last, checked, recorded.seq + 1, FailureReason.HEAD_MISMATCH, detail)
    return failure(
        last, checked, last.seq, FailureReason.HEAD_MISMATCH, "head record's hash differs from the last entry"
    )


async def verify_tail(
    conn: AsyncConnection, chain: ChainName, head: ChainHead, public_key: Ed25519PublicKey, window: int = TAIL_WINDOW
) -> VerifyResult:
    """Verify the newest ``window`` entries as a segment and that they end at the recorded head."""
    table = TABLES[chain]
    newest = select(table.c.seq).order_by(table.c.seq.desc()).limit(window).subquery()
    lowest = (await conn.execute(select(newest.c.seq).order_by(newest.c.seq).limit(1))).scalar()
    if lowest is None:
        return _head_problem(head, GENESIS, 0) or VerifyResult(True, 0, GENESIS)
    rows = await _rows_after(conn, chain, int(lowest) - 1)
    start = GENESIS if int(lowest) == 1 else None
    result = await _check_rows(conn, chain, rows, public_key, start, 0)
    if not result.ok:
        return result
    return _head_problem(head, result.head, result.checked) or result


async def append_entry(
    conn: AsyncConnection,
    chain: ChainName,
    payload: Mapping[str, object],
    *,
    key: Ed25519PrivateKey,
    now: datetime | Callable[[], datetime],
    check: Check | None = None,
    tail_window: int = TAIL_WINDOW,
) -> ChainEntry:
    """Seal ``payload`` as the next entry of ``chain`` inside the caller's transaction.

    ``now`` may be a clock function; it is then read after the lock is taken, so that entries appended by
    processes queueing for the lock get times in chain order. ``check`` runs after the lock is taken and the
    tail verified, so a domain rule that depends on earlier entries (a withdrawal needs its consent) sees
    exactly the entries this one will follow. Any exception leaves nothing written once the caller's
    transaction rolls back.
    """
    if not conn.in_transaction():
        raise RuntimeError("append_entry must run inside a transaction (use engine.begin())")
    head = await lock_chain(conn, chain)
    tail = await verify_tail(conn, chain, head, key.public_key(), tail_window)
    if not tail.ok:
        raise ChainTampered(chain.value, tail.first_bad_seq, tail.reason.value if tail.reason else "unknown")
    if check is not None:
        await check(conn)
    created_at = now() if callable(now) else now
    entry = seal(head, chain=chain.value, payload=payload, created_at=created_at, key=key)
    columns, org_ids = derived_columns(chain, entry.payload())
    await conn.execute(
        insert(TABLES[chain]).values(
            seq=entry.seq,
            prev_hash=entry.prev_hash,
            entry_hash=entry.entry_hash,
            signature=entry.signature,
            created_at=entry.created_at,
            payload=entry.payload_json,
            **columns,
        )
    )
    if org_ids:
        await conn.execute(insert(audit_log_orgs), [{"seq": entry.seq, "org_id": org} for org in org_ids])
    await conn.execute(
        update(chain_heads)
        .where(chain_heads.c.chain == chain.value)
        .values(last_seq=entry.seq, last_hash=entry.entry_hash)
    )
    return entry


async def iter_entries(
    conn: AsyncConnection, chain: ChainName, *, after_seq: int = 0, batch: int = BATCH
) -> AsyncIterator[ChainEntry]:
    """All entries after ``after_seq`` in order, read in batches so a long chain is never held whole."""
    table = TABLES[chain]
    last = after_seq
    while True:
        query = select(table).where(table.c.seq > last).order_by(table.c.seq).limit(batch)
        rows = (await conn.execute(query)).all()
        for row in rows:
            yield _entry(chain, row)
        if len(rows) < batch:
            return
        last = int(rows[-1].seq)


async def verify_stored(
    conn: AsyncConnection, chain: ChainName, public_key: Ed25519PublicKey, *, batch: int = BATCH
) -> VerifyResult:
    """Verify a whole stored chain: every entry, every derived column, and the head record.

    Safe while the server appends: entries are verified up to the head read at the start, and entries past
    it must be covered by the head read at the end (an append writes its entry and the head in one commit,
    so a row no head covers was put there by hand).
    """
    table = TABLES[chain]
    recorded = await read_head(conn, chain)
    limit = recorded.seq if recorded is not None else 0
    head: ChainHead = GENESIS
    checked = 0
    while head.seq < limit:
        query = select(table).where(table.c.seq > head.seq, table.c.seq <= limit).order_by(table.c.seq).limit(batch)
        rows = (await conn.execute(query)).all()
        result = await _check_rows(conn, chain, rows, public_key, head, checked)
        if not result.ok:
            return result
        if not rows:
            break
        head, checked = result.head, result.checked
    if recorded is not None and (problem := _head_problem(recorded, head, checked)) is not None:
        return problem
    highest = (await conn.execute(select(func.max(table.c.seq)))).scalar()
    final = await read_head(conn, chain)
    if highest is not None and (final is None or int(highest) > final.seq):
        covered = final.seq if final is not None else 0
        detail = f"entries after seq {covered} are not in the head record"
        return failure(head, checked, covered + 1, FailureReason.HEAD_MISMATCH, detail)
    return VerifyResult(True, checked, head)
