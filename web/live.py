"""The web layer's side of the meeting runtime (``session.meeting.runtime``): a participant's WebSocket as the
runtime's :class:`~session.meeting.ports.Outbox`, and the app's services as its
:class:`~session.meeting.ports.Services`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from privacy.records.ledgers import PrivacyRecords
from privacy.user_text import Text
from recordings.service import RecordingService
from session.access.invitation_links import InvitationLinks
from session.call.signalling import EndReason, ended
from session.media.relay import MediaRelay
from web.i18n import DEFAULT, say
from web.keys import CLOCK, LINKS, RECORDINGS, RECORDS, RELAY

PAGE_LANG = web.ResponseKey("page_lang", str)
"""The language of the page that opened a call socket (its ``lang`` query, else the cookie or Accept-Language):
what refusals sent to that participant are said in."""


async def end_socket(ws: web.WebSocketResponse, reason: EndReason) -> None:
    """The one way the server ends a participant's connection: an ``ended`` message with the reason, then the
    close. A socket already closed or breaking meanwhile is left as it is (the client resumes or shows why)."""
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_json(ended(reason))
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.close()


class SocketOutbox:
    """A participant's call socket, as the runtime reaches it: coded texts are said in the page's language."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    @property
    def closed(self) -> bool:
        return self.ws.closed

    @property
    def lang(self) -> str:
        lang: str = self.ws.get(PAGE_LANG, DEFAULT)
        return lang

    async def send(self, message: Mapping[str, Any]) -> None:
        if self.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_json(said(message, self.lang))

    async def end(self, reason: EndReason) -> None:
        await end_socket(self.ws, reason)


def said(message: Mapping[str, Any], lang: str) -> Mapping[str, Any]:
    """A message with its coded ``message`` said in the participant's language (and that language named); any
    other message as it is (no copy: views go out on every change)."""
    text = message.get("message")
    if not isinstance(text, Text):
        return message
    return {**message, "message": say(lang, text), "lang": lang}


class AppServices:
    """The app's services as the runtime's ports, read when used (they start after the runtime is created)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    @property
    def relay(self) -> MediaRelay:
        return self._app[RELAY]

    @property
    def records(self) -> PrivacyRecords:
        return self._app[RECORDS]

    @property
    def recordings(self) -> RecordingService | None:
        return self._app.get(RECORDINGS)

    @property
    def links(self) -> InvitationLinks:
        return self._app[LINKS]

    def now(self) -> datetime:
        return self._app[CLOCK]()
