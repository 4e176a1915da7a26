"""The fallback address (``/rom``): a room code and PIN from the invitation lead to a join link.

For people whose link does not work (a mail client that breaks it, a phone that cannot open it). The code and
PIN are checked by the planning store, which slows guessing per room code; each attempt also costs an scrypt
hash, so failures also slow the client down (a keyed hash of its address, never logged), counted in the shared
database so that every worker and node sees them. Neither is a global
limit a stranger could use to lock everyone out, and «wrong» and «wait» give the same answer. A correct code
gives a fresh link for a citizen, relative or guest role the plan invited: never a staff role, never a host
link (staff join through their own login).
"""

from __future__ import annotations

from aiohttp import web

from session.access.permissions import ENTRANCE_ROLES
from session.errors import SessionError
from session.planning.store import RoomCodeOutcome
from session.roles import Role
from web.i18n import role_label
from web.keys import ATTEMPTS, CLOCK, LINKS, PLANNING, SIGNER
from web.rendering import client_key, lang_of, render

ROOM_PATH = "/rom"
"""The fallback address printed in every invitation, where the room code and PIN are typed."""


def room_pepper(app: web.Application) -> bytes:
    """Mixed into every PIN hash; derived from the server's session secret, so it is kept outside the database
    (as session/planning/room_code.py advises)."""
    return app[SIGNER].sign_value("room-code-pepper").encode()


ROOM_REFUSALS: dict[RoomCodeOutcome, tuple[int, str]] = {
    RoomCodeOutcome.UNKNOWN: (403, "roomcode.error.wrong"),
    RoomCodeOutcome.WRONG_PIN: (403, "roomcode.error.wrong"),
    RoomCodeOutcome.LOCKED: (403, "roomcode.error.wrong"),  # the same answer: waiting tells nothing about codes
    RoomCodeOutcome.EXPIRED: (410, "roomcode.error.expired"),
}


def _room_page(
    request: web.Request, *, status: int = 200, error: str | None = None, role: str = Role.BRUKER.value
) -> web.Response:
    lang = lang_of(request)
    roles = [(r.value, role_label(lang, r)) for r in ENTRANCE_ROLES]
    return render(request, "plan_room.html", status=status, error=error, roles=roles, chosen=role)


async def room_form(request: web.Request) -> web.Response:
    return _room_page(request)


async def room_enter(request: web.Request) -> web.Response:
    form = await request.post()
    code, pin, role_value = (str(form.get(k, ""))[:40] for k in ("code", "pin", "role"))
    now, key, limiter = request.app[CLOCK](), client_key(request, "room"), request.app[ATTEMPTS]
    try:
        role = Role(role_value)
    except ValueError:
        return _room_page(request, status=400, error="roomcode.error.role")
    if role not in ENTRANCE_ROLES:  # staff join with their own login, never by a code anyone may hold
        return _room_page(request, status=400, error="roomcode.error.role")
    if not await limiter.attempt(key, now.timestamp()):  # charged now, given back below unless it fails
        return _room_page(request, status=403, error="roomcode.error.wrong", role=role_value)
    result = await request.app[PLANNING].room_entry(code, pin, role)
    if result.outcome in (RoomCodeOutcome.OK, RoomCodeOutcome.EXPIRED):
        await limiter.refund(key)
    if result.meeting_id is not None and result.planner_id is not None and result.ttl is not None:
        try:
            # Issued in the planner's name: the code stands for their invitation, and stops working with their rights.
            link = await request.app[LINKS].issue(
                actor_staff_id=result.planner_id, meeting_id=result.meeting_id, role=role, ttl=result.ttl
            )
        except SessionError:
            return _room_page(request, status=410, error="roomcode.error.expired", role=role_value)
        raise web.HTTPSeeOther(f"/j/{link.token}")
    if result.outcome is RoomCodeOutcome.OK:
        return _room_page(request, status=400, error="roomcode.error.notinvited", role=role_value)
    status, message = ROOM_REFUSALS[result.outcome]
    return _room_page(request, status=status, error=message, role=role_value)


def setup_routes(app: web.Application) -> None:
    app.router.add_get(ROOM_PATH, room_form)
    app.router.add_post(ROOM_PATH, room_enter)
