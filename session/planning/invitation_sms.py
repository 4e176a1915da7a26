"""The text the service prepares for an SMS invitation, and the seam where an SMS gateway plugs in.

The text names no person, no case and no topic (a phone's lock screen shows it to anyone nearby): only that
there is a video meeting, the link, the optional short code and when the link stops working. The phone number
is passed straight to the sender and never stored or logged.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Protocol

from privacy.user_text import Text, Voice
from session.access.errors import InvalidRequest
from session.planning.nb_format import format_numeric_date

_MOBILE = re.compile(r"(?:\+47|0047)?([49][0-9]{7})")


class SmsSender(Protocol):
    """An SMS gateway (e.g. a municipality's or NAV's own). Raise on failure; never log the number or text."""

    async def send(self, phone_number: str, text: str) -> None: ...


def normalise_mobile_number(value: str) -> str:
    """A Norwegian mobile number as ``+47XXXXXXXX``; InvalidRequest (without echoing it) otherwise."""
    compact = re.sub(r"[\s\-().]", "", value)
    match = _MOBILE.fullmatch(compact)
    if match is None:
        raise InvalidRequest(Text("err.sms.number"))
    return f"+47{match.group(1)}"


def spoken_code(code: str) -> str:
    """The code as read aloud or printed: groups of four digits, like the room code."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def invitation_sms_text(
    *,
    link_url: str,
    expires_at: datetime,
    tz: tzinfo,
    voice: Voice,
    code: str | None = None,
    code_url: str | None = None,
) -> str:
    """The invitation SMS in ``voice``'s language. ``code_url`` is where the short code is typed (e.g.
    ``https://…/kode``); the expiry is written in ``tz`` (Europe/Oslo) as that language writes dates."""
    local = expires_at.astimezone(tz)
    lines = [voice("sms.invited"), voice("sms.open", url=link_url), voice("sms.one_device")]
    if code is not None and code_url is not None:
        lines.append(voice("sms.code", url=code_url, code=spoken_code(code)))
    date = format_numeric_date(local.date(), voice.lang)
    lines.append(voice("sms.valid_until", date=date, time=f"{local:%H:%M}"))
    lines.append(voice("sms.no_reply"))
    return "\n".join(lines)
