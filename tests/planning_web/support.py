"""Driving the planning pages over real HTTP: the plan form, the invitations page it answers with, downloads."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp

from tests.live_server import HasUrl, csrf_of

MONDAY_10 = datetime(2025, 11, 24, 9, 0, tzinfo=UTC)
"""Monday 24 November 2025, 10.00 in Oslo (CET): the drop-in is open, a plan for tomorrow is in the future."""
DEMO_TECHNICIAN = 4
CENTRE = 3


def plan_fields(**changes: str | list[str]) -> dict[str, str | list[str]]:
    fields: dict[str, str | list[str]] = {
        "kind": "bolig",
        "starts_at": "2025-11-25T10:00",
        "ends_at": "2025-11-25T11:00",
        "topic": "Tilgjengelighet på bad",
        "filming": "Terskelen og dusjsonen, ikke brukeren.",
        "camera_operator": "formidler",
        "participants": ["formidler", "bruker", "radgiver", "husbanken"],
        "drawings": "Plantegning bad",
        "serial_numbers": "SN-88123",
    }
    fields.update(changes)
    return fields


def form_data(csrf: str, fields: dict[str, str | list[str]]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("csrf", csrf)
    for key, value in fields.items():
        for item in [value] if isinstance(value, str) else value:
            data.add_field(key, item)
    return data


@dataclass
class Invitations:
    """What the invitations page showed: room code and PIN, and per participant the link token and its text."""

    meeting_id: str
    code: str
    pin: str
    tokens: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    page: str = ""


def read_invitations(page: str) -> Invitations:
    meeting = re.search(r'action="/staff/meetings/([0-9a-f]+)/invitasjon\.ics"', page)
    code = re.search(r'name="code" value="(\d{8})"', page)
    pin = re.search(r'name="pin" value="(\d{6})"', page)
    assert meeting and code and pin, page[:2000]
    found = Invitations(meeting.group(1), code.group(1), pin.group(1), page=page)
    for section in re.findall(r'<section [^>]*data-participant="([^"]+)">(.*?)</section>', page, re.DOTALL):
        name, body = section
        token = re.search(r'name="token" value="([^"]+)"', body)
        text = re.search(r"<textarea[^>]*>(.*?)</textarea>", body, re.DOTALL)
        assert token and text
        found.tokens[name] = html.unescape(token.group(1))
        found.texts[name] = html.unescape(text.group(1))
    return found


async def csrf(client: aiohttp.ClientSession, server: HasUrl, path: str = "/staff/planlegg") -> str:
    async with client.get(f"{server.url}{path}") as resp:
        assert resp.status == 200, resp.status
        return csrf_of(await resp.text())


async def post_plan(
    client: aiohttp.ClientSession, server: HasUrl, fields: dict[str, str | list[str]], path: str = "/staff/planlegg"
) -> tuple[int, str]:
    token = await csrf(client, server)
    async with client.post(f"{server.url}{path}", data=form_data(token, fields)) as resp:
        return resp.status, await resp.text()


async def plan_meeting(client: aiohttp.ClientSession, server: HasUrl, **changes: str | list[str]) -> Invitations:
    status, page = await post_plan(client, server, plan_fields(**changes))
    assert status == 200, page
    return read_invitations(page)


async def download_ics(
    client: aiohttp.ClientSession, server: HasUrl, invitations: Invitations, participant: str
) -> tuple[str, str]:
    """The .ics of one participant's invitation: (Content-Type, body)."""
    token = await csrf(client, server)
    data = {
        "csrf": token,
        "token": invitations.tokens[participant],
        "code": invitations.code,
        "pin": invitations.pin,
    }
    url = f"{server.url}/staff/meetings/{invitations.meeting_id}/invitasjon.ics"
    async with client.post(url, data=data) as resp:
        assert resp.status == 200, await resp.text()
        return resp.headers["Content-Type"], await resp.text()
