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

from datetime import timedelta

from aiohttp import web

from session.access.permissions import ENTRANCE_ROLES
from session.errors import SessionError
from session.meetings import get_meeting
from session.planning.store import RoomCodeOutcome, check_room_code, load_plan
from session.roles import LABELS, Role
from web.app import ATTEMPTS, CLOCK, ENGINE, LINKS, SIGNER
from web.pages import client_key, lang_of, render
from web.staff_meeting import join_role

ROOM_PATH = "/rom"
"""The fallback address printed in every invitation, where the room code and PIN are typed."""
LINK_GRACE = timedelta(hours=2)
"""Links and the room code stay valid this long after the planned end (meetings run over)."""
MIN_LINK_TTL = timedelta(minutes=30)


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
    roles = [(r.value, LABELS[lang][r]) for r in ENTRANCE_ROLES]
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
    issue: tuple[str, int, timedelta] | None = None
    async with request.app[ENGINE].begin() as conn:  # commits the failure count when refusing, too
        result = await check_room_code(conn, code, pin, now=now, pepper=room_pepper(request.app))
        if result.outcome is RoomCodeOutcome.OK and result.meeting_id is not None:
            stored = await load_plan(conn, result.meeting_id)
            planner = await get_meeting(conn, result.meeting_id)
            if stored is not None and planner is not None and role in {join_role(p) for p in stored.plan.participants}:
                ttl = max(stored.plan.ends_at + LINK_GRACE - now, MIN_LINK_TTL)
                issue = (result.meeting_id, planner.created_by, ttl)
    if result.outcome in (RoomCodeOutcome.OK, RoomCodeOutcome.EXPIRED):
        await limiter.refund(key)
    if issue is not None:
        meeting_id, planner_id, ttl = issue
        try:
            # Issued in the planner's name: the code stands for their invitation, and stops working with their rights.
            link = await request.app[LINKS].issue(actor_staff_id=planner_id, meeting_id=meeting_id, role=role, ttl=ttl)
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
