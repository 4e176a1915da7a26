"""Brukerpass holders' own pages (``/brukerpass``): in with the centre's code or a linked ID-porten login, then the
centre's drop-in and meeting requests. Every call they reach is joined as the citizen (``bruker``).

The holder's session is a signed cookie naming only the holder row; each request checks that the agreement is
still valid, so a withdrawn code ends access at the next click. Wrong codes are limited per client like room codes.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from aiohttp import web

from session.access.brukerpass import BrukerpassError, Holder, may_join, normalise_code, parse_wish
from session.departments import Department
from session.errors import SessionError
from session.planning.nb_format import format_clock, format_day
from session.planning.plan import OSLO
from session.roles import Role
from web.dropin_pages import centre_name, enqueue, opening_hours
from web.i18n import translate
from web.keys import ATTEMPTS, BRUKERPASS, CLOCK, LINKS, SETTINGS, SIGNER
from web.login import SUBJECT_COOKIE, read_subject, seal, unseal
from web.rendering import client_key, lang_of, refused, render

COOKIE = "samhandling_brukerpass"
SESSION_SECONDS = 8 * 3600
LINK_TTL = timedelta(hours=3)
BASE = "/brukerpass"


def hash_key(app: web.Application) -> bytes:
    """The key of the stored code and login hashes, derived from the server's secret (kept outside the database)."""
    return app[SIGNER].sign_value("brukerpass-hash-key").encode()


def _csrf(request: web.Request) -> str:
    return request.app[SIGNER].sign_value("brukerpass:csrf:" + request.cookies.get(COOKIE, ""))


async def current_holder(request: web.Request) -> Holder | None:
    """The holder of this browser's session, if the cookie is genuine and the agreement still valid."""
    holder_id = unseal(request, "brukerpass", request.cookies.get(COOKIE, ""))
    if holder_id is None or not holder_id.isdigit():
        return None
    return await request.app[BRUKERPASS].holder(int(holder_id))


async def _holder_or_entry(request: web.Request) -> Holder:
    holder = await current_holder(request)
    if holder is None:
        raise web.HTTPSeeOther(BASE)
    return holder


async def _checked_form(request: web.Request) -> dict[str, str]:
    form = {k: v[:2000] for k, v in (await request.post()).items() if isinstance(v, str)}
    if not hmac.compare_digest(form.get("csrf", ""), _csrf(request)):
        raise refused(request, web.HTTPForbidden, "bp.error.form")
    return form


def _signed_in(request: web.Request, holder: Holder, to: str = BASE + "/hjem") -> web.HTTPSeeOther:
    response = web.HTTPSeeOther(to)
    response.set_cookie(
        COOKIE,
        seal(request, "brukerpass", str(holder.id), SESSION_SECONDS),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.app[SETTINGS].base_url.startswith("https://"),
    )
    response.del_cookie(SUBJECT_COOKIE)
    return response


def _entry(request: web.Request, *, status: int = 200, error: str | None = None, linking: bool = False) -> web.Response:
    return render(request, "brukerpass.html", status=status, error=error, linking=linking)


async def entry(request: web.Request) -> web.Response:
    if await current_holder(request) is not None:
        raise web.HTTPSeeOther(BASE + "/hjem")
    return _entry(request)


async def after_login(request: web.Request) -> web.Response:
    """Back from ID-porten: a linked login goes straight in; a new one is asked for the code once, to link it."""
    subject = read_subject(request)
    if subject is None:
        raise web.HTTPSeeOther(BASE)
    holder = await request.app[BRUKERPASS].holder_by_login(subject)
    if holder is not None:
        raise _signed_in(request, holder)
    return _entry(request, linking=True)


async def enter_code(request: web.Request) -> web.Response:
    form = await request.post()
    typed = form.get("code")
    code = normalise_code(typed if isinstance(typed, str) else "")
    subject = read_subject(request)
    now, key, limiter = request.app[CLOCK](), client_key(request, "brukerpass"), request.app[ATTEMPTS]
    if code is None:
        return _entry(request, status=400, error="bp.error.code.form", linking=subject is not None)
    if not await limiter.attempt(key, now.timestamp()):
        return _entry(request, status=403, error="bp.error.code", linking=subject is not None)
    try:
        holder = await request.app[BRUKERPASS].sign_in(code, subject)
    except BrukerpassError as exc:  # this login is linked to another pass
        return _entry(request, status=409, error=exc.key, linking=True)
    if holder is None:
        return _entry(request, status=403, error="bp.error.code", linking=subject is not None)
    await limiter.refund(key)
    raise _signed_in(request, holder)


