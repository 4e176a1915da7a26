"""Login for the centre's own staff with Entra ID, beside ID-porten: a second configured issuer.

The flow is the same code flow with PKCE as ``web.login`` (its own pending-login cookie, path ``/auth/entra``,
so the two logins never mix). On the callback the person's groups are mapped to centre roles by the settings
(``SAMHANDLING_ENTRA_GROUP_ROLES``) and the roles at the configured centre are set to exactly those
(``session.access.directory_roles``); a person whose groups give no role gets a page that says so, not a session.
The person is known here by ``entra:<tenant>:<object id>`` (stable across apps), never by e-mail address.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from session.access.directory_roles import sync_directory_roles
from session.access.staff_roles import StaffRole
from web.auth import COOKIE, SESSION_SECONDS
from web.i18n import translate
from web.identity_providers import parse_group_roles, roles_from_groups
from web.keys import ACCESS_READS, BUS, CLOCK, ENGINE, PENDING, RECORDS, SETTINGS, SIGNER, ClockAdapter
from web.oidc import PENDING_SECONDS, LoginRefused, OidcClient, OidcError, OidcSettings
from web.rendering import lang_of, render

ENTRA = web.AppKey("entra", OidcClient)
GROUP_ROLES = web.AppKey("entra_group_roles", Mapping[str, frozenset[StaffRole]])
ENTRA_PENDING_COOKIE = "samhandling_login_entra"


def subject_of(claims: Mapping[str, Any]) -> str:
    """``entra:<tid>:<oid>``; ``sub`` (pairwise per app, also stable) when the token lacks them."""
    tid, oid = claims.get("tid"), claims.get("oid")
    if isinstance(tid, str) and isinstance(oid, str) and tid and oid and len(tid) + len(oid) < 180:
        return f"entra:{tid}:{oid}"
    return f"entra:{claims['sub']}"


def _display_name(claims: Mapping[str, Any]) -> str:
    name = claims.get("name")
    return name.strip()[:200] if isinstance(name, str) and name.strip().isprintable() else "NAV-ansatt"


async def login(request: web.Request) -> web.Response:
    try:
        url, pending = await request.app[ENTRA].begin(request.query.get("next"))
    except OidcError as exc:
        return render(request, "error.html", status=502, message=exc.message)
    response = web.HTTPFound(url)
    secure = request.app[SETTINGS].base_url.startswith("https://")
    response.set_cookie(ENTRA_PENDING_COOKIE, request.app[PENDING].seal(pending), max_age=PENDING_SECONDS,
                        path="/auth/entra", httponly=True, samesite="Lax", secure=secure)  # fmt: skip
    raise response


async def callback(request: web.Request) -> web.Response:
    app = request.app
    try:
        pending = app[PENDING].open(request.cookies.get(ENTRA_PENDING_COOKIE), time.time())
        result = await app[ENTRA].finish(dict(request.query), pending)
    except OidcError as exc:
        response = render(
            request, "error.html", status=400 if isinstance(exc, LoginRefused) else 502, message=exc.message
        )
        response.del_cookie(ENTRA_PENDING_COOKIE, path="/auth/entra")
        return response
    centre = await app[ACCESS_READS].organisation_by_number(app[SETTINGS].entra_centre_org_number)
    if centre is None:
        return render(request, "error.html", status=502, message=translate(lang_of(request), "entra.no_centre"))
    records = app[RECORDS]
    signed_in = await sync_directory_roles(
        app[ENGINE],
        records.audit,
        ClockAdapter(app[CLOCK]),
        app[BUS],
        subject=subject_of(result.claims),
        display_name=_display_name(result.claims),
        centre_id=centre.id,
        roles=roles_from_groups(result.claims, app[GROUP_ROLES]),
    )
    if not signed_in.roles:
        response = render(request, "error.html", status=403, message=translate(lang_of(request), "entra.no_role"))
    else:
        response = web.HTTPFound(result.return_path if result.return_path != "/" else "/staff")
        secure = app[SETTINGS].base_url.startswith("https://")
        response.set_cookie(COOKIE, app[SIGNER].issue(signed_in.staff_id, signed_in.generation),
                            max_age=SESSION_SECONDS, httponly=True, samesite="Lax", secure=secure)  # fmt: skip
    response.del_cookie(ENTRA_PENDING_COOKIE, path="/auth/entra")
    if isinstance(response, web.HTTPFound):
        raise response
    return response


def setup(app: web.Application) -> None:
    """Mount Entra ID login when it is configured (``SAMHANDLING_ENTRA_ISSUER``)."""
    settings = app[SETTINGS]
    if not settings.entra_issuer:
        return
    app[GROUP_ROLES] = parse_group_roles(settings.entra_group_roles)
    oidc_settings = OidcSettings(
        issuer=settings.entra_issuer,
        client_id=settings.entra_client_id,
        redirect_uri=settings.entra_redirect_uri,
        client_secret=settings.entra_client_secret.value,
        scopes=("openid", "profile"),
        allow_http=settings.dev_mode,
    )

    async def client(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            app[ENTRA] = OidcClient(oidc_settings, http)
            yield

    app.cleanup_ctx.append(client)
    app.router.add_get("/auth/entra/login", login)
    app.router.add_get("/auth/entra/callback", callback)
