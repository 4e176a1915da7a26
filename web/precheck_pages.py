"""The pre-call check anyone can open from an invitation: camera (processed, as others will see it),
microphone level, lighting, and the connection to this server (round-trip time and throughput).

The camera, microphone and lighting checks run in the browser (``static/precheck.js``); the processed view
comes over the call's own signalling socket in preview mode, which never enters the meeting. The throughput
test needs a little data both ways: a bounded number of random bytes down, and a bounded upload that is
counted and thrown away. Both are behind the invitation link, so they are not an open relay for traffic.
"""

from __future__ import annotations

import json
import os

from aiohttp import web

from session.access.invitation_links import DEVICE_COOKIE
from session.access.link_tokens import new_device_id, valid_device_id
from session.meetings import Invitation
from web.i18n import catalogue, translate
from web.keys import LINKS, PLANNING, SETTINGS
from web.rendering import lang_of, refused, render

DOWNLOAD_DEFAULT = 512 * 1024
DOWNLOAD_MAX = 2 * 1024 * 1024
UPLOAD_MAX = 1024 * 1024
_CHUNK = 64 * 1024


async def _invitation(request: web.Request) -> Invitation:
    """The link's invitation for this device, without binding the link (as the join page checks it); a refused
    link is answered by ``web.middlewares.domain_errors`` (403, 409 or 410)."""
    return await request.app[LINKS].check(request.match_info["token"], request.cookies.get(DEVICE_COOKIE))


def _strings(lang: str) -> str:
    keys = [k for k in catalogue("nb") if k.startswith("precheck.")]
    strings = {k: translate(lang, k) for k in keys}
    return json.dumps(strings, ensure_ascii=False).replace("<", "\\u003c")


async def precheck_page(request: web.Request) -> web.Response:
    invitation = await _invitation(request)
    meeting = await request.app[PLANNING].meeting(invitation.meeting_id)
    token = request.match_info["token"]
    response = render(
        request,
        "precheck.html",
        topic=meeting.topic if meeting else "",
        join_path=f"/j/{token}",
        ws_path=f"/j/{token}/ws?mode=check",
        data_path=f"/j/{token}/sjekk/data",
        strings_json=_strings(lang_of(request)),
    )
    if not valid_device_id(request.cookies.get(DEVICE_COOKIE)):
        # As on the join page: the device id the link will be bound to when this device joins.
        secure = request.app[SETTINGS].base_url.startswith("https://")
        response.set_cookie(DEVICE_COOKIE, new_device_id(), httponly=True, samesite="Lax", secure=secure)
    return response


async def download(request: web.Request) -> web.Response:
    """``size`` random bytes (default 512 KiB, at most 2 MiB): random, so that no compression flatters the link."""
    await _invitation(request)
    try:
        size = int(request.query.get("size", DOWNLOAD_DEFAULT))
    except ValueError:
        raise refused(request, web.HTTPBadRequest, "err.web.invalid_size") from None
    if not 1 <= size <= DOWNLOAD_MAX:
        raise refused(request, web.HTTPBadRequest, "err.web.invalid_size")
    return web.Response(body=os.urandom(size), content_type="application/octet-stream")


async def upload(request: web.Request) -> web.Response:
    """Counts an upload of at most 1 MiB and discards it; returns the count."""
    await _invitation(request)
    received = 0
    while chunk := await request.content.read(_CHUNK):
        received += len(chunk)
        if received > UPLOAD_MAX:
            raise web.HTTPRequestEntityTooLarge(max_size=UPLOAD_MAX, actual_size=received)
    return web.json_response({"bytes": received})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/j/{token}/sjekk", precheck_page)
    app.router.add_get("/j/{token}/sjekk/data", download)
    app.router.add_post("/j/{token}/sjekk/data", upload)
