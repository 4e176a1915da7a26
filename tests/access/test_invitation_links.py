"""Citizen join links: signed and expiring, one device at a time, reset and revoked by the host, short codes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.ledgers import AuditLog
from session.access.attempt_limits import BackoffPolicy, MemoryAttemptLimiter
from session.access.errors import CodeInvalid, InvalidRequest, LinkInUseElsewhere, NotFound
from session.access.invitation_links import InvitationLinks
from session.access.link_tokens import LinkKeys, new_device_id, parse_link, sign_link, valid_device_id
from session.errors import LinkExpired, LinkInvalid, LinkRevoked
from session.meetings import create_meeting
from session.planning.invitation_sms import invitation_sms_text, normalise_mobile_number
from session.roles import Role
from tests.access.fakes import FakeSmsSender, FixedClock, World
from web.i18n import message_of, voice

KEYS = LinkKeys(b"0123456789abcdef-test-secret")


@pytest.fixture
def links(engine: AsyncEngine, audit: AuditLog, clock: FixedClock) -> InvitationLinks:
    limiter = MemoryAttemptLimiter(BackoffPolicy(free=2, first_delay=30))
    return InvitationLinks(engine, audit, clock, KEYS, limiter=limiter)


@pytest.fixture
async def meeting_a(engine: AsyncEngine, clock: FixedClock, world: World) -> str:
    async with engine.begin() as conn:
        meeting = await create_meeting(
            conn,
            organisation_id=world.unit_a,
            centre_id=None,
            topic="Seng",
            kind="bolig",
            created_by=world.formidler_a,
            now=clock.now(),
        )
    return meeting.id


async def _refusals(audit: AuditLog) -> list[str]:
    return [
        str(v.record.details.get("reason"))
        for v in await audit.entries(org_ids=None)
        if v.record.action == "invitation.refused"
    ]


async def test_a_link_is_bound_to_the_first_device_that_joins_until_the_host_resets_it(
    links: InvitationLinks, audit: AuditLog, world: World, meeting_a: str
) -> None:
    issued = await links.issue(
        actor_staff_id=world.formidler_a, meeting_id=meeting_a, role=Role.BRUKER, ttl=timedelta(hours=2)
    )
    tablet, phone = new_device_id(), new_device_id()
    assert valid_device_id(tablet) and not valid_device_id("short") and not valid_device_id(None)

    # Opening the page (a link scanner, or the person) binds nothing.
    assert (await links.check(issued.token, None)).role is Role.BRUKER
    assert (await links.check(issued.token, phone)).meeting_id == meeting_a
    invitation = await links.claim(issued.token, tablet)
    assert invitation.id == issued.invitation_id and not invitation.host
    assert (await links.claim(issued.token, tablet)).id == issued.invitation_id  # same device: fine

    for attempt in (links.check, links.claim):
        with pytest.raises(LinkInUseElsewhere) as elsewhere:
            await attempt(issued.token, phone)
        assert "annen enhet" in message_of(elsewhere.value, "nb")
    with pytest.raises(LinkInUseElsewhere):
        await links.check(issued.token, None)

    # Only a host who can see the meeting may reset; B's formidler gets "not found".
    with pytest.raises(NotFound):
        await links.reset_device(actor_staff_id=world.formidler_b, invitation_id=issued.invitation_id)
    with pytest.raises(LinkInUseElsewhere):
        await links.claim(issued.token, phone)
    await links.reset_device(actor_staff_id=world.formidler_a, invitation_id=issued.invitation_id)
    await links.claim(issued.token, phone)
    with pytest.raises(LinkInUseElsewhere):
        await links.check(issued.token, tablet)

    assert await _refusals(audit) == ["other_device"] * 5
    actions = [v.record.action for v in await audit.entries(org_ids=[world.unit_a])]
    assert actions[0] == "invitation.issue" and "invitation.device_reset" in actions
    refused_reset = [v for v in await audit.entries(org_ids=None) if v.record.action == "access.refused"]
    assert [v.record.details["operation"] for v in refused_reset] == ["invitation.device_reset"]


async def test_altered_foreign_and_garbage_links_are_refused_and_audited(
    links: InvitationLinks, audit: AuditLog, world: World, meeting_a: str
) -> None:
    issued = await links.issue(
        actor_staff_id=world.formidler_a, meeting_id=meeting_a, role=Role.PARORENDE, ttl=timedelta(hours=2)
    )
    device = new_device_id()
    meeting, role, expires, nonce, mac = issued.token.split(".")
    flipped = nonce[:10] + ("A" if nonce[10] != "A" else "B") + nonce[11:]
    as_user = f"{meeting}.bruker.{expires}.{nonce}.{mac}"  # try to become the user instead of a relative
    longer = f"{meeting}.{role}.{int(expires) + 86400}.{nonce}.{mac}"  # try to extend the expiry
    foreign, _ = sign_link(LinkKeys(b"another-server-secret-000"), meeting, Role.PARORENDE, int(expires))
    for token in (f"{meeting}.{role}.{expires}.{flipped}.{mac}", as_user, longer, foreign):
        with pytest.raises(LinkInvalid):
            await links.claim(token, device)
    for garbage in ("", "abc", issued.token + ".x", "x" * 300, issued.token.replace(".", ",")):
        with pytest.raises(LinkInvalid):
            await links.check(garbage, device)
    signed_but_unknown, _ = sign_link(KEYS, meeting, Role.PARORENDE, int(expires))
    with pytest.raises(LinkInvalid):
        await links.check(signed_but_unknown, device)
    assert await _refusals(audit) == ["altered"] * 4 + ["malformed"] * 5 + ["unknown"]
    altered = [v for v in await audit.entries(org_ids=None) if v.record.details.get("reason") == "altered"]
    assert all(v.record.meeting_id is None and v.record.org_ids == () for v in altered)  # unsigned claims not trusted
    # Nothing was bound by any of it: the real link still opens on a new device.
    await links.claim(issued.token, device)


async def test_revoked_and_expired_links_are_refused_also_on_the_device_that_had_them(
    links: InvitationLinks, audit: AuditLog, clock: FixedClock, world: World, meeting_a: str
) -> None:
    first = await links.issue(
        actor_staff_id=world.formidler_a, meeting_id=meeting_a, role=Role.BRUKER, ttl=timedelta(hours=1)
    )
    second = await links.issue(
        actor_staff_id=world.formidler_a, meeting_id=meeting_a, role=Role.BRUKER, ttl=timedelta(hours=3)
    )
    device = new_device_id()
    await links.claim(first.token, device)
    with pytest.raises(NotFound):
        await links.revoke(actor_staff_id=world.manager_b, invitation_id=first.invitation_id)
    await links.revoke(actor_staff_id=world.formidler_a, invitation_id=first.invitation_id)
    with pytest.raises(LinkRevoked):
        await links.claim(first.token, device)  # replay after revocation
    clock.advance(2 * 3600)
    with pytest.raises(LinkExpired):
        await links.check(first.token, device)
    await links.check(second.token, device)
    clock.advance(3600)
    with pytest.raises(LinkExpired):
        await links.check(second.token, device)
    assert await _refusals(audit) == ["revoked", "expired", "expired"]
    revoked = [v for v in await audit.entries(org_ids=[world.unit_a]) if v.record.action == "invitation.refused"]
    assert revoked[0].record.meeting_id == meeting_a


async def test_joining_needs_a_device_id(links: InvitationLinks, audit: AuditLog, world: World, meeting_a: str) -> None:
    issued = await links.issue(
        actor_staff_id=world.formidler_a, meeting_id=meeting_a, role=Role.BRUKER, ttl=timedelta(hours=1)
    )
    with pytest.raises(LinkInvalid):
        await links.claim(issued.token, None)
    with pytest.raises(LinkInvalid):
        await links.claim(issued.token, "not-a-device-id")
    assert await _refusals(audit) == ["no_device", "no_device"]


async def test_links_are_issued_only_for_meetings_the_host_can_see(
    links: InvitationLinks, audit: AuditLog, world: World, meeting_a: str
) -> None:
    with pytest.raises(NotFound):
        await links.issue(
            actor_staff_id=world.formidler_b, meeting_id=meeting_a, role=Role.BRUKER, ttl=timedelta(hours=1)
        )
    host = await links.issue(
        actor_staff_id=world.formidler_a, meeting_id=meeting_a, role=Role.FORMIDLER, ttl=timedelta(hours=1), host=True
    )
    invitation = await links.claim(host.token, new_device_id())
    assert invitation.host and invitation.staff_id == world.formidler_a
    claims = parse_link(KEYS, host.token)
    assert (claims.meeting_id, claims.role) == (meeting_a, Role.FORMIDLER)
    assert len(host.token) <= 120


async def test_a_short_code_leads_to_the_same_link_once(
    links: InvitationLinks, audit: AuditLog, clock: FixedClock, world: World, meeting_a: str
) -> None:
    issued = await links.issue(
        actor_staff_id=world.formidler_a,
        meeting_id=meeting_a,
        role=Role.PARORENDE,
        ttl=timedelta(hours=2),
        with_code=True,
    )
    assert issued.code is not None and len(issued.code) == 12 and issued.code.isdigit()
    assert issued.code_expires_at == issued.expires_at  # a code never outlives its link
    device = new_device_id()
    token, invitation = await links.redeem_code(f"{issued.code[:3]} {issued.code[3:]}", device, client_key="k1")
    assert token == issued.token and invitation.id == issued.invitation_id
    await links.check(token, device)  # the code bound this device
    with pytest.raises(LinkInUseElsewhere):
        await links.check(token, new_device_id())
    with pytest.raises(CodeInvalid):
        await links.redeem_code(issued.code, device, client_key="k1")  # single use


async def test_a_code_for_a_link_bound_elsewhere_is_not_used_up(
    links: InvitationLinks, world: World, meeting_a: str
) -> None:
    issued = await links.issue(
        actor_staff_id=world.formidler_a, meeting_id=meeting_a, role=Role.BRUKER, ttl=timedelta(hours=2), with_code=True
    )
    assert issued.code is not None
    owner = new_device_id()
    await links.claim(issued.token, owner)
    with pytest.raises(LinkInUseElsewhere):
        await links.redeem_code(issued.code, new_device_id(), client_key="k")
    token, _ = await links.redeem_code(issued.code, owner, client_key="k")
    assert token == issued.token


async def test_wrong_codes_are_limited_and_revocation_kills_the_code(
    links: InvitationLinks, audit: AuditLog, clock: FixedClock, world: World, meeting_a: str
) -> None:
    issued = await links.issue(
        actor_staff_id=world.formidler_a, meeting_id=meeting_a, role=Role.BRUKER, ttl=timedelta(hours=2), with_code=True
    )
    assert issued.code is not None
    assert len(issued.code) == 12
    wrong = f"{(int(issued.code) + 1) % 10**12:012d}"
    for bad in (wrong, "12345", "abcdef"):
        with pytest.raises(CodeInvalid):
            await links.redeem_code(bad, new_device_id(), client_key="guesser")
    with pytest.raises(CodeInvalid):  # the guesser now waits, and is told nothing more than «wrong»
        await links.redeem_code(issued.code, new_device_id(), client_key="guesser")
    assert (await _refusals(audit)).count("code_unknown") == 3  # the refused-while-waiting try did not even look
    clock.advance(60)
    await links.revoke(actor_staff_id=world.formidler_a, invitation_id=issued.invitation_id)
    with pytest.raises(CodeInvalid):
        await links.redeem_code(issued.code, new_device_id(), client_key="guesser")
    assert (await _refusals(audit)).count("code_unknown") == 4


async def test_the_sms_text_and_sending_keep_personal_data_out(
    links: InvitationLinks, audit: AuditLog, world: World, meeting_a: str
) -> None:
    issued = await links.issue(
        actor_staff_id=world.formidler_a, meeting_id=meeting_a, role=Role.BRUKER, ttl=timedelta(hours=2), with_code=True
    )
    assert issued.code is not None
    url = f"https://samhandling.example/j/{issued.token}"
    text = invitation_sms_text(
        link_url=url,
        expires_at=issued.expires_at,
        tz=ZoneInfo("Europe/Oslo"),
        code=issued.code,
        code_url="https://samhandling.example/kode",
        voice=voice("nb"),
    )
    assert url in text and f"{issued.code[:4]} {issued.code[4:8]} {issued.code[8:]}" in text
    assert "02.03.2026 kl. 12:00" in text  # 11:00 UTC is 12:00 in Oslo in March
    for lang, until in (
        ("nn", "Invitasjonen gjeld til 02.03.2026 kl. 12:00."),
        ("en", "valid until 02/03/2026 at 12:00"),
    ):
        said = invitation_sms_text(
            link_url=url, expires_at=issued.expires_at, tz=ZoneInfo("Europe/Oslo"), voice=voice(lang)
        )
        assert until in said and url in said
    assert "Seng" not in text  # the topic is never in an SMS

    sender = FakeSmsSender()
    await links.send_sms(
        actor_staff_id=world.formidler_a,
        invitation_id=issued.invitation_id,
        phone_number="+47 912 34 567",
        text=text,
        sender=sender,
    )
    assert sender.sent == [("+4791234567", text)]
    with pytest.raises(NotFound):
        await links.send_sms(
            actor_staff_id=world.formidler_b,
            invitation_id=issued.invitation_id,
            phone_number="91234567",
            text=text,
            sender=sender,
        )
    with pytest.raises(InvalidRequest):
        await links.send_sms(
            actor_staff_id=world.formidler_a,
            invitation_id=issued.invitation_id,
            phone_number="1234",
            text=text,
            sender=sender,
        )
    assert len(sender.sent) == 1
    payloads = str([v.record.to_payload() for v in await audit.entries(org_ids=None)])
    assert "91234567" not in payloads and issued.code not in payloads and issued.token not in payloads


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("91234567", "+4791234567"), ("0047 41 23 45 67", "+4741234567"), ("+47 912-34-567", "+4791234567")],
)
def test_mobile_numbers_are_normalised(raw: str, normal: str) -> None:
    assert normalise_mobile_number(raw) == normal


@pytest.mark.parametrize("raw", ["", "22334455", "+46 912 34 567", "9123456", "912345678"])
def test_non_mobile_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest):
        normalise_mobile_number(raw)


async def test_two_devices_opening_a_fresh_link_at_once_get_one_binding_and_a_clear_refusal(
    links: InvitationLinks, world: World, meeting_a: str
) -> None:
    issued = await links.issue(
        actor_staff_id=world.formidler_a, meeting_id=meeting_a, role=Role.BRUKER, ttl=timedelta(hours=2)
    )
    first, second = new_device_id(), new_device_id()
    results = await asyncio.gather(
        *(links.claim(issued.token, device) for device in (first, second, first, second)), return_exceptions=True
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert won and all(isinstance(r, LinkInUseElsewhere) for r in lost), results  # never an IntegrityError
    assert len(won) == 2  # the device that won the binding is let in both times
