"""Join links for citizens and relatives: signed, expiring, bound to one meeting and role, one device at a time.

A link is opened in two steps. ``check`` (the join page, a plain GET) refuses a bad, expired, revoked link or
one bound to another device, but binds nothing: link scanners in mail and SMS apps fetch links too, and must not
take the link away from its owner. ``claim`` (when the person actually joins, i.e. the call WebSocket) binds
the link to the browser's device-id cookie on first use; another device is refused with a clear message until
the host resets the link. A twelve-digit code may stand in for the link (read aloud or sent by SMS); it is
single-use, short-lived, hashed under a server key and rate limited. Every refusal is audited.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from privacy.records.audit_record import Actor, ActorKind, AuditRecord, DetailValue
from privacy.records.ledgers import AuditLog, Clock
from privacy.user_text import Text
from session.access.attempt_limits import AttemptLimiter, MemoryAttemptLimiter
from session.access.audited import Refusal, run_audited, staff_actor, system_actor
from session.access.errors import CodeInvalid, LinkInUseElsewhere, NotFound
from session.access.isolation import get_invitation_for, get_meeting_for
from session.access.link_tokens import BadLink, LinkClaims, LinkKeys, parse_link, sign_link, token_hash, valid_device_id
from session.access.tables import invitation_codes, invitation_devices
from session.errors import LinkExpired, LinkInvalid, LinkRevoked, SessionError
from session.meetings import Invitation, meeting_exists, meeting_org_ids
from session.planning.invitation_sms import SmsSender, normalise_mobile_number
from session.roles import Role
from session.stored_time import stored_utc
from session.tables import invitations

DEVICE_COOKIE = "samhandling_device"
"""Holds the browser's device id: HttpOnly, Secure, SameSite=Lax (links arrive from other sites), path "/"."""
CODE_TTL = timedelta(hours=24)
CODE_DIGITS = 12
"""Long enough that guessing at the back-off's rate is negligible (THREAT_MODEL.md has the arithmetic); read
aloud and typed in three groups of four, like the room code and its PIN."""
_CODE = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A new link, shown once: ``token`` goes into ``/j/<token>``; ``code`` is set when one was asked for."""

    invitation_id: int
    token: str
    expires_at: datetime
    code: str | None = None
    code_expires_at: datetime | None = None


def _record(
    action: str, actor: Actor, orgs: tuple[int, ...], meeting_id: str | None, **details: DetailValue
) -> AuditRecord:
    return AuditRecord(action, actor, orgs, meeting_id, details)


class InvitationLinks:
    """Issuing, opening, resetting and revoking join links; every refusal is audited."""

    def __init__(
        self,
        engine: AsyncEngine,
        audit: AuditLog,
        clock: Clock,
        keys: LinkKeys,
        *,
        limiter: AttemptLimiter | None = None,
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock
        self._keys = keys
        self._limiter: AttemptLimiter = limiter if limiter is not None else MemoryAttemptLimiter()
        self._aead = AESGCM(keys.seal)

    # -- issuing ----------------------------------------------------------------------------------------------

    async def issue(
        self,
        *,
        actor_staff_id: int,
        meeting_id: str,
        role: Role,
        ttl: timedelta,
        host: bool = False,
        with_code: bool = False,
        code_ttl: timedelta = CODE_TTL,
    ) -> IssuedLink:
        """A link for ``role`` in a meeting the actor may see (NotFound otherwise). A host link names the actor."""
        now = self._clock.now()
        expires_at = now + ttl
        token, _claims = sign_link(self._keys, meeting_id, role, int(expires_at.timestamp()))
        actor = staff_actor(actor_staff_id)

        async def work(conn: AsyncConnection) -> IssuedLink:
            if await get_meeting_for(conn, actor_staff_id, meeting_id) is None:
                raise Refusal(
                    NotFound(Text("err.link.meeting_not_found")),
                    _record("access.refused", actor, (), None, operation="invitation.issue", reason="not_found"),
                )
            result = await conn.execute(
                insert(invitations).values(
                    meeting_id=meeting_id,
                    role=role.value,
                    token_hash=token_hash(token),
                    host=host,
                    staff_id=actor_staff_id if host else None,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            invitation_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
            code: str | None = None
            code_expires: datetime | None = None
            if with_code:
                code_expires = min(now + code_ttl, expires_at)
                code = await self._new_code(conn, invitation_id, token, now, code_expires)
            orgs = await meeting_org_ids(conn, meeting_id)
            details: dict[str, DetailValue] = {"invitation_id": invitation_id, "role": role.value, "code": with_code}
            await self._audit.append(_record("invitation.issue", actor, orgs, meeting_id, **details), conn=conn)
            return IssuedLink(invitation_id, token, expires_at, code, code_expires)

        return await run_audited(self._engine, self._audit, work)

    async def _new_code(
        self, conn: AsyncConnection, invitation_id: int, token: str, now: datetime, expires_at: datetime
    ) -> str:
        await conn.execute(
            delete(invitation_codes).where(
                (invitation_codes.c.expires_at <= now) | invitation_codes.c.used_at.is_not(None)
            )
        )
        for _ in range(20):
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            code_hash = self._keys.keyed_hash(self._keys.code, code)
            taken = select(invitation_codes.c.id).where(invitation_codes.c.code_hash == code_hash)
            if (await conn.execute(taken)).first() is None:
                break
        else:  # pragma: no cover - would need ~a million live codes
            raise SessionError(Text("err.link.no_free_code"))
        nonce = secrets.token_bytes(12)
        sealed = nonce + self._aead.encrypt(nonce, token.encode(), f"code:{invitation_id}".encode())
        await conn.execute(
            insert(invitation_codes).values(
                invitation_id=invitation_id,
                code_hash=code_hash,
                sealed_link=base64.urlsafe_b64encode(sealed).decode(),
                created_at=now,
                expires_at=expires_at,
            )
        )
        return code

    # -- opening ----------------------------------------------------------------------------------------------

    async def check(self, token: str, device_id: str | None) -> Invitation:
        """The invitation behind ``token`` for this device, without binding it (the join page)."""
        return await run_audited(self._engine, self._audit, lambda conn: self._open(conn, token, device_id, bind=False))

    async def claim(self, token: str, device_id: str | None) -> Invitation:
        """As ``check``, and bind the link to ``device_id`` when it is not bound yet (joining the call)."""
        try:
            return await run_audited(
                self._engine, self._audit, lambda conn: self._open(conn, token, device_id, bind=True)
            )
        except IntegrityError:
            # Two devices opened a fresh link at the same moment and the other one won the binding: decide
            # again, now against that binding (the same device joins, another gets «in use elsewhere»).
            return await run_audited(
                self._engine, self._audit, lambda conn: self._open(conn, token, device_id, bind=True)
            )

    async def _open(self, conn: AsyncConnection, token: str, device_id: str | None, *, bind: bool) -> Invitation:
        now = self._clock.now()
        try:
            claims = parse_link(self._keys, token)
        except BadLink as bad:
            raise Refusal(LinkInvalid(), self._refusal(None, (), bad.reason)) from None
        orgs = await meeting_org_ids(conn, claims.meeting_id) if await meeting_exists(conn, claims.meeting_id) else ()
        if claims.expires <= now.timestamp():
            raise Refusal(LinkExpired(), self._refusal(claims, orgs, "expired"))
        row = (await conn.execute(select(invitations).where(invitations.c.token_hash == token_hash(token)))).first()
        if row is None or row.meeting_id != claims.meeting_id or row.role != claims.role.value:
            raise Refusal(LinkInvalid(), self._refusal(claims, orgs, "unknown"))
        if row.revoked_at is not None:
            raise Refusal(LinkRevoked(), self._refusal(claims, orgs, "revoked", invitation_id=row.id))
        expires_at = stored_utc(row.expires_at)
        if expires_at <= now:
            raise Refusal(LinkExpired(), self._refusal(claims, orgs, "expired", invitation_id=row.id))
        bound = (
            await conn.execute(
                select(invitation_devices.c.device_hash).where(invitation_devices.c.invitation_id == row.id)
            )
        ).scalar()
        mine = self._keys.keyed_hash(self._keys.device, f"{row.id}:{device_id}") if valid_device_id(device_id) else None
        if bound is not None and bound != mine:
            raise Refusal(LinkInUseElsewhere(), self._refusal(claims, orgs, "other_device", invitation_id=row.id))
        if bound is None and bind:
            if mine is None:
                raise Refusal(LinkInvalid(), self._refusal(claims, orgs, "no_device", invitation_id=row.id))
            await conn.execute(insert(invitation_devices).values(invitation_id=row.id, device_hash=mine, bound_at=now))
        return Invitation(row.id, row.meeting_id, Role(row.role), bool(row.host), row.staff_id, expires_at)

    def _refusal(
        self, claims: LinkClaims | None, orgs: tuple[int, ...], reason: str, **details: DetailValue
    ) -> AuditRecord:
        # Unsigned claims are not trusted: an altered link is logged without the meeting it names.
        actor = system_actor("join_link") if claims is None else Actor(ActorKind.ROLE, claims.role.value)
        meeting = None if claims is None or not orgs else claims.meeting_id
        return _record("invitation.refused", actor, orgs, meeting, reason=reason, **details)

    async def redeem_code(self, code: str, device_id: str | None, *, client_key: str) -> tuple[str, Invitation]:
        """The link token and invitation for a short code, claimed for this device; the code is then used up.

        ``client_key`` identifies the caller for rate limiting only (e.g. a keyed hash of the address); it is
        never logged, and the limiter stores at most a keyed hash of it.
        """
        now = self._clock.now()
        if not await self._limiter.attempt(client_key, now.timestamp()):  # charged now, given back unless it fails
            raise CodeInvalid()  # the same answer as a wrong code: waiting is not a hint that a code exists
        digits = re.sub(r"[\s-]", "", code)

        async def work(conn: AsyncConnection) -> tuple[str, Invitation]:
            row = None
            if _CODE.fullmatch(digits):
                code_hash = self._keys.keyed_hash(self._keys.code, digits)
                query = select(invitation_codes).where(
                    invitation_codes.c.code_hash == code_hash,
                    invitation_codes.c.used_at.is_(None),
                    invitation_codes.c.sealed_link.is_not(None),
                )
                row = (await conn.execute(query)).first()
            if row is None or stored_utc(row.expires_at) <= now:
                unknown.append(True)
                raise Refusal(CodeInvalid(), self._refusal(None, (), "code_unknown"))
            try:
                sealed = base64.urlsafe_b64decode(row.sealed_link)
                aad = f"code:{row.invitation_id}".encode()
                token = self._aead.decrypt(sealed[:12], sealed[12:], aad).decode()
            except (InvalidTag, ValueError):
                raise Refusal(CodeInvalid(), self._refusal(None, (), "code_sealed_altered")) from None
            invitation = await self._open(conn, token, device_id, bind=True)
            await conn.execute(
                update(invitation_codes).where(invitation_codes.c.id == row.id).values(used_at=now, sealed_link=None)
            )
            return token, invitation

        unknown: list[bool] = []
        try:
            return await run_audited(self._engine, self._audit, work)
        finally:
            if not unknown:  # only an unknown or expired code counts; given back after the transaction
                await self._limiter.refund(client_key)

    # -- the host's controls ------------------------------------------------------------------------------------

    async def _host_action(self, actor_staff_id: int, invitation_id: int, action: str) -> None:
        actor = staff_actor(actor_staff_id)
        now = self._clock.now()

        async def work(conn: AsyncConnection) -> None:
            found = await get_invitation_for(conn, actor_staff_id, invitation_id)
            if found is None:
                raise Refusal(
                    NotFound(Text("err.link.not_found")),
                    _record("access.refused", actor, (), None, operation=action, reason="not_found"),
                )
            meeting, _invitation = found
            await conn.execute(delete(invitation_devices).where(invitation_devices.c.invitation_id == invitation_id))
            if action == "invitation.revoke":
                await conn.execute(
                    update(invitations)
                    .where(invitations.c.id == invitation_id, invitations.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                await conn.execute(
                    update(invitation_codes)
                    .where(invitation_codes.c.invitation_id == invitation_id, invitation_codes.c.used_at.is_(None))
                    .values(used_at=now, sealed_link=None)
                )
            orgs = await meeting_org_ids(conn, meeting.id)
            await self._audit.append(_record(action, actor, orgs, meeting.id, invitation_id=invitation_id), conn=conn)

        await run_audited(self._engine, self._audit, work)

    async def reset_device(self, *, actor_staff_id: int, invitation_id: int) -> None:
        """The host frees the link from its device: the next device that joins with it gets it.

        The web layer must also end the live connection made through this link on the old device.
        """
        await self._host_action(actor_staff_id, invitation_id, "invitation.device_reset")

    async def revoke(self, *, actor_staff_id: int, invitation_id: int) -> None:
        """The host withdraws the link (and any unused code for it); it is refused from now on."""
        await self._host_action(actor_staff_id, invitation_id, "invitation.revoke")

    async def send_sms(
        self, *, actor_staff_id: int, invitation_id: int, phone_number: str, text: str, sender: SmsSender
    ) -> None:
        """Send the prepared text through the gateway; audited without the number or the text."""
        number = normalise_mobile_number(phone_number)
        async with self._engine.connect() as conn:
            found = await get_invitation_for(conn, actor_staff_id, invitation_id)
            orgs = await meeting_org_ids(conn, found[0].id) if found is not None else ()
        if found is None:
            await self._audit.append(
                _record(
                    "access.refused",
                    staff_actor(actor_staff_id),
                    (),
                    None,
                    operation="invitation.sms",
                    reason="not_found",
                )
            )
            raise NotFound(Text("err.link.not_found"))
        await sender.send(number, text)
        details: dict[str, DetailValue] = {"invitation_id": invitation_id}
        await self._audit.append(
            _record("invitation.sms_sent", staff_actor(actor_staff_id), orgs, found[0].id, **details)
        )
