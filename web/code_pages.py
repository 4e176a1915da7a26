"""The short code entrance: a six-digit code read aloud or sent by SMS leads to the link it stands for.

The code is single-use and binds the link to the device that redeems it, like opening the link itself. Failed
attempts slow the client down exponentially (counted in the shared database under a keyed hash of its address,
never the address, never logged); there is no total that a stranger could use up for everyone, and a wrong code
and a slowed-down client get the same answer.
"""

from __future__ import annotations

from aiohttp import web

from session.access.errors import CodeInvalid
from session.access.invitation_links import DEVICE_COOKIE
from session.access.link_tokens import new_device_id, valid_device_id
from web.i18n import message_of
from web.keys import LINKS, SETTINGS
from web.rendering import client_key, lang_of, render


async def code_page(request: web.Request) -> web.Response:
    if request.method == "GET":
        return render(request, "code.html", error=None)
    form = await request.post()
    device = request.cookies.get(DEVICE_COOKIE)
    if not device or not valid_device_id(device):
        device = new_device_id()
    try:
        token, _invitation = await request.app[LINKS].redeem_code(
            str(form.get("code", ""))[:40], device, client_key=client_key(request, "code")
        )
    except CodeInvalid as exc:
        return render(request, "code.html", status=400, error=message_of(exc, lang_of(request)))
    response = web.HTTPSeeOther(f"/j/{token}")
    secure = request.app[SETTINGS].base_url.startswith("https://")
    response.set_cookie(DEVICE_COOKIE, device, httponly=True, samesite="Lax", secure=secure)
    raise response


def setup_routes(app: web.Application) -> None:
    app.router.add_route("*", "/kode", code_page)