async def _home(
    request: web.Request, holder: Holder, *, status: int = 200, error: BrukerpassError | None = None,
    form: dict[str, str] | None = None, sent: bool = False,
) -> web.Response:  # fmt: skip
    lang, now = lang_of(request), request.app[CLOCK]()
    requests = await request.app[BRUKERPASS].requests_of(holder.id)
    departments = []
    for department in Department:
        hours = await opening_hours(request, holder.centre_id, department)
        closes = hours.closes_at(now)
        departments.append(
            {
                "value": department.value,
                "label": translate(lang, f"dropin.dept.{department.value}"),
                "open": closes is not None,
                "closes": format_clock(closes) if closes else "",
            }
        )
    shown = []
    for r in requests:
        starts = r.starts_at.astimezone(OSLO) if r.starts_at else None
        shown.append(
            {
                "id": r.id,
                "topic": r.topic,
                "department": translate(lang, f"dropin.dept.{r.department.value}"),
                "when": f"{format_day(starts.date(), locale=lang)} {translate(lang, 'bp.clock')} {format_clock(starts)}"
                if starts
                else "",
                "joinable": starts is not None and may_join(starts, now),
            }
        )
    return render(
        request,
        "brukerpass_home.html",
        status=status,
        centre=await centre_name(request, holder.centre_id),
        departments=departments,
        requests=shown,
        error=error,
        form=form or {},
        sent=sent,
        csrf=_csrf(request),
    )


async def home(request: web.Request) -> web.Response:
    return await _home(request, await _holder_or_entry(request), sent=request.query.get("sendt") == "1")


async def call_now(request: web.Request) -> web.Response:
    """Into the department's drop-in line, as the citizen."""
    holder = await _holder_or_entry(request)
    form = await _checked_form(request)
    try:
        department = Department(form.get("department", ""))
    except ValueError:
        return await _home(request, holder, status=400, error=BrukerpassError("bp.error.department", "call"))
    if not (await opening_hours(request, holder.centre_id, department)).is_open(request.app[CLOCK]()):
        return await _home(request, holder, status=409, error=BrukerpassError("dropin.error.closed", "call"))
    wait_page = await enqueue(request, (holder.centre_id, department), Role.BRUKER)
    if wait_page is None:
        return await _home(request, holder, status=503, error=BrukerpassError("dropin.error.full", "call"))
    raise web.HTTPSeeOther(wait_page)


async def ask_for_meeting(request: web.Request) -> web.Response:
    holder = await _holder_or_entry(request)
    form = await _checked_form(request)
    try:
        wish = parse_wish(form, frozenset(Department))
    except BrukerpassError as exc:  # the form comes back filled in, with the message next to the field
        return await _home(request, holder, status=400, error=exc, form=form)
    await request.app[BRUKERPASS].ask(holder, wish)
    raise web.HTTPSeeOther(BASE + "/hjem?sendt=1")


async def join_meeting(request: web.Request) -> web.Response:
    """A fresh citizen link to a meeting the centre agreed with the holder, while it is on."""
    holder = await _holder_or_entry(request)
    await _checked_form(request)
    try:
        request_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    found = await request.app[BRUKERPASS].agreed_meeting(request_id, holder.id)
    if found is None:
        raise refused(request, web.HTTPNotFound, "bp.error.nomeeting")
    meeting_id, starts_at, agreed_by = found
    if not may_join(starts_at, request.app[CLOCK]()):
        return await _home(request, holder, status=409, error=BrukerpassError("bp.error.notyet", "meetings"))
    try:
        # Issued in the name of the staff member who agreed the time: it stops working with their rights.
        link = await request.app[LINKS].issue(
            actor_staff_id=agreed_by, meeting_id=meeting_id, role=Role.BRUKER, ttl=LINK_TTL
        )
    except SessionError:
        return await _home(request, holder, status=410, error=BrukerpassError("bp.error.nomeeting", "meetings"))
    raise web.HTTPSeeOther(f"/j/{link.token}")


async def log_out(request: web.Request) -> web.Response:
    await _checked_form(request)
    response = web.HTTPSeeOther(BASE)
    response.del_cookie(COOKIE)
    raise response


def setup_routes(app: web.Application) -> None:
    app.router.add_get(BASE, entry)
    app.router.add_get(BASE + "/inn", after_login)
    app.router.add_post(BASE + "/kode", enter_code)
    app.router.add_get(BASE + "/hjem", home)
    app.router.add_post(BASE + "/ring", call_now)
    app.router.add_post(BASE + "/mote", ask_for_meeting)
    app.router.add_post(BASE + "/mote/{id:[0-9]{1,9}}/bli-med", join_meeting)
    app.router.add_post(BASE + "/logg-ut", log_out)
