"""The text the service prepares for an SMS invitation, and the seam where an SMS gateway plugs in.

The text names no person, no case and no topic (a phone's lock screen shows it to anyone nearby): only that
there is a video meeting, the link, the optional short code and when the link stops working. The phone number
is passed straight to the sender and never stored or logged.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Protocol

from session.access_errors import InvalidRequest

_MOBILE = re.compile(r"(?:\+47|0047)?([49][0-9]{7})")


class SmsSender(Protocol):
    """An SMS gateway (e.g. a municipality's or NAV's own). Raise on failure; never log the number or text."""

    async def send(self, phone_number: str, text: str) -> None: ...


def normalise_mobile_number(value: str) -> str:
    """A Norwegian mobile number as ``+47XXXXXXXX``; InvalidRequest (without echoing it) otherwise."""
    compact = re.sub(r"[\s\-().]", "", value)
    match = _MOBILE.fullmatch(compact)
    if match is None:
        raise InvalidRequest("Mobilnummeret er ikke gyldig. Skriv et norsk mobilnummer med 8 sifre.")
    return f"+47{match.group(1)}"


def spoken_code(code: str) -> str:
    """The code as read aloud or printed: groups of four digits, like the room code."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def invitation_sms_text(
    *, link_url: str, expires_at: datetime, tz: tzinfo, code: str | None = None, code_url: str | None = None
) -> str:
    """The invitation SMS in bokmål. ``code_url`` is where the short code is typed (e.g. ``https://…/kode``)."""
    local = expires_at.astimezone(tz)
    lines = [
        "Du er invitert til et videomøte om hjelpemidler.",
        f"Åpne lenken på den enheten du skal bruke i møtet: {link_url}",
        "Lenken virker på én enhet om gangen.",
    ]
    if code is not None and code_url is not None:
        lines.append(f"Du kan også gå til {code_url} og skrive koden {spoken_code(code)}.")
    lines.append(f"Invitasjonen gjelder til {local:%d.%m.%Y} kl. {local:%H:%M}.")
    lines.append("Du kan ikke svare på denne meldingen.")
    return "\n".join(lines)
