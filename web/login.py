"""Staff login through OpenID Connect (authorization code + PKCE), logout, and asking for access.

In development mode the provider is the built-in development identity provider; in production it is the
configured issuer (ID-porten or the organisation's own). A person who logs in without any right lands on a page
where they can ask their municipality's access manager for it.
"""

from __future__ import annotations

import hmac
import time

from aiohttp import web

from privacy.user_text import Text, said_by
from session.access.errors import AccessError
from session.access.staff_members import login_of
from web.auth import COOKIE, SESSION_SECONDS
from web.authorization_setup import remember_person
from web.keys import ACCESS, ACCESS_READS, ENGINE, OIDC, PENDING, SETTINGS, SIGNER
from web.oidc import PENDING_COOKIE, PENDING_SECONDS, LoginRefused, OidcError, ProviderError
from web.rendering import render
from web.staff_auth import staff_of, staff_route

SUBJECT_COOKIE = "samhandling_subject"
"""A short-lived signed cookie holding only the login subject, for the access-request form."""


def _secure(request: web.Request) -> bool:
    return request.app[SETTINGS].base_url.startswith("https://")


def seal(request: web.Request, purpose: str, value: str, seconds: int) -> str:
    """A short-lived signed cookie value (``expires|value|mac``), the MAC domain-separated by ``purpose``."""
    payload = f"{int(time.time()) + seconds}|{value}"
    return f"{payload}|{request.app[SIGNER].sign_value(f'{purpose}:{payload}')}"


def unseal(request: web.Request, purpose: str, raw: str) -> str | None:
    """The value of a cookie made by :func:`seal` for ``purpose``, if genuine and not expired."""
    payload, _, mac = raw[:400].rpartition("|")
    if not payload or not hmac.compare_digest(mac, request.app[SIGNER].sign_value(f"{purpose}:{payload}")):
        return None
    expires, _, value = payload.partition("|")
    return value if expires.isdigit() and int(expires) > time.time() else None


def _subject_cookie(request: web.Request, subject: str) -> str:
    return seal(request, "subject", subject, PENDING_SECONDS)


def read_subject(request: web.Request) -> str | None:
    """The subject of a login that led to no staff session (an access request, or a Brukerpass holder)."""
    return unseal(request, "subject", request.cookies.get(SUBJECT_COOKIE) or "")


async def login(request: web.Request) -> web.Response:
    try:
        url, pending = await request.app[OIDC].begin(request.query.get("next"))
    except ProviderError as exc:
        return render(request, "error.html", status=502, message=exc.message)
    response = web.HTTPFound(url)
    response.set_cookie(
        PENDING_COOKIE,
        request.app[PENDING].seal(pending),
        max_age=PENDING_SECONDS,
        path="/auth",
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
    )
    raise response


async def callback(request: web.Request) -> web.Response:
    try:
        pending = request.app[PENDING].open(request.cookies.get(PENDING_COOKIE), time.time())
        result = await request.app[OIDC].finish(dict(request.query), pending)
    except OidcError as exc:
        status = 400 if isinstance(exc, LoginRefused) else 502
        response = render(request, "error.html", status=status, message=exc.message)
        response.del_cookie(PENDING_COOKIE, path="/auth")
        return response
    found = await login_of(request.app[ENGINE], result.subject)
    if result.return_path.startswith("/brukerpass"):
        # A Brukerpass holder (a citizen): no staff session, only the subject for linking their agreement.
        response = web.HTTPFound("/brukerpass/inn")
        response.set_cookie(SUBJECT_COOKIE, _subject_cookie(request, result.subject), max_age=PENDING_SECONDS,
                            httponly=True, samesite="Lax", secure=_secure(request))  # fmt: skip
    elif found.staff_id is None or not found.roles:
        response = web.HTTPFound("/access/request")
        response.set_cookie(SUBJECT_COOKIE, _subject_cookie(request, result.subject), max_age=PENDING_SECONDS,
                            httponly=True, samesite="Lax", secure=_secure(request))  # fmt: skip
    else:
        remember_person(request.app, found.staff_id, result.claims)  # ID-porten's pid, in memory, for asking Altinn
        response = web.HTTPFound(result.return_path if result.return_path != "/" else "/staff")
        cookie = request.app[SIGNER].issue(found.staff_id, found.generation)
        response.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="Lax",
                            secure=_secure(request))  # fmt: skip
    response.del_cookie(PENDING_COOKIE, path="/auth")
    raise response


@staff_route(None)
async def logout(request: web.Request) -> web.Response:
    """Logging out ends every session of this person (all devices), not only this cookie."""
    user = staff_of(request)
    await request.app[ACCESS].end_sessions(staff_id=user.id)
    response = web.HTTPFound("/")
    response.del_cookie(COOKIE)
    raise response


async def access_request_page(request: web.Request) -> web.Response:
    subject = read_subject(request)
    if subject is None:
        raise web.HTTPFound("/auth/login")
    units = await request.app[ACCESS_READS].municipalities()
    existing = await request.app[ACCESS].requests_for_subject(subject)
    if request.method == "POST":
        form = await request.post()
        try:
            org_id = int(str(form.get("organisation_id", "")))
            await request.app[ACCESS].request_access(
                subject=subject, display_name=str(form.get("display_name", "")), organisation_id=org_id
            )
        except (ValueError, AccessError) as exc:
            message = said_by(exc) if isinstance(exc, AccessError) else Text("err.access.choose_unit")
            return render(request, "access_request.html", status=400, units=units, requests=existing, error=message)
        existing = await request.app[ACCESS].requests_for_subject(subject)
    return render(request, "access_request.html", units=units, requests=existing, error=None)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/auth/login", login)
    app.router.add_get("/auth/callback", callback)
    app.router.add_post("/logout", logout)
    app.router.add_route("*", "/access/request", access_request_page)
