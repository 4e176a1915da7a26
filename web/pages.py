"""Server-rendered pages: landing, development login, staff meetings, join page, error pages."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from privacy.user_text import Text
from session.access.invitation_links import DEVICE_COOKIE
from session.access.isolation import get_meeting_for, meetings_visible_to
from session.access.link_tokens import new_device_id, valid_device_id
from session.access.meeting_parties import municipalities_served, parties_for
from session.access.organisations import can_create_meetings, staff_roles_of
from session.access.permissions import ENTRANCE_ROLES, StaffAction, call_role_for, staff_may
from session.access.revocation import session_is_current
from session.access.staff_roles import StaffRole
from session.call.signalling import EndReason
from session.errors import MeetingInvalid, SessionError
from session.meetings import MEETING_KINDS, Meeting, create_meeting, get_meeting
from session.planning.invitation_sms import invitation_sms_text
from session.planning.opening_hours import OSLO
from session.roles import LABELS, Role
from session.tables import organisations, staff
from web.app import CLOCK, ENGINE, LINKS, LIVE, SETTINGS, SIGNER, TEMPLATES
from web.auth import COOKIE, StaffSession
from web.client_address import client_address
from web.i18n import LANGUAGES, NAMES, catalogue, message_of, pick_language, translate, voice
from web.live import end_socket

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")  # join links must never leak via Referer
    response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
    if request.path.startswith("/j/") or request.path.startswith("/staff"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def bad_input(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Input no handler can read (a form that is not UTF-8, a number too large for the database) is the client's
    error: 400 with a reason, never a 500 and never a stack trace in the log."""
    try:
        return await handler(request)
    except UnicodeDecodeError:
        raise web.HTTPBadRequest(text="Skjemaet inneholder tegn som ikke kan leses (ikke UTF-8).") from None
    except OverflowError:
        raise web.HTTPBadRequest(text="Et tall i forespørselen er for stort.") from None


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status in (403, 404, 410) and "text/html" in request.headers.get("Accept", "") and exc.text:
            return render(request, "error.html", status=exc.status, message=exc.text)
        raise


def client_key(request: web.Request, purpose: str) -> str:
    """A keyed hash of the client's address (behind trusted proxies: the forwarded one), for attempt limits only."""
    address = client_address(
        request.remote, request.headers.get("X-Forwarded-For"), request.app[SETTINGS].trusted_proxies
    )
    return request.app[SIGNER].sign_value(f"client:{purpose}:{address}")


def lang_of(request: web.Request) -> str:
    return pick_language(request.query.get("lang"), request.cookies.get("lang"), request.headers.get("Accept-Language"))


