"""Every staff route, for every demo role and for a stranger, answers what the permission table says.

The route → action map below must name every staff route the app has (a new route fails the first test until
it is given an action). A refusal by role is a 403 with the role message; anything else (200, 302, 400, 404)
means the role got past the check, which is what the table must allow.
"""

from __future__ import annotations

import re

import aiohttp
import pytest

from session.access.permissions import StaffAction, staff_may
from session.access.staff_roles import StaffRole
from tests.live_server import LiveServer, create_meeting, csrf_of, staff_client
from web.i18n import translate

pytestmark = pytest.mark.slow

ROUTES: dict[tuple[str, str], StaffAction | None] = {
    ("GET", "/staff"): None,  # everyone's landing page: its menu follows the table
    ("POST", "/staff/meetings"): StaffAction.CREATE_MEETING,
    ("POST", "/staff/meetings/{meeting_id}/links"): StaffAction.ISSUE_LINKS,
    ("POST", "/staff/meetings/{meeting_id}/bli-med"): StaffAction.JOIN_MEETING,
    ("POST", "/staff/invitations/{id}/{action}"): StaffAction.MANAGE_LINKS,
    ("GET", "/staff/access"): StaffAction.MANAGE_ACCESS,
    ("POST", "/staff/access/revoke"): StaffAction.MANAGE_ACCESS,
    ("POST", "/staff/access/requests/{id}"): StaffAction.MANAGE_ACCESS,
    ("GET", "/staff/audit"): StaffAction.READ_AUDIT,
    ("GET", "/staff/organisations"): StaffAction.MANAGE_ORGANISATIONS,
    ("POST", "/staff/organisations"): StaffAction.MANAGE_ORGANISATIONS,
    ("POST", "/staff/organisations/{id}/enabled"): StaffAction.MANAGE_ORGANISATIONS,
    ("GET", "/staff/meetings/{meeting_id}/reparasjon"): StaffAction.WRITE_REPAIR,
    ("POST", "/staff/meetings/{meeting_id}/reparasjon"): StaffAction.WRITE_REPAIR,
    ("GET", "/staff/meetings/{meeting_id}/sammendrag"): StaffAction.READ_SUMMARY,
    ("POST", "/staff/meetings/{meeting_id}/sammendrag"): StaffAction.WRITE_SUMMARY,
    ("GET", "/staff/meetings/{meeting_id}/sammendrag.html"): StaffAction.READ_SUMMARY,
    ("GET", "/staff/meetings/{meeting_id}/sammendrag.json"): StaffAction.READ_SUMMARY,
    ("GET", "/staff/planlegg"): StaffAction.PLAN_MEETING,
    ("POST", "/staff/planlegg"): StaffAction.PLAN_MEETING,
    ("GET", "/staff/meetings/{meeting_id}/plan"): StaffAction.PLAN_MEETING,
    ("POST", "/staff/meetings/{meeting_id}/plan"): StaffAction.PLAN_MEETING,
    ("POST", "/staff/meetings/{meeting_id}/invitasjon.ics"): StaffAction.PLAN_MEETING,
    ("GET", "/staff/meetings/{meeting_id}/avlys"): StaffAction.CANCEL_MEETING,
    ("POST", "/staff/meetings/{meeting_id}/avlys"): StaffAction.CANCEL_MEETING,
    ("GET", "/staff/meetings/{meeting_id}/avlysning.ics"): StaffAction.CANCEL_MEETING,
    ("GET", "/staff/recordings"): StaffAction.LIST_RECORDINGS,
    ("GET", "/staff/compliance"): StaffAction.READ_RECORDING_STATES,
    ("GET", "/staff/recordings/{id}"): StaffAction.LIST_RECORDINGS,
    ("GET", "/staff/recordings/{id}/media"): StaffAction.PLAY_RECORDING,
    ("GET", "/staff/recordings/{id}/certificate"): StaffAction.READ_CERTIFICATE,
    ("POST", "/staff/recordings/{id}/delete"): StaffAction.DELETE_RECORDING,
    ("GET", "/staff/recordings/{id}/delete"): StaffAction.DELETE_RECORDING,
    ("GET", "/staff/access/revoke"): StaffAction.MANAGE_ACCESS,
    ("POST", "/staff/recordings/{id}/confirm"): StaffAction.CONFIRM_DELETION,
    ("POST", "/staff/recordings/{id}/export"): StaffAction.EXPORT_RECORDING,
    ("POST", "/staff/custody/{id}/close"): StaffAction.EXPORT_RECORDING,
    ("GET", "/staff/dropin/{department}/{centre_id}"): StaffAction.TAKE_DROPIN,
    ("GET", "/staff/dropin/{department}/{centre_id}/ko.json"): StaffAction.TAKE_DROPIN,
    ("POST", "/staff/dropin/{department}/{centre_id}/neste"): StaffAction.TAKE_DROPIN,
    ("POST", "/staff/dropin/{department}/{centre_id}/avvik"): StaffAction.TAKE_DROPIN,
    ("GET", "/staff/brukerpass"): StaffAction.MANAGE_BRUKERPASS,
    ("POST", "/staff/brukerpass"): StaffAction.MANAGE_BRUKERPASS,
    ("GET", "/staff/brukerpass/{id}/trekk-tilbake"): StaffAction.MANAGE_BRUKERPASS,
    ("POST", "/staff/brukerpass/{id}/trekk-tilbake"): StaffAction.MANAGE_BRUKERPASS,
    ("POST", "/staff/brukerpass/foresporsel/{id}/avtal"): StaffAction.MANAGE_BRUKERPASS,
    ("POST", "/staff/brukerpass/foresporsel/{id}/lukk"): StaffAction.MANAGE_BRUKERPASS,
}
DEMO_ROLES: dict[int, frozenset[StaffRole]] = {
    1: frozenset({StaffRole.FORMIDLER}),
    2: frozenset({StaffRole.ACCESS_MANAGER}),
    3: frozenset({StaffRole.ADVISER}),
    4: frozenset({StaffRole.TECHNICIAN}),
    5: frozenset({StaffRole.COMPLIANCE_OFFICER}),
    6: frozenset({StaffRole.CENTRE_ADMIN}),
    7: frozenset({StaffRole.FORMIDLER}),
}


