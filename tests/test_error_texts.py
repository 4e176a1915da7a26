"""Refusals by code, said in the reader's language: every coded error of the domain renders in bokmål, nynorsk
and English, every key the code raises is in the catalogues, and a participant's call socket answers in the
language of their page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from privacy.records.consent import ConsentForm, ConsentGiven, Giver, Recorder, RecorderKind, Scope, parse_scopes
from privacy.records.errors import ConsentMissing, InvalidConsent, UnknownScope
from privacy.user_text import Text
from session import tables
from session.access import tables as access_tables
from session.access.meeting_parties import parties_for
from session.call.room import NotAllowed, Room
from session.call.roster import RosterInvalid, clean_first_name
from session.call.signalling import ProtocolError, parse_client_message
from session.errors import LinkExpired, LinkInvalid, MeetingInvalid
from session.roles import Role
from tests.live_server import LiveServer, links_for
from web.database import create_engine
from web.i18n import LANGUAGES, catalogue, message_of, say, translate

ROOT = Path(__file__).resolve().parent.parent
KEY_IN_SOURCE = re.compile(r"""Text\(\s*f?"([a-z_.{}]+)"|"((?:err|field)\.[a-z_.]+)\"""")


def _raised(action: Callable[[], object]) -> Exception:
    try:
        action()
    except Exception as exc:  # the error under test, whatever its class
        return exc
    raise AssertionError("nothing was refused")


def _room_refusal() -> Exception:
    room = Room("m1", 4)
    room.connect("p1", Role.BRUKER, 1, False)
    return _raised(lambda: room.lobby_message("p1", "hei"))


def _consent_refusal() -> Exception:
    now = datetime(2026, 11, 30, 9, tzinfo=UTC)
    return _raised(
        lambda: ConsentGiven(
            consent_id="c1",
            meeting_id="m1",
            subject_ref="link-1",
            scopes=frozenset({Scope.FACE_VISIBLE}),
            purpose="posisjonering",
            form=ConsentForm.ORAL,
            giver=Giver.USER,
            recorded_by=Recorder(RecorderKind.STAFF, "staff-1"),
            given_at=now,
            face_visible_until=now + timedelta(days=2),
        )
    )


CASES: dict[str, Callable[[], Exception]] = {
    "signalling": lambda: _raised(lambda: parse_client_message('{"type": "chat", "text": 7}')),
    "room": _room_refusal,
    "consent": _consent_refusal,
    "consent scopes": lambda: _raised(lambda: parse_scopes(["teleport"])),
    "roster": lambda: _raised(lambda: clean_first_name("R2-D2")),
    "links": LinkExpired,
}


@pytest.mark.parametrize("module", sorted(CASES))
def test_a_coded_error_of_each_module_renders_in_every_language(module: str) -> None:
    exc = CASES[module]()
    text = getattr(exc, "text", None)
    assert isinstance(text, Text), (module, type(exc).__name__, exc)
    said = {lang: message_of(exc, lang) for lang in LANGUAGES}
    for lang, sentence in said.items():
        assert sentence and text.key not in sentence and not re.search(r"\{[a-z_]+\}", sentence), (lang, sentence)
    assert len(set(said.values())) == 3 or module == "links", said  # three languages, three sentences


