"""Roles and delegation: who may grant which right where, access requests, and revocation that ends sessions.

The municipality's access manager (tilgangsstyrer) grants and removes the formidler right within their own
municipality and its units, and answers the access requests formidlere send; a centre administrator appoints
access managers, compliance officers and the centre's own staff. Every change and every refusal is written to
the signed audit log; a refused change leaves the database as it was.

Removing a right bumps the person's session generation (existing staff cookies stop working on their next
request) and notifies the in-process ``RevocationBus`` so that live WebSockets end at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from privacy.records.audit_record import Actor, ActorKind, AuditRecord, DetailValue
from privacy.records.errors import InvalidInput
from privacy.records.ledgers import AuditLog, Clock
from privacy.records.validators import validate_free_text
from privacy.user_text import Text, said_by
from session.access.audited import Refusal, run_audited, staff_actor, with_parents
from session.access.errors import AccessRefused, InvalidRequest, NotFound
from session.access.organisations import can_create_meetings, get_organisation, org_path, staff_roles_of, subtree_ids
from session.access.revocation import Revocation, RevocationBus, bump_session_generation
from session.access.staff_roles import HELD_AT, OrgKind, StaffRole
from session.access.tables import access_requests
from session.errors import SessionError
from session.tables import staff, staff_roles

SUBJECT_MAX = 200
MAX_PENDING_PER_SUBJECT = 5

REFUSALS: dict[str, Text] = {
    "not_access_manager": Text("err.access.not_access_manager"),
    "outside_organisation": Text("err.access.outside_organisation"),
    "not_centre_admin": Text("err.access.not_centre_admin"),
    "wrong_kind": Text("err.access.wrong_kind"),
    "target_outside": Text("err.access.target_outside"),
}


@dataclass(frozen=True, slots=True)
class AccessRequest:
    id: int
    display_name: str
    staff_id: int | None
    organisation_id: int
    role: StaffRole
    status: str
    created_at: datetime
    answered_at: datetime | None
    answered_by: int | None


def _request(row: Row[Any]) -> AccessRequest:
    return AccessRequest(
        row.id,
        row.display_name,
        row.staff_id,
        row.organisation_id,
        StaffRole(row.role),
        row.status,
        row.created_at,
        row.answered_at,
        row.answered_by,
    )


def _record(action: str, actor: Actor, orgs: tuple[int, ...], **details: DetailValue) -> AuditRecord:
    return AuditRecord(action, actor, orgs, None, details)


# --- the service ---------------------------------------------------------------------------------------------


class Access:
    """Grants, removals and access requests, audited; removals end sessions through ``bus``."""

    def __init__(self, engine: AsyncEngine, audit: AuditLog, clock: Clock, bus: RevocationBus) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock
        self.bus = bus

    # -- who may manage which role where -----------------------------------------------------------------------

    async def _authority(self, conn: AsyncConnection, actor_id: int, role: StaffRole, org_id: int) -> str | None:
        """None when ``actor_id`` may grant/remove ``role`` at ``org_id``, else the refusal reason."""
        path = await org_path(conn, org_id)
        if not path:
            return "not_found"
        org, root = path[0], path[-1]
        if org.kind not in HELD_AT[role]:
            return "wrong_kind"
        held = await staff_roles_of(conn, actor_id)
        if role is StaffRole.FORMIDLER:
            managed = {o for r, o in held if r is StaffRole.ACCESS_MANAGER}
            if not managed:
                return "not_access_manager"
            return None if root.id in managed else "outside_organisation"
        admin_of = {o for r, o in held if r is StaffRole.CENTRE_ADMIN}
        if not admin_of:
            return "not_centre_admin"
        if root.kind is OrgKind.CENTRE and root.id not in admin_of:
            return "not_centre_admin"  # another centre's staff are that centre's business
        return None

    async def _target_belongs(self, conn: AsyncConnection, staff_id: int, role: StaffRole, org_id: int) -> bool:
        """The person works in the organisation's tree, or has asked for this right here."""
        row = (
            await conn.execute(select(staff.c.organisation_id, staff.c.active).where(staff.c.id == staff_id))
        ).first()
        if row is None or not row.active:
            return False
        path = await org_path(conn, org_id)
        if row.organisation_id in await subtree_ids(conn, path[-1].id):
            return True
        asked = select(access_requests.c.id).where(
            access_requests.c.staff_id == staff_id,
            access_requests.c.organisation_id == org_id,
            access_requests.c.role == role.value,
            access_requests.c.status == "pending",
        )
        return (await conn.execute(asked)).first() is not None

    def _refusal(
        self, actor: Actor, orgs: tuple[int, ...], operation: str, reason: str, **details: DetailValue
    ) -> Refusal:
        error: SessionError
        if reason == "not_found":
            error = NotFound()
        elif reason in REFUSALS:
            error = AccessRefused(REFUSALS[reason], reason=reason)
        else:
            error = InvalidRequest(Text("err.access.not_possible"))
        record = _record("access.refused", actor, orgs, operation=operation, reason=reason, **details)
        return Refusal(error, record)

    # -- grant and remove ----------------------------------------------------------------------------------------

    async def grant(self, *, actor_staff_id: int, staff_id: int, role: StaffRole, organisation_id: int) -> bool:
        """Give ``role`` at ``organisation_id`` to ``staff_id``; False when they already had it (nothing to audit)."""
        actor = staff_actor(actor_staff_id)

        async def work(conn: AsyncConnection) -> bool:
            orgs = await with_parents(conn, [organisation_id]) if await get_organisation(conn, organisation_id) else ()
            details: dict[str, DetailValue] = {"role": role.value, "org_id": organisation_id, "target_staff": staff_id}
            reason = await self._authority(conn, actor_staff_id, role, organisation_id)
            if reason is None and not await self._target_belongs(conn, staff_id, role, organisation_id):
                reason = "target_outside"
            if reason is not None:
                raise self._refusal(actor, orgs, "access.grant", reason, **details)
            if await _has_role(conn, staff_id, role, organisation_id):
                return False
            await conn.execute(
                insert(staff_roles).values(staff_id=staff_id, role=role.value, organisation_id=organisation_id)
            )
            await self._audit.append(_record("access.grant", actor, orgs, **details), conn=conn)
            return True

        return await run_audited(self._engine, self._audit, work)

    async def revoke(self, *, actor_staff_id: int, staff_id: int, role: StaffRole, organisation_id: int) -> Revocation:
        """Remove ``role`` at ``organisation_id`` from ``staff_id``; the returned staff must lose their sessions.

        An empty Revocation means the person did not hold the role (nothing changed, nothing audited).
        """
        actor = staff_actor(actor_staff_id)

        async def work(conn: AsyncConnection) -> Revocation:
            orgs = await with_parents(conn, [organisation_id]) if await get_organisation(conn, organisation_id) else ()
            details: dict[str, DetailValue] = {"role": role.value, "org_id": organisation_id, "target_staff": staff_id}
            reason = await self._authority(conn, actor_staff_id, role, organisation_id)
            if reason is not None:
                raise self._refusal(actor, orgs, "access.revoke", reason, **details)
            if not await _has_role(conn, staff_id, role, organisation_id):
                return Revocation()
            await conn.execute(
                delete(staff_roles).where(
                    staff_roles.c.staff_id == staff_id,
                    staff_roles.c.role == role.value,
                    staff_roles.c.organisation_id == organisation_id,
                )
            )
            generation = await bump_session_generation(conn, staff_id, self._clock.now())
            await self._audit.append(_record("access.revoke", actor, orgs, **details), conn=conn)
            return Revocation(frozenset({staff_id}), {staff_id: generation}, ((role, organisation_id),))

        revocation = await run_audited(self._engine, self._audit, work)
        for revoked in revocation.staff_ids:  # only after the commit: a rolled-back removal ends nothing
            self.bus.revoke(revoked)
        return revocation

    async def grant_formidler(self, *, actor_staff_id: int, staff_id: int, organisation_id: int) -> bool:
        return await self.grant(
            actor_staff_id=actor_staff_id, staff_id=staff_id, role=StaffRole.FORMIDLER, organisation_id=organisation_id
        )

    async def revoke_formidler(self, *, actor_staff_id: int, staff_id: int, organisation_id: int) -> Revocation:
        return await self.revoke(
            actor_staff_id=actor_staff_id, staff_id=staff_id, role=StaffRole.FORMIDLER, organisation_id=organisation_id
        )

    async def revoke_all(self, *, actor_staff_id: int, staff_id: int) -> Revocation:
        """When someone leaves: remove every right of theirs that the actor may remove, in one transaction.

        Refused (and audited) when the actor may remove none of them, so that a probe outside one's own
        organisation learns nothing and changes nothing.
        """
        actor = staff_actor(actor_staff_id)

        async def work(conn: AsyncConnection) -> Revocation:
            held = await staff_roles_of(conn, staff_id)
            mine = [(r, o) for r, o in held if await self._authority(conn, actor_staff_id, r, o) is None]
            if not mine:
                raise self._refusal(actor, (), "access.revoke_all", "target_outside", target_staff=staff_id)
            for role, org_id in mine:
                await conn.execute(
                    delete(staff_roles).where(
                        staff_roles.c.staff_id == staff_id,
                        staff_roles.c.role == role.value,
                        staff_roles.c.organisation_id == org_id,
                    )
                )
                orgs = await with_parents(conn, [org_id])
                details: dict[str, DetailValue] = {"role": role.value, "org_id": org_id, "target_staff": staff_id}
                await self._audit.append(_record("access.revoke", actor, orgs, **details), conn=conn)
            generation = await bump_session_generation(conn, staff_id, self._clock.now())
            return Revocation(frozenset({staff_id}), {staff_id: generation}, tuple(mine))

        revocation = await run_audited(self._engine, self._audit, work)
        for revoked in revocation.staff_ids:
            self.bus.revoke(revoked)
        return revocation

    async def end_sessions(self, *, staff_id: int) -> Revocation:
        """Log out everywhere, for oneself: no right changes, every session (and live call) of theirs ends."""
        async with self._engine.begin() as conn:
            generation = await bump_session_generation(conn, staff_id, self._clock.now())
            await self._audit.append(_record("session.end_all", staff_actor(staff_id), ()), conn=conn)
        self.bus.revoke(staff_id)
        return Revocation(frozenset({staff_id}), {staff_id: generation})

    async def managed_formidlere(self, *, actor_staff_id: int) -> list[tuple[int, str, int]]:
        """(staff id, display name, organisation) of every formidler right the actor manages, for their page."""
        async with self._engine.connect() as conn:
            scope = await _managed_scope(conn, actor_staff_id)
            query = (
                select(staff.c.id, staff.c.display_name, staff_roles.c.organisation_id)
                .join(staff_roles, staff_roles.c.staff_id == staff.c.id)
                .where(
                    staff_roles.c.role == StaffRole.FORMIDLER.value, staff_roles.c.organisation_id.in_(sorted(scope))
                )
                .order_by(staff.c.display_name, staff.c.id)
            )
            return [(r.id, r.display_name, r.organisation_id) for r in (await conn.execute(query)).all()]

    # -- access requests -----------------------------------------------------------------------------------------

    async def request_access(
        self, *, subject: str, display_name: str, organisation_id: int, role: StaffRole = StaffRole.FORMIDLER
    ) -> AccessRequest:
        """A logged-in person asks for a right at an organisation (default: formidler at their unit).

        ``subject`` is the login subject; ``display_name`` is what they typed (checked like any free text).
        Asking again while a request is pending returns that request.
        """
        if not subject or len(subject) > SUBJECT_MAX or not subject.isprintable():
            raise InvalidRequest(Text("err.access.no_identity"))
        try:
            name = validate_free_text(Text("field.name"), display_name, max_length=200)
        except InvalidInput as exc:
            raise InvalidRequest(said_by(exc)) from None
        if "\n" in name or "\t" in name:
            raise InvalidRequest(Text("err.input.one_line", field=Text("field.name")))

        async def work(conn: AsyncConnection) -> AccessRequest:
            staff_row = (await conn.execute(select(staff.c.id).where(staff.c.subject == subject))).first()
            staff_id = None if staff_row is None else int(staff_row.id)
            actor = staff_actor(staff_id) if staff_id is not None else Actor(ActorKind.ROLE, role.value)
            org = await get_organisation(conn, organisation_id)
            if org is None:
                raise self._refusal(actor, (), "access.request", "not_found")
            orgs = await with_parents(conn, [org.id])

            def refuse(message: Text, reason: str) -> Refusal:
                record = _record(
                    "access.refused", actor, orgs, operation="access.request", reason=reason, org_id=org.id
                )
                return Refusal(InvalidRequest(message), record)

            if role is not StaffRole.FORMIDLER or org.kind not in HELD_AT[role]:
                raise refuse(Text("err.access.request_wrong_kind"), "wrong_kind")
            if not await can_create_meetings(conn, org.id):
                raise refuse(Text("err.access.not_enabled"), "not_enabled")
            if staff_id is not None and await _has_role(conn, staff_id, role, org.id):
                raise refuse(Text("err.access.already_granted"), "already_granted")
            pending = (
                await conn.execute(
                    select(access_requests).where(
                        access_requests.c.subject == subject, access_requests.c.status == "pending"
                    )
                )
            ).all()
            for row in pending:
                if row.organisation_id == org.id and row.role == role.value:
                    return _request(row)
            if len(pending) >= MAX_PENDING_PER_SUBJECT:
                raise refuse(Text("err.access.too_many"), "too_many")
            now = self._clock.now()
            result = await conn.execute(
                insert(access_requests).values(
                    subject=subject,
                    display_name=name,
                    staff_id=staff_id,
                    organisation_id=org.id,
                    role=role.value,
                    status="pending",
                    created_at=now,
                )
            )
            request_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
            details: dict[str, DetailValue] = {"request_id": request_id, "role": role.value, "org_id": org.id}
            await self._audit.append(_record("access.request", actor, orgs, **details), conn=conn)
            return AccessRequest(request_id, name, staff_id, org.id, role, "pending", now, None, None)

        return await run_audited(self._engine, self._audit, work)

    async def requests_for_subject(self, subject: str) -> list[AccessRequest]:
        """The requester's own requests, newest first (their "my requests" page)."""
        async with self._engine.connect() as conn:
            query = select(access_requests).where(access_requests.c.subject == subject)
            rows = (await conn.execute(query.order_by(access_requests.c.id.desc()).limit(20))).all()
        return [_request(r) for r in rows]

    async def pending_requests(self, *, actor_staff_id: int) -> list[AccessRequest]:
        """Pending requests the actor (an access manager) may answer: their municipality and its units."""
        async with self._engine.connect() as conn:
            scope = await _managed_scope(conn, actor_staff_id)
            query = select(access_requests).where(
                access_requests.c.status == "pending", access_requests.c.organisation_id.in_(sorted(scope))
            )
            rows = (await conn.execute(query.order_by(access_requests.c.id))).all()
        return [_request(r) for r in rows]

    async def answer_request(self, *, actor_staff_id: int, request_id: int, approve: bool) -> AccessRequest:
        """Approve (creating the staff member if new, and granting the right) or deny a pending request.

        A request outside the actor's municipality is answered as not found (404) and the attempt audited.
        """
        actor = staff_actor(actor_staff_id)

        async def work(conn: AsyncConnection) -> AccessRequest:
            row = (await conn.execute(select(access_requests).where(access_requests.c.id == request_id))).first()
            scope = await _managed_scope(conn, actor_staff_id)
            if row is None or row.organisation_id not in scope:
                reason = "not_access_manager" if not scope else "outside_organisation"
                raise Refusal(
                    NotFound(Text("err.access.request_not_found")),
                    _record(
                        "access.refused", actor, (), operation="access.answer", reason=reason, request_id=request_id
                    ),
                )
            request = _request(row)
            orgs = await with_parents(conn, [request.organisation_id])
            if request.status != "pending":
                raise Refusal(
                    InvalidRequest(Text("err.access.request_answered")),
                    _record(
                        "access.refused",
                        actor,
                        orgs,
                        operation="access.answer",
                        reason="answered",
                        request_id=request_id,
                    ),
                )
            now = self._clock.now()
            staff_id = request.staff_id
            if approve:
                staff_id = await _ensure_staff(conn, row.subject, request.display_name, request.organisation_id)
                if not await _has_role(conn, staff_id, request.role, request.organisation_id):
                    await conn.execute(
                        insert(staff_roles).values(
                            staff_id=staff_id, role=request.role.value, organisation_id=request.organisation_id
                        )
                    )
                    grant: dict[str, DetailValue] = {
                        "role": request.role.value,
                        "org_id": request.organisation_id,
                        "target_staff": staff_id,
                        "request_id": request_id,
                    }
                    await self._audit.append(_record("access.grant", actor, orgs, **grant), conn=conn)
            status = "approved" if approve else "denied"
            await conn.execute(
                update(access_requests)
                .where(access_requests.c.id == request_id)
                .values(status=status, answered_at=now, answered_by=actor_staff_id, staff_id=staff_id)
            )
            answered: dict[str, DetailValue] = {
                "request_id": request_id,
                "approved": approve,
                "org_id": request.organisation_id,
            }
            await self._audit.append(_record("access.request_answered", actor, orgs, **answered), conn=conn)
            return AccessRequest(
                request.id,
                request.display_name,
                staff_id,
                request.organisation_id,
                request.role,
                status,
                request.created_at,
                now,
                actor_staff_id,
            )

        return await run_audited(self._engine, self._audit, work)


