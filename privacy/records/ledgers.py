"""The consent ledger and the audit log as the rest of the server uses them.

Each method takes either nothing (it opens its own transaction on the engine) or the caller's ``conn`` so that
a consent, its audit entry and the caller's own changes commit or roll back together. Time comes from an
injected clock. Reads for decisions (which scopes are active) use the stored rows without re-verifying
signatures on every read: the tail is verified on every append and the whole chain at start-up and by
``samhandling audit verify``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from privacy.records import consent
from privacy.records.audit_record import Actor, AuditRecord, audit_for_consent
from privacy.records.consent import ConsentEvent, ConsentGiven, ConsentState, Scope
from privacy.records.errors import DuplicateConsent, UnknownMeeting
from privacy.records.ledger_store import ChainName, append_entry, verify_stored
from privacy.records.signed_chain import ChainEntry, VerifyResult, parse_payload
from privacy.records.tables import audit_log, audit_log_orgs, consent_ledger

MeetingKnown = Callable[[AsyncConnection, str], Awaitable[bool]]
"""Does this meeting exist (for the caller's organisations)? Supplied by the session layer."""


class Clock(Protocol):
    def now(self) -> datetime: ...


@asynccontextmanager
async def transaction(engine: AsyncEngine, conn: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
    """The caller's connection as it is, or a new transaction on ``engine`` committed on success."""
    if conn is not None:
        yield conn
        return
    async with engine.begin() as own:
        yield own


class ConsentLedger:
    """Consents and withdrawals, validated against the ledger as it stands under the chain's lock."""

    def __init__(
        self,
        engine: AsyncEngine,
        key: Ed25519PrivateKey,
        clock: Clock,
        *,
        meeting_known: MeetingKnown | None = None,
    ) -> None:
        self._engine = engine
        self._key = key
        self._clock = clock
        self._meeting_known = meeting_known

    async def record(self, event: ConsentEvent, *, conn: AsyncConnection | None = None) -> ChainEntry:
        """Append a consent or withdrawal; ConsentError (nothing appended) when it does not fit the ledger."""

        async def check(locked: AsyncConnection) -> None:
            if isinstance(event, ConsentGiven):
                if self._meeting_known is not None and not await self._meeting_known(locked, event.meeting_id):
                    raise UnknownMeeting()
                taken = select(exists().where(consent_ledger.c.consent_id == event.consent_id))
                if (await locked.execute(taken)).scalar():
                    raise DuplicateConsent()
            state = await self.state(event.meeting_id, conn=locked)
            state.apply(event)

        async with transaction(self._engine, conn) as tx:
            return await append_entry(
                tx, ChainName.CONSENT, consent.to_payload(event), key=self._key, now=self._clock.now, check=check
            )

    async def events(
        self, meeting_id: str, subject_ref: str | None = None, *, conn: AsyncConnection | None = None
    ) -> list[ConsentEvent]:
        """The meeting's consent events (optionally one participant's) in ledger order."""
        query = select(consent_ledger.c.payload).where(consent_ledger.c.meeting_id == meeting_id)
        if subject_ref is not None:
            query = query.where(consent_ledger.c.subject_ref == subject_ref)
        async with transaction(self._engine, conn) as tx:
            rows = (await tx.execute(query.order_by(consent_ledger.c.seq))).scalars().all()
        return [consent.from_payload(parse_payload(text)) for text in rows]

    async def state(self, meeting_id: str, *, conn: AsyncConnection | None = None) -> ConsentState:
        return consent.fold(await self.events(meeting_id, conn=conn))

    async def active_scopes(
        self, meeting_id: str, subject_ref: str, at: datetime | None = None, *, conn: AsyncConnection | None = None
    ) -> frozenset[Scope]:
        """Which scopes this participant has consented to at ``at`` (default: now)."""
        state = consent.fold(await self.events(meeting_id, subject_ref, conn=conn))
        return state.active_scopes(meeting_id, subject_ref, at or self._clock.now())


@dataclass(frozen=True, slots=True)
class AuditView:
    """One audit entry as a compliance officer sees it."""

    seq: int
    created_at: str
    entry_hash: str
    record: AuditRecord


class AuditLog:
    """Signed, chained audit entries, readable per organisation."""

    def __init__(self, engine: AsyncEngine, key: Ed25519PrivateKey, clock: Clock) -> None:
        self._engine = engine
        self._key = key
        self._clock = clock

    async def append(self, record: AuditRecord, *, conn: AsyncConnection | None = None) -> ChainEntry:
        async with transaction(self._engine, conn) as tx:
            return await append_entry(tx, ChainName.AUDIT, record.to_payload(), key=self._key, now=self._clock.now)

    async def entries(
        self,
        *,
        org_ids: Collection[int] | None,
        meeting_id: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
        conn: AsyncConnection | None = None,
    ) -> list[AuditView]:
        """Entries in seq order. ``org_ids=None`` means every organisation (centre-wide roles only); otherwise
        only entries that belong to at least one of ``org_ids`` are returned, and an empty set returns none."""
        query = select(audit_log).where(audit_log.c.seq > after_seq)
        if org_ids is not None:
            mine = select(audit_log_orgs.c.seq).where(audit_log_orgs.c.org_id.in_(sorted(org_ids)))
            query = query.where(audit_log.c.seq.in_(mine))
        if meeting_id is not None:
            query = query.where(audit_log.c.meeting_id == meeting_id)
        query = query.order_by(audit_log.c.seq).limit(max(1, min(limit, 1000)))
        async with transaction(self._engine, conn) as tx:
            rows = (await tx.execute(query)).all()
        views: list[AuditView] = []
        for row in rows:
            record = AuditRecord.from_payload(parse_payload(row.payload))
            views.append(AuditView(int(row.seq), row.created_at, row.entry_hash, record))
        return views


class PrivacyRecords:
    """Both chains over one engine and key, for the composition root to create once and hand out."""

    def __init__(
        self,
        engine: AsyncEngine,
        key: Ed25519PrivateKey,
        clock: Clock,
        *,
        meeting_known: MeetingKnown | None = None,
    ) -> None:
        self._engine = engine
        self._key = key
        self.consent = ConsentLedger(engine, key, clock, meeting_known=meeting_known)
        self.audit = AuditLog(engine, key, clock)

    async def record_consent(
        self,
        event: ConsentEvent,
        *,
        org_ids: Sequence[int],
        actor: Actor,
        conn: AsyncConnection | None = None,
    ) -> tuple[ChainEntry, ChainEntry]:
        """The consent event and its audit entry in one transaction (consent chain locked first)."""
        record = audit_for_consent(event, org_ids=org_ids, actor=actor)  # validate before taking any lock
        async with transaction(self._engine, conn) as tx:
            consent_entry = await self.consent.record(event, conn=tx)
            audit_entry = await self.audit.append(record, conn=tx)
        return consent_entry, audit_entry

    async def verify(self) -> dict[ChainName, VerifyResult]:
        """Verify both whole chains (for start-up; a failure should stop the server from serving)."""
        public = self._key.public_key()
        async with self._engine.connect() as conn:
            return {chain: await verify_stored(conn, chain, public) for chain in ChainName}