def render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    lang = lang_of(request)
    env = request.app[TEMPLATES]
    html = env.get_template(template).render(
        lang=lang,
        t=lambda key: translate(lang, key),
        languages=[(code, NAMES[code]) for code in LANGUAGES],
        path=request.path,
        **context,
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie("lang", request.query["lang"], max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


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


async def current_staff(request: web.Request) -> StaffUser | None:
    session = request.app[SIGNER].read(request.cookies.get(COOKIE))
    if session is None:
        return None
    async with request.app[ENGINE].connect() as conn:
        if not await session_is_current(conn, session.staff_id, session.generation):
            return None  # logged out everywhere, or a right was removed since this cookie was issued
        query = (
            select(
                staff.c.id,
                staff.c.display_name,
                staff.c.organisation_id,
                organisations.c.kind,
                organisations.c.parent_id,
            )
            .join(organisations, organisations.c.id == staff.c.organisation_id)
            .where(staff.c.id == session.staff_id, staff.c.active)
        )
        row = (await conn.execute(query)).first()
        if row is None:
            return None
        roles = frozenset(role for role, _ in await staff_roles_of(conn, session.staff_id))
    return StaffUser(row.id, row.display_name, row.organisation_id, row.kind, row.parent_id, session, roles)


async def require_staff(request: web.Request) -> StaffUser:
    user = await current_staff(request)
    if user is None:
        raise web.HTTPFound("/")
    return user


async def require(request: web.Request, action: StaffAction) -> StaffUser:
    """The logged-in staff member, if the permission table lets their roles take ``action`` (403 otherwise)."""
    user = await require_staff(request)
    if not user.may(action):
        raise web.HTTPForbidden(text=translate(lang_of(request), "error.forbidden"))
    return user


async def check_csrf(request: web.Request, user: StaffUser) -> dict[str, str]:
    form = await request.post()
    token = form.get("csrf")
    if not request.app[SIGNER].check_csrf(user.session, token if isinstance(token, str) else None):
        raise web.HTTPForbidden(text="Skjemaet er utløpt eller ugyldig. Last siden på nytt og prøv igjen.")
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def index(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return render(request, "index.html", dev_mode=settings.dev_mode, user=await current_staff(request))


async def staff_home(request: web.Request) -> web.Response:
    """Every staff member lands here; the menu and the meeting list show only what their roles allow."""
    user = await require_staff(request)
    rows: list[Meeting] = []
    served: list[tuple[int, str]] = []
    async with request.app[ENGINE].connect() as conn:
        if user.may(StaffAction.VIEW_MEETINGS):
            rows = await meetings_visible_to(conn, user.id)
        if not user_role_is_municipal(user):
            served = await municipalities_served(conn, user.organisation_id)
    return render(request, "staff.html", **_staff_context(request, user), meetings=rows, municipalities=served)


def _staff_context(request: web.Request, user: StaffUser) -> dict[str, Any]:
    lang = lang_of(request)
    centre = user.organisation_parent if user.organisation_kind == "centre_department" else user.organisation_id
    return {
        "user": user,
        # The technical department's drop-in line is for its technicians (other departments' lines for advisers).
        "dropin_url": f"/staff/dropin/teknisk/{centre}" if StaffRole.TECHNICIAN in user.roles else None,
        "csrf": request.app[SIGNER].csrf_token(user.session),
        "kinds": MEETING_KINDS,
        "roles": [(r.value, LABELS[lang][r]) for r in ENTRANCE_ROLES],
    }


@dataclass(frozen=True, slots=True)
class ShownLink:
    label: str
    url: str
    invitation_id: int
    code: str | None
    sms: str | None
    """The invitation text the service prepares; sending it is the integration point (SmsSender)."""


async def _links(request: web.Request, meeting_id: str, roles: list[Role], user: StaffUser) -> list[ShownLink]:
    """Signed, expiring links, one per role, shown once (only hashes are stored). Citizens' links also get a
    short single-use code, to read aloud or send by SMS when a link is hard to open."""
    settings = request.app[SETTINGS]
    ttl = timedelta(hours=settings.join_link_ttl_hours)
    lang = lang_of(request)
    out: list[ShownLink] = []
    for role in roles:
        issued = await request.app[LINKS].issue(
            actor_staff_id=user.id, meeting_id=meeting_id, role=role, ttl=ttl, with_code=not role.is_staff
        )
        url = f"{settings.base_url}/j/{issued.token}"
        sms = invitation_sms_text(
            link_url=url,
            expires_at=issued.expires_at,
            tz=OSLO,
            code=issued.code,
            code_url=f"{settings.base_url}/kode" if issued.code else None,
            voice=voice(lang),  # the sender's language: the product does not know the invitee's
        )
        out.append(ShownLink(LABELS[lang][role], url, issued.invitation_id, issued.code, sms))
    return out


async def link_action(request: web.Request) -> web.Response:
    """The host withdraws a link, or frees it from the device it is bound to; its live connection ends now."""
    user = await require(request, StaffAction.MANAGE_LINKS)
    await check_csrf(request, user)
    invitation_id = int(request.match_info["id"])
    links = request.app[LINKS]
    try:
        if request.match_info["action"] == "revoke":
            await links.revoke(actor_staff_id=user.id, invitation_id=invitation_id)
        else:
            await links.reset_device(actor_staff_id=user.id, invitation_id=invitation_id)
    except SessionError as exc:
        raise web.HTTPNotFound(text=message_of(exc, lang_of(request))) from None
    for meeting in list(request.app[LIVE].meetings.values()):
        participant = meeting.room.find_by_invitation(invitation_id)
        socket = meeting.sockets.get(participant.id) if participant is not None else None
        if socket is not None:
            await end_socket(socket, EndReason.LINK_REVOKED)
    raise web.HTTPFound("/staff")


async def create(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.CREATE_MEETING)
    form = await check_csrf(request, user)
    settings, now = request.app[SETTINGS], request.app[CLOCK]()
    roles = _link_roles((await request.post()).getall("roles", []))
    try:
        async with request.app[ENGINE].begin() as conn:
            if not await can_create_meetings(conn, user.organisation_id):
                raise MeetingInvalid(Text("err.meeting.unit_closed"))
            parties = await parties_for(conn, user.organisation_id, _org_choice(form.get("municipality")))
            if not await can_create_meetings(conn, parties.municipal_id):
                raise MeetingInvalid(Text("err.meeting.party_closed"))
            meeting = await create_meeting(
                conn,
                organisation_id=parties.municipal_id,
                centre_id=parties.centre_id,
                topic=form.get("topic", ""),
                kind=form.get("kind", ""),
                created_by=user.id,
                now=now,
            )
    except SessionError as exc:
        context = _staff_context(request, user)
        return render(
            request, "staff.html", status=400, **context, meetings=[], error=message_of(exc, lang_of(request))
        )
    host = await request.app[LINKS].issue(
        actor_staff_id=user.id,
        meeting_id=meeting.id,
        role=Role.FORMIDLER if user_role_is_municipal(user) else Role.RADGIVER,
        ttl=timedelta(hours=settings.join_link_ttl_hours),
        host=True,
    )
    links = await _links(request, meeting.id, roles, user)
    return render(
        request,
        "links.html",
        **_staff_context(request, user),
        meeting=meeting,
        host_link=f"{settings.base_url}/j/{host.token}",
        links=links,
        hours=settings.join_link_ttl_hours,
    )


PERSONAL_LINK_TTL = timedelta(hours=12)


async def join_own(request: web.Request) -> web.Response:
    """A staff member joins a meeting of their organisation with a link of their own: the only way to staff
    powers in a call (oral consent, admitting, resuming someone, recording), valid only with their login."""
    user = await require(request, StaffAction.JOIN_MEETING)
    await check_csrf(request, user)
    role = call_role_for(user.roles)
    async with request.app[ENGINE].connect() as conn:
        meeting = await get_meeting_for(conn, user.id, request.match_info["meeting_id"])
    if meeting is None or role is None:
        raise web.HTTPNotFound(text="Fant ikke møtet.")
    if meeting.status == "cancelled":
        raise web.HTTPConflict(text="Møtet er avlyst.")
    try:
        issued = await request.app[LINKS].issue(
            actor_staff_id=user.id, meeting_id=meeting.id, role=role, ttl=PERSONAL_LINK_TTL, host=True
        )
    except SessionError as exc:
        raise web.HTTPNotFound(text=message_of(exc, lang_of(request))) from None
    raise web.HTTPSeeOther(f"/j/{issued.token}")


def _link_roles(values: Sequence[object]) -> list[Role]:
    """The roles to make links for. The page offers citizens, relatives and guests; a staff role may still be
    asked for (a label in the call, e.g. for a bench or an outside adviser), but such a link carries no staff
    powers: those come only from a logged-in employee's own link (``session/access/permissions.py``)."""
    roles: list[Role] = []
    for value in values[:20]:
        role = Role(value) if isinstance(value, str) and value in set(Role) else None
        if role is None:
            raise web.HTTPBadRequest(text="Ukjent rolle. Velg bruker, pårørende, leverandør eller Husbanken.")
        if role not in roles:
            roles.append(role)
    return roles


def _org_choice(value: str | None) -> int | None:
    """An organisation id chosen in a form; None when absent or not a plausible id (never a 500)."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 9:
        return None
    return int(value)


def user_role_is_municipal(user: StaffUser) -> bool:
    return user.organisation_kind in ("municipality", "municipality_unit")


async def new_link(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.ISSUE_LINKS)
    form = await check_csrf(request, user)
    async with request.app[ENGINE].connect() as conn:
        meeting = await get_meeting_for(conn, user.id, request.match_info["meeting_id"])
    if meeting is None:  # another organisation's meeting is as unknown as a missing one
        raise web.HTTPNotFound(text="Fant ikke møtet.")
    links = await _links(request, meeting.id, _link_roles([form.get("role", "")]), user)
    return render(
        request,
        "links.html",
        **_staff_context(request, user),
        meeting=meeting,
        host_link=None,
        links=links,
        hours=request.app[SETTINGS].join_link_ttl_hours,
    )


async def join_page(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    device = request.cookies.get(DEVICE_COOKIE)
    try:
        invitation = await request.app[LINKS].check(token, device)
        async with request.app[ENGINE].connect() as conn:
            meeting = await get_meeting(conn, invitation.meeting_id)
    except SessionError as exc:
        return render(request, "error.html", status=link_error_status(exc), message=message_of(exc, lang_of(request)))
    lang = lang_of(request)
    strings = {
        k: v
        for k, v in catalogue("nb").items()
        if k.startswith(
            (
                "call.",
                "join.",
                "lobby.",
                "roster.",
                "offrole.",
                "consent.",
                "giver.",
                "scope.",
                "gate.",
                "pause.",
                "chat.",
                "role.",
                "rec.",
            )
        )
    }
    strings |= {k: translate(lang, k) for k in strings}
    strings |= {f"role.{r.value}": LABELS[lang][r] for r in Role}
    response = render(
        request,
        "join.html",
        meeting=meeting,
        role_label=LABELS[lang][invitation.role],
        role=invitation.role.value,
        host=invitation.host,
        ws_path=f"/j/{token}/ws",
        strings_json=json.dumps(strings, ensure_ascii=False).replace("<", "\\u003c"),
    )
    if not device or not valid_device_id(device):
        # The first device to join holds the link (one device at a time); set here, bound on joining.
        secure = request.app[SETTINGS].base_url.startswith("https://")
        response.set_cookie(DEVICE_COOKIE, new_device_id(), httponly=True, samesite="Lax", secure=secure)
    return response


def link_error_status(exc: SessionError) -> int:
    """403 for forged, altered or unknown links; 410 for expired or revoked; 409 for another device."""
    return {
        "link_expired": 410,
        "link_revoked": 410,
        "link_in_use": 409,
    }.get(exc.code, 403)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/staff", staff_home)
    app.router.add_post("/staff/meetings", create)
    app.router.add_post("/staff/meetings/{meeting_id}/links", new_link)
    app.router.add_post("/staff/meetings/{meeting_id}/bli-med", join_own)
    app.router.add_post("/staff/invitations/{id:\\d+}/{action:revoke|reset}", link_action)
    app.router.add_get("/j/{token}", join_page)
