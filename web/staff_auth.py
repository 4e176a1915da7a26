"""Who the staff member behind a request is, what they may do, and the one gate every staff route passes.

A staff route is declared with :func:`staff_route` (the action it needs, or None for any staff member); the
:func:`staff_gate` middleware then does, once and in this order, what each handler used to repeat: no valid
login → 302 to the front page; a role without the action → 403; a POST without a valid CSRF token → 403. The
handler reads the member with :func:`staff_of` and the checked form with :func:`form_of`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from session.access.permissions import StaffAction, staff_may
from session.access.staff_members import current_member
from session.access.staff_roles import StaffRole
from web.auth import COOKIE, StaffSession
from web.keys import ENGINE, SIGNER
from web.rendering import refused

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True, slots=True)
class StaffUser:
    id: int
    display_name: str
    organisation_id: int
    organisation_kind: str
    organisation_parent: int | None
    session: StaffSession
    roles: frozenset[StaffRole] = frozenset()

    def may(self, action: StaffAction | str) -> bool:
        """For handlers and templates (menus show only what the user may open)."""
        return staff_may(self.roles, StaffAction(action))


@dataclass(frozen=True, slots=True)
class StaffRoute:
    """What the gate checks before a staff handler runs."""

    action: StaffAction | None
    """The permission needed; None for pages every staff member has (their landing page)."""
    csrf: bool
    """Whether a POST must carry the session's CSRF token (every form does)."""


STAFF = web.RequestKey("staff", StaffUser)
FORM: web.RequestKey[dict[str, str]] = web.RequestKey("staff_form")
_MARK = "__staff_route__"


def staff_route(action: StaffAction | None, *, csrf: bool = True) -> Callable[[H], H]:
    """Marks a handler as a staff route; :func:`staff_gate` authenticates, authorises and checks CSRF for it."""

    def mark(handler: H) -> H:
        setattr(handler, _MARK, StaffRoute(action, csrf))
        return handler

    return mark


def route_of(handler: object) -> StaffRoute | None:
    found = getattr(handler, _MARK, None)
    return found if isinstance(found, StaffRoute) else None


async def current_staff(request: web.Request) -> StaffUser | None:
    session = request.app[SIGNER].read(request.cookies.get(COOKIE))
    if session is None:
        return None
    member = await current_member(request.app[ENGINE], session.staff_id, session.generation)
    if member is None:
        return None
    return StaffUser(
        member.id,
        member.display_name,
        member.organisation_id,
        member.organisation_kind,
        member.organisation_parent,
        session,
        member.roles,
    )


async def require_staff(request: web.Request) -> StaffUser:
    user = await current_staff(request)
    if user is None:
        raise web.HTTPFound("/")
    return user


async def require(request: web.Request, action: StaffAction) -> StaffUser:
    """The logged-in staff member, if the permission table lets their roles take ``action`` (403 otherwise)."""
    user = await require_staff(request)
    if not user.may(action):
        raise refused(request, web.HTTPForbidden, "error.forbidden")
    return user


async def check_csrf(request: web.Request, user: StaffUser) -> dict[str, str]:
    form = await request.post()
    token = form.get("csrf")
    if not request.app[SIGNER].check_csrf(user.session, token if isinstance(token, str) else None):
        raise refused(request, web.HTTPForbidden, "err.web.form_expired")
    return {k: v for k, v in form.items() if isinstance(v, str)}


@web.middleware
async def staff_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = route_of(request.match_info.handler)
    if route is not None:
        user = await (require_staff(request) if route.action is None else require(request, route.action))
        request[STAFF] = user
        if request.method == "POST" and route.csrf:
            request[FORM] = await check_csrf(request, user)
    return await handler(request)


def staff_of(request: web.Request) -> StaffUser:
    """The member :func:`staff_gate` let through (only on a route declared with :func:`staff_route`)."""
    return request[STAFF]


def form_of(request: web.Request) -> dict[str, str]:
    """The posted form, its CSRF token already checked by :func:`staff_gate`."""
    return request[FORM]
