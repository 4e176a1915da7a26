from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.audit_record import Actor, ActorKind, AuditAction, AuditRecord
from privacy.records.consent import ConsentForm, ConsentGiven, ConsentWithdrawn, Giver, Recorder, RecorderKind, Scope
from privacy.records.errors import (
    ChainTampered,
    ConsentNotFound,
    DuplicateConsent,
    InvalidAuditRecord,
    UnknownMeeting,
)
from privacy.records.ledger_store import ChainName, append_entry, read_head, verify_stored
from privacy.records.ledgers import PrivacyRecords
from privacy.records.signed_chain import ChainHead, FailureReason, seal
from privacy.records.tables import audit_log, audit_log_orgs, chain_heads, consent_ledger
from tests.privacy_records.fakes import FakeMeetings, FixedClock, TickingClock

STAFF = Recorder(RecorderKind.STAFF, "staff-17")
FORMIDLER = Actor(ActorKind.STAFF, "staff-17")
ORG_A, ORG_B = 11, 22


def given(clock: FixedClock, consent_id: str = "c1", meeting_id: str = "m1") -> ConsentGiven:
    return ConsentGiven(
        consent_id=consent_id,
        meeting_id=meeting_id,
        subject_ref="p-bruker",
        giver=Giver.USER,
        form=ConsentForm.ORAL,
        scopes=frozenset({Scope.VIDEO, Scope.AUDIO}),
        purpose="posisjonering",
        given_at=clock.now(),
        recorded_by=STAFF,
    )


def withdrawn(clock: FixedClock, consent_id: str = "c1") -> ConsentWithdrawn:
    return ConsentWithdrawn(consent_id, "m1", "p-bruker", clock.now(), STAFF)


def pause(org: int = ORG_A, meeting: str = "m1") -> AuditRecord:
    return AuditRecord(AuditAction.PAUSE, Actor(ActorKind.ROLE, "bruker"), (org,), meeting, {"by": "bruker"})


def records(engine: AsyncEngine, key: Ed25519PrivateKey, clock: FixedClock) -> PrivacyRecords:
    return PrivacyRecords(engine, key, clock, meeting_known=FakeMeetings("m1", "m2"))


async def count(engine: AsyncEngine, chain: ChainName) -> int:
    table = consent_ledger if chain is ChainName.CONSENT else audit_log
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def fill_audit(store: PrivacyRecords, clock: FixedClock, n: int) -> None:
    for _ in range(n):
        clock.advance(1)
        await store.audit.append(pause())


# --- appending and reading --------------------------------------------------------------------------------