def _staff_routes(server: LiveServer) -> set[tuple[str, str]]:
    found = set()
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("formatter") or info.get("path") or ""
        if template.startswith("/staff") and route.method in ("GET", "POST"):
            found.add((route.method, re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", template)))
    return found


def test_every_staff_action_is_granted_to_someone() -> None:
    for action in StaffAction:
        assert any(staff_may(roles, action) for roles in DEMO_ROLES.values()), action


async def test_every_staff_route_for_every_role_answers_as_the_table_says(server: LiveServer) -> None:
    assert _staff_routes(server) == set(ROUTES), "a staff route without an entry in the permission walk"
    kari = await staff_client(server, 1)
    links = await create_meeting(kari, server, ["bruker"])
    assert links
    async with kari.get(f"{server.url}/staff") as resp:
        meeting_id = re.search(r"/staff/meetings/([0-9a-f]+)/", await resp.text())
    await kari.close()
    assert meeting_id
    values = {"meeting_id": meeting_id.group(1), "id": "1", "action": "reset", "department": "teknisk",
              "centre_id": "3"}  # fmt: skip
    refusal = translate("nb", "error.forbidden")
    mismatches = []
    for staff_id, roles in [(0, frozenset[StaffRole]()), *DEMO_ROLES.items()]:
        client = await staff_client(server, staff_id) if staff_id else aiohttp.ClientSession()
        try:
            csrf = ""
            if staff_id:
                async with client.get(f"{server.url}/staff") as resp:
                    csrf = csrf_of(await resp.text())
            for (method, template), action in sorted(ROUTES.items(), key=lambda kv: kv[0][0] == "POST"):
                url = server.url + re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
                data = {"csrf": csrf, "reason": "Kontroll", "role": "bruker"} if method == "POST" else None
                async with client.request(method, url, data=data, allow_redirects=False) as resp:
                    body = await resp.text()
                    if not staff_id:
                        ok = resp.status in (302, 303) and resp.headers.get("Location") == "/"
                    elif action is None or staff_may(roles, action):
                        ok = not (resp.status == 403 and refusal in body) and resp.status < 500
                    else:
                        ok = resp.status == 403 and refusal in body
                    if not ok:
                        mismatches.append((staff_id, method, template, resp.status))
        finally:
            await client.close()
    assert not mismatches, mismatches
