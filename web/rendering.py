"""Reading a request and answering with a page: the reader's language, templates, a keyed client address."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from privacy.user_text import Param, Text
from session.planning.nb_format import format_clock, format_day
from web.client_address import client_address
from web.i18n import LANGUAGES, NAMES, pick_language, say, shown
from web.keys import SETTINGS, SIGNER, TEMPLATES


def client_key(request: web.Request, purpose: str) -> str:
    """A keyed hash of the client's address (behind trusted proxies: the forwarded one), for attempt limits only."""
    address = client_address(
        request.remote, request.headers.get("X-Forwarded-For"), request.app[SETTINGS].trusted_proxies
    )
    return request.app[SIGNER].sign_value(f"client:{purpose}:{address}")


def lang_of(request: web.Request) -> str:
    return pick_language(request.query.get("lang"), request.cookies.get("lang"), request.headers.get("Accept-Language"))


def refused(request: web.Request, status: type[web.HTTPException], key: str, **params: Param) -> web.HTTPException:
    """An HTTP refusal whose reason is said in the reader's language (plain text: for a script or a download)."""
    return status(text=say(lang_of(request), Text(key, **params)))


def render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    lang = lang_of(request)
    env = request.app[TEMPLATES]
    html = env.get_template(template).render(
        lang=lang,
        t=lambda value: shown(lang, value),
        day=lambda value: format_day(value, year=True, locale=lang),
        clock=format_clock,
        languages=[(code, NAMES[code]) for code in LANGUAGES],
        path=request.path,
        **context,
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie("lang", request.query["lang"], max_age=365 * 86400, samesite="Lax", httponly=True)
    return response