async def _has_role(conn: AsyncConnection, staff_id: int, role: StaffRole, org_id: int) -> bool:
    query = select(func.count()).where(
        staff_roles.c.staff_id == staff_id, staff_roles.c.role == role.value, staff_roles.c.organisation_id == org_id
    )
    return bool((await conn.execute(query)).scalar_one())


async def _managed_scope(conn: AsyncConnection, actor_staff_id: int) -> frozenset[int]:
    """The organisations where the actor manages the formidler right (their municipalities and units)."""
    scope: set[int] = set()
    for role, org_id in await staff_roles_of(conn, actor_staff_id):
        if role is StaffRole.ACCESS_MANAGER:
            scope |= await subtree_ids(conn, org_id)
    return frozenset(scope)


async def _ensure_staff(conn: AsyncConnection, subject: str, display_name: str, org_id: int) -> int:
    """The staff id for ``subject``, creating the person (active, at ``org_id``) on first approval."""
    row = (await conn.execute(select(staff.c.id, staff.c.active).where(staff.c.subject == subject))).first()
    if row is not None:
        if not row.active:
            await conn.execute(update(staff).where(staff.c.id == row.id).values(active=True))
        return int(row.id)
    result = await conn.execute(
        insert(staff).values(subject=subject, display_name=display_name, organisation_id=org_id, active=True)
    )
    return int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
