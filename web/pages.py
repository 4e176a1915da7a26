"""Server-rendered pages: the landing page, the staff landing page and its meetings and links, the join page.

Rendering is in ``web.rendering``, the staff gate in ``web.staff_auth``, error pages and the mapping of domain
refusals in ``web.middlewares``; meetings are read and made by ``session.planning.service``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from privacy.user_text import Text
from session.access.errors import InvalidRequest
from session.access.invitation_links import DEVICE_COOKIE
from session.access.link_tokens import new_device_id, valid_device_id
from session.access.permissions import ENTRANCE_ROLES, StaffAction, call_role_for
from session.access.staff_roles import StaffRole
from session.call.signalling import EndReason
from session.errors import SessionError
from session.meetings import MEETING_KINDS
from session.planning.invitation_sms import invitation_sms_text
from session.planning.opening_hours import OSLO
from session.roles import Role
from web.i18n import catalogue, message_of, role_label, translate, voice
from web.keys import LINKS, LIVE, PLANNING, SETTINGS, SIGNER
from web.middlewares import link_error_status
from web.rendering import lang_of, refused, render
from web.staff_auth import StaffUser, current_staff, form_of, staff_of, staff_route


async def index(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return render(request, "index.html", dev_mode=settings.dev_mode, user=await current_staff(request))


@staff_route(None)
async def staff_home(request: web.Request) -> web.Response:
    """Every staff member lands here; the menu and the meeting list show only what their roles allow."""
    user = staff_of(request)
    planning = request.app[PLANNING]
    rows = await planning.visible_meetings(user.id) if user.may(StaffAction.VIEW_MEETINGS) else []
    served = [] if user_role_is_municipal(user) else await planning.municipalities_served(user.organisation_id)
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
        "roles": [(r.value, role_label(lang, r)) for r in ENTRANCE_ROLES],
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
        out.append(ShownLink(role_label(lang, role), url, issued.invitation_id, issued.code, sms))
    return out


@staff_route(StaffAction.MANAGE_LINKS)
async def link_action(request: web.Request) -> web.Response:
    """The host withdraws a link, or frees it from the device it is bound to; its live connection ends now."""
    user = staff_of(request)
    invitation_id = int(request.match_info["id"])
    links = request.app[LINKS]
    if request.match_info["action"] == "revoke":
        await links.revoke(actor_staff_id=user.id, invitation_id=invitation_id)
    else:
        await links.reset_device(actor_staff_id=user.id, invitation_id=invitation_id)
    await request.app[LIVE].end_link(invitation_id, EndReason.LINK_REVOKED)
    raise web.HTTPFound("/staff")


@staff_route(StaffAction.CREATE_MEETING)
async def create(request: web.Request) -> web.Response:
    user, form = staff_of(request), form_of(request)
    settings = request.app[SETTINGS]
    roles = _link_roles((await request.post()).getall("roles", []))
    try:
        meeting = await request.app[PLANNING].create_unplanned(
            staff_id=user.id,
            organisation_id=user.organisation_id,
            municipality=_org_choice(form.get("municipality")),
            topic=form.get("topic", ""),
            kind=form.get("kind", ""),
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


@staff_route(StaffAction.JOIN_MEETING)
async def join_own(request: web.Request) -> web.Response:
    """A staff member joins a meeting of their organisation with a link of their own: the only way to staff
    powers in a call (oral consent, admitting, resuming someone, recording), valid only with their login."""
    user = staff_of(request)
    role = call_role_for(user.roles)
    meeting = await request.app[PLANNING].meeting_for(user.id, request.match_info["meeting_id"])
    if meeting is None or role is None:
        raise refused(request, web.HTTPNotFound, "err.link.meeting_not_found")
    if meeting.status == "cancelled":
        raise refused(request, web.HTTPConflict, "err.web.meeting_cancelled")
    issued = await request.app[LINKS].issue(
        actor_staff_id=user.id, meeting_id=meeting.id, role=role, ttl=PERSONAL_LINK_TTL, host=True
    )
    raise web.HTTPSeeOther(f"/j/{issued.token}")


def _link_roles(values: Sequence[object]) -> list[Role]:
    """The roles to make links for. The page offers citizens, relatives and guests; a staff role may still be
    asked for (a label in the call, e.g. for a bench or an outside adviser), but such a link carries no staff
    powers: those come only from a logged-in employee's own link (``session/access/permissions.py``)."""
    roles: list[Role] = []
    for value in values[:20]:
        role = Role(value) if isinstance(value, str) and value in set(Role) else None
        if role is None:
            raise InvalidRequest(Text("err.web.unknown_role"))  # 400, said by the domain_errors middleware
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


@staff_route(StaffAction.ISSUE_LINKS)
async def new_link(request: web.Request) -> web.Response:
    user, form = staff_of(request), form_of(request)
    meeting = await request.app[PLANNING].meeting_for(user.id, request.match_info["meeting_id"])
    if meeting is None:  # another organisation's meeting is as unknown as a missing one
        raise refused(request, web.HTTPNotFound, "err.link.meeting_not_found")
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
        meeting = await request.app[PLANNING].meeting(invitation.meeting_id)
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
    strings |= {f"role.{r.value}": role_label(lang, r) for r in Role}  # the roster names every role
    response = render(
        request,
        "join.html",
        meeting=meeting,
        role_label=role_label(lang, invitation.role),
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


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/staff", staff_home)
    app.router.add_post("/staff/meetings", create)
    app.router.add_post("/staff/meetings/{meeting_id}/links", new_link)
    app.router.add_post("/staff/meetings/{meeting_id}/bli-med", join_own)
    app.router.add_post("/staff/invitations/{id:\\d+}/{action:revoke|reset}", link_action)
    app.router.add_get("/j/{token}", join_page)
