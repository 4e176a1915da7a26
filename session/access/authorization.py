"""Who may act as formidler for a municipal unit: an ``AuthorizationProvider`` asked per person, unit and resource.

In production the answer comes from Altinn (the right «Hjelpemiddelformidling mellom kommuner og Nav –
behovsmelding» delegated on the unit's organisation number, see ``session.access.altinn_pdp``); in the embedded mode it
comes from this service's own grants (``DatabaseAuthorization``). Around either sit a short cache
(``CachedAuthorization``: the PDP is not asked on every page) and the audit (``AuditedAuthorization``: every
decision is written to the audit log with ids only — never the person's identity number).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.audit_record import AuditRecord, DetailValue
from privacy.records.ledgers import AuditLog
from session.access.audited import system_actor, with_parents
from session.access.staff_roles import StaffRole
from session.tables import staff_roles

FORMIDLING_RESOURCE = "nav_hjelpemidler_formidling-behovsmelding"
"""The Altinn resource id the right is delegated on (configurable; this is the default name)."""


class Outcome(StrEnum):
    PERMIT = "permit"
    DENY = "deny"
    ERROR = "error"
    """The provider could not answer; treated as a deny (fail closed)."""


@dataclass(frozen=True, slots=True)
class RightQuery:
    """One question: may this person act for this unit on this resource?"""

    staff_id: int
    person_id: str = field(repr=False)
    """The person's national identity number from ID-porten's ``pid``; sent to the PDP, never stored or logged."""
    org_id: int
    org_number: str
    resource: str = FORMIDLING_RESOURCE
    action: str = "access"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    source: str
    """``altinn``, ``database`` … and ``cache`` when a recent answer was reused."""

    @property
    def permitted(self) -> bool:
        return self.outcome is Outcome.PERMIT


class AuthorizationProvider(Protocol):
    """Answers a ``RightQuery``. Implementations never raise for a provider failure: they return ERROR."""

    async def decide(self, query: RightQuery) -> Decision: ...


class DatabaseAuthorization:
    """The embedded default: the person holds the formidler role at the unit in this service's own grants."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def decide(self, query: RightQuery) -> Decision:
        held = select(staff_roles.c.id).where(
            staff_roles.c.staff_id == query.staff_id,
            staff_roles.c.role == StaffRole.FORMIDLER.value,
            staff_roles.c.organisation_id == query.org_id,
        )
        async with self._engine.connect() as conn:
            found = (await conn.execute(held)).first() is not None
        return Decision(Outcome.PERMIT if found else Outcome.DENY, "database")


class CachedAuthorization:
    """Reuses a decision for ``ttl_s`` seconds (permits and denies alike; errors are never cached)."""

    def __init__(self, inner: AuthorizationProvider, *, ttl_s: float, clock: Callable[[], float]) -> None:
        self._inner = inner
        self._ttl = ttl_s
        self._clock = clock
        self._cache: dict[tuple[int, str, str, str, str], tuple[float, Outcome]] = {}

    async def decide(self, query: RightQuery) -> Decision:
        key = (query.staff_id, query.person_id, query.org_number, query.resource, query.action)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return Decision(cached[1], "cache")
        decision = await self._inner.decide(query)
        if decision.outcome is Outcome.ERROR:
            self._cache.pop(key, None)
        else:
            self._cache[key] = (now, decision.outcome)
        if len(self._cache) > 10_000:  # old entries go first
            for stale in [k for k, (at, _) in self._cache.items() if now - at >= self._ttl]:
                del self._cache[stale]
        return decision


class AuditedAuthorization:
    """Writes every decision to the audit log: staff id, unit, resource, outcome and where it came from."""

    def __init__(self, inner: AuthorizationProvider, audit: AuditLog, engine: AsyncEngine) -> None:
        self._inner = inner
        self._audit = audit
        self._engine = engine

    async def decide(self, query: RightQuery) -> Decision:
        decision = await self._inner.decide(query)
        async with self._engine.begin() as conn:
            orgs = await with_parents(conn, [query.org_id])
            details: dict[str, DetailValue] = {
                "target_staff": query.staff_id,
                "org_id": query.org_id,
                "resource": query.resource,
                "outcome": decision.outcome.value,
                "source": decision.source,
            }
            record = AuditRecord("authorization.decision", system_actor("authorization"), orgs, None, details)
            await self._audit.append(record, conn=conn)
        return decision