async def test_a_coded_error_of_meeting_parties_renders_in_every_language(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(tables.metadata.create_all)
            await conn.run_sync(access_tables.metadata.create_all)
            with pytest.raises(MeetingInvalid) as refused:
                await parties_for(conn, 404, None)  # an organisation that is not there
    finally:
        await engine.dispose()
    said = [message_of(refused.value, lang) for lang in LANGUAGES]
    assert said == [
        "Fant ikke organisasjonen din.",
        "Fann ikkje organisasjonen din.",
        "Your organisation was not found.",
    ]


def test_the_bokmal_wording_is_the_one_users_saw_before() -> None:
    """The catalogue took the sentences over word for word: bokmål pages and their tests read the same."""
    assert message_of(_raised(lambda: parse_client_message('{"type": "nope"}')), "nb") == "Ukjent meldingstype."
    assert message_of(LinkInvalid(), "nb") == "Lenken er ikke gyldig. Be den som inviterte deg om en ny lenke."
    assert message_of(ConsentMissing(), "nb") == "Det finnes ikke noe gyldig samtykke for dette. Be om samtykke først."
    chat = _raised(lambda: parse_client_message('{"type": "chat", "text": "' + "a" * 5000 + '"}'))
    assert isinstance(chat, ProtocolError) and message_of(chat, "nb").startswith("Feltet «text» kan ha høyst ")
    assert message_of(chat, "nn").startswith("Feltet «text» kan ha høgst ")
    assert (
        say("en", Text("err.consent.limit_too_long", hours=24))
        == "The face exception can last at most 24 hours at a time."
    )


def test_a_placeholder_left_unfilled_is_no_server_error() -> None:
    assert say("nn", Text("err.room.chat_length")) == "Ei chatmelding må ha 1–{max} teikn."
    assert say("en", Text("err.room.chat_length", max=1000)) == "A chat message must have 1–1000 characters."


def test_a_refusal_not_yet_in_the_catalogue_keeps_its_own_message() -> None:
    assert message_of(MeetingInvalid("Enheten din er ikke åpnet for Samhandling ennå."), "en").startswith("Enheten")
    assert isinstance(UnknownScope().text, Text) and isinstance(
        InvalidConsent(Text("err.consent.malformed")).text, Text
    )
    assert isinstance(RosterInvalid(Text("err.roster.full")), RosterInvalid) and NotAllowed().text is None


def test_every_error_key_in_the_code_is_in_every_catalogue() -> None:
    used: set[str] = set()
    for package in ("session", "privacy", "recordings", "web"):
        for path in (ROOT / package).rglob("*.py"):
            for literal, quoted in KEY_IN_SOURCE.findall(path.read_text(encoding="utf-8")):
                key = literal or quoted
                if "{" in key:  # a key completed at run time: every ending the code uses is listed below
                    continue
                used.add(key)
    used |= {f"err.consent.no_timezone.{what}" for what in ("given", "until", "withdrawn")}
    form_fields = (
        *("kind", "starts_at", "ends_at", "topic", "filming", "camera_operator", "participants", "drawings"),
        *("serial_numbers", "serial_number", "fault_description", "decision", "next_step", "outcome", "next_contact"),
    )
    used |= {f"field.{name}" for name in form_fields}  # the labels of planning, repair and summary fields
    assert len(used) > 60, sorted(used)
    for lang in LANGUAGES:
        missing = used - set(catalogue(lang))
        assert not missing, (lang, sorted(missing))


async def _refusal_on_socket(
    device: aiohttp.ClientSession, link: str, query: str, headers: dict[str, str]
) -> dict[str, object]:
    ws_url = link.replace("http", "ws", 1) + "/ws" + query
    async with device.ws_connect(ws_url, headers=headers) as ws:
        await ws.send_json({"type": "teleport"})
        while True:
            msg = await ws.receive_json(timeout=10)
            if msg.get("type") == "error":
                return dict(msg)


async def test_the_call_socket_answers_in_the_language_of_the_page(server: LiveServer) -> None:
    link = (await links_for(server, ["bruker"]))["bruker"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as device:
        async with device.get(link) as page:  # as a browser: the page sets the device cookie
            assert page.status == 200
        nynorsk = await _refusal_on_socket(device, link, "?lang=nn", {"Accept-Language": "en"})
        assert nynorsk["code"] == "unknown_type" and nynorsk["lang"] == "nn"
        assert nynorsk["message"] == translate("nn", "err.proto.unknown_type") == "Ukjend meldingstype."
        english = await _refusal_on_socket(device, link, "", {"Accept-Language": "en-GB"})
        assert english["lang"] == "en" and english["message"] == "Unknown message type."
        bokmal = await _refusal_on_socket(device, link, "?lang=xx", {})
        assert bokmal["lang"] == "nb" and bokmal["message"] == "Ukjent meldingstype."