async def test_consent_lifecycle_through_the_store(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    store = records(engine, key, clock)
    start = clock.now()
    entry = await store.consent.record(given(clock))
    assert entry.seq == 1
    assert await store.consent.active_scopes("m1", "p-bruker") == {Scope.VIDEO, Scope.AUDIO}
    clock.advance(600)
    await store.consent.record(withdrawn(clock))
    assert await store.consent.active_scopes("m1", "p-bruker") == frozenset()
    assert await store.consent.active_scopes("m1", "p-bruker", start + timedelta(minutes=5)) == {
        Scope.VIDEO,
        Scope.AUDIO,
    }
    assert [type(e).__name__ for e in await store.consent.events("m1")] == ["ConsentGiven", "ConsentWithdrawn"]
    assert (await store.verify())[ChainName.CONSENT].checked == 2


async def test_bad_consent_input_appends_nothing(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    store = records(engine, key, clock)
    await store.consent.record(given(clock))
    with pytest.raises(ConsentNotFound):
        await store.consent.record(withdrawn(clock, "never-given"))
    with pytest.raises(UnknownMeeting):
        await store.consent.record(given(clock, "c2", meeting_id="m-unknown"))
    with pytest.raises(DuplicateConsent):
        await store.consent.record(given(clock, "c1", meeting_id="m2"))
    assert await count(engine, ChainName.CONSENT) == 1
    async with engine.connect() as conn:
        head = await read_head(conn, ChainName.CONSENT)
    assert head is not None and head.seq == 1


async def test_consent_and_audit_commit_together(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    store = records(engine, key, clock)
    consent_entry, audit_entry = await store.record_consent(given(clock), org_ids=[ORG_A, ORG_B], actor=FORMIDLER)
    assert (consent_entry.seq, audit_entry.seq) == (1, 1)
    (view,) = await store.audit.entries(org_ids={ORG_B})
    assert view.record.action == "consent.given" and view.record.org_ids == (ORG_A, ORG_B)
    assert "purpose" not in view.record.details and "posisjonering" not in str(view.record.details)
    # A withdrawal that fails leaves both chains as they were.
    with pytest.raises(ConsentNotFound):
        await store.record_consent(withdrawn(clock, "nope"), org_ids=[ORG_A], actor=FORMIDLER)
    assert (await count(engine, ChainName.CONSENT), await count(engine, ChainName.AUDIT)) == (1, 1)


async def test_audit_entries_are_scoped_by_organisation(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    store = records(engine, key, clock)
    await store.audit.append(pause(ORG_A, "m1"))
    await store.audit.append(pause(ORG_B, "m2"))
    await store.audit.append(AuditRecord("lobby.admit", FORMIDLER, (ORG_A, ORG_B), "m2"))
    assert [v.seq for v in await store.audit.entries(org_ids={ORG_A})] == [1, 3]
    assert [v.seq for v in await store.audit.entries(org_ids={ORG_B})] == [2, 3]
    assert [v.seq for v in await store.audit.entries(org_ids={ORG_A}, meeting_id="m2")] == [3]
    assert await store.audit.entries(org_ids=set()) == []
    assert [v.seq for v in await store.audit.entries(org_ids=None, after_seq=1, limit=1)] == [2]


async def test_audit_refuses_personal_data_before_locking(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    with pytest.raises(InvalidAuditRecord):
        AuditRecord("pause", FORMIDLER, (ORG_A,), "m1", {"chat": "hei"})
    assert await count(engine, ChainName.AUDIT) == 0


async def test_concurrent_appends_are_serialised(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    store = records(engine, key, TickingClock())
    await asyncio.gather(*(store.audit.append(pause()) for _ in range(12)))
    async with engine.connect() as conn:
        result = await verify_stored(conn, ChainName.AUDIT, key.public_key())
        times = (await conn.execute(select(audit_log.c.created_at).order_by(audit_log.c.seq))).scalars().all()
    assert result.ok and result.checked == 12 and result.head.seq == 12
    assert times == sorted(times) and len(set(times)) == 12  # the clock is read under the lock


async def test_append_needs_a_transaction(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    async with engine.connect() as conn:
        with pytest.raises(RuntimeError, match="transaction"):
            await append_entry(conn, ChainName.AUDIT, pause().to_payload(), key=key, now=FixedClock().now())


async def test_verify_reads_in_batches(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    store = records(engine, key, clock)
    await fill_audit(store, clock, 7)
    async with engine.connect() as conn:
        result = await verify_stored(conn, ChainName.AUDIT, key.public_key(), batch=3)
    assert result.ok and result.checked == 7


# --- tampering --------------------------------------------------------------------------------------------


async def tamper(engine: AsyncEngine, seq: int, **values: object) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(**values))


async def expect_refusal(engine: AsyncEngine, key: Ed25519PrivateKey, seq: int, reason: FailureReason) -> None:
    clock = FixedClock(datetime(2026, 3, 3, 9, 0).astimezone())
    async with engine.connect() as conn:
        result = await verify_stored(conn, ChainName.AUDIT, key.public_key())
    assert (result.ok, result.first_bad_seq, result.reason) == (False, seq, reason), result.describe()
    before = await count(engine, ChainName.AUDIT)
    with pytest.raises(ChainTampered) as caught:
        await records(engine, key, clock).audit.append(pause())
    assert caught.value.seq == seq
    assert "ingenting ble lagret" in str(caught.value)
    assert await count(engine, ChainName.AUDIT) == before


async def test_edited_payload_is_named_and_blocks_appends(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    await fill_audit(records(engine, key, clock), clock, 5)
    async with engine.connect() as conn:
        row = (await conn.execute(select(audit_log.c.payload).where(audit_log.c.seq == 3))).scalar_one()
    await tamper(engine, 3, payload=row.replace('"pause"', '"resume"'))
    await expect_refusal(engine, key, 3, FailureReason.HASH_MISMATCH)


async def test_edited_hash_is_named(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    await fill_audit(records(engine, key, clock), clock, 5)
    await tamper(engine, 4, entry_hash="f" * 64)
    await expect_refusal(engine, key, 4, FailureReason.HASH_MISMATCH)


async def test_edited_signature_is_named(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    await fill_audit(records(engine, key, clock), clock, 5)
    await tamper(engine, 2, signature="00" * 64)
    await expect_refusal(engine, key, 2, FailureReason.BAD_SIGNATURE)


async def test_edited_query_column_is_named(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    await fill_audit(records(engine, key, clock), clock, 4)
    await tamper(engine, 2, meeting_id="m-other")
    await expect_refusal(engine, key, 2, FailureReason.INDEX_MISMATCH)


async def test_removed_org_link_is_named(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    await fill_audit(records(engine, key, clock), clock, 4)
    async with engine.begin() as conn:
        await conn.execute(delete(audit_log_orgs).where(audit_log_orgs.c.seq == 3))
    await expect_refusal(engine, key, 3, FailureReason.INDEX_MISMATCH)


async def test_removed_middle_entry_is_a_gap(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    await fill_audit(records(engine, key, clock), clock, 5)
    async with engine.begin() as conn:
        await conn.execute(delete(audit_log_orgs).where(audit_log_orgs.c.seq == 3))
        await conn.execute(delete(audit_log).where(audit_log.c.seq == 3))
    await expect_refusal(engine, key, 3, FailureReason.SEQUENCE_GAP)


async def test_entries_cut_off_the_end_are_noticed(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    await fill_audit(records(engine, key, clock), clock, 5)
    async with engine.begin() as conn:
        await conn.execute(delete(audit_log_orgs).where(audit_log_orgs.c.seq >= 4))
        await conn.execute(delete(audit_log).where(audit_log.c.seq >= 4))
    await expect_refusal(engine, key, 4, FailureReason.HEAD_MISMATCH)


async def test_entry_past_the_head_record_is_noticed(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    await fill_audit(records(engine, key, clock), clock, 3)
    async with engine.begin() as conn:
        last = (await conn.execute(select(audit_log).where(audit_log.c.seq == 3))).one()
        # Even a correctly signed entry is suspect when no append put it there (the head was not moved).
        extra = seal(
            ChainHead(3, last.entry_hash), chain="audit", payload=pause().to_payload(), created_at=clock.now(), key=key
        )
        await conn.execute(
            insert(audit_log).values(
                seq=4,
                prev_hash=extra.prev_hash,
                entry_hash=extra.entry_hash,
                signature=extra.signature,
                created_at=extra.created_at,
                payload=extra.payload_json,
                action="pause",
                meeting_id="m1",
            )
        )
        await conn.execute(insert(audit_log_orgs).values(seq=4, org_id=ORG_A))
    await expect_refusal(engine, key, 4, FailureReason.HEAD_MISMATCH)


async def test_forged_head_is_noticed(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    await fill_audit(records(engine, key, clock), clock, 3)
    async with engine.begin() as conn:
        await conn.execute(update(chain_heads).where(chain_heads.c.chain == "audit").values(last_hash="e" * 64))
    await expect_refusal(engine, key, 3, FailureReason.HEAD_MISMATCH)


async def test_tampered_consent_ledger_blocks_consent(engine: AsyncEngine, key: Ed25519PrivateKey) -> None:
    clock = FixedClock()
    store = records(engine, key, clock)
    await store.consent.record(given(clock))
    async with engine.begin() as conn:
        # Hide the consent from its meeting: a derived column no longer matches the signed payload.
        await conn.execute(update(consent_ledger).values(meeting_id="m2"))
    async with engine.connect() as conn:
        result = await verify_stored(conn, ChainName.CONSENT, key.public_key())
    assert (result.first_bad_seq, result.reason) == (1, FailureReason.INDEX_MISMATCH)
    clock.advance(5)
    with pytest.raises(ChainTampered):
        await store.record_consent(withdrawn(clock), org_ids=[ORG_A], actor=FORMIDLER)
    assert await count(engine, ChainName.AUDIT) == 0
