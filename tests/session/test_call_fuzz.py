"""No input ends a call: over a thousand malformed, oversized, out-of-order and wrong-role messages on the live
sockets of a running meeting (host, user, a guest in the lobby) are each answered with one inline error; no
socket closes, nothing is logged above INFO, the meeting's state does not move, and no refused text is kept."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest

from session.call.room_view import meeting_state
from tests.aiortc_client import CallClient, host_client
from tests.live_server import LiveServer, create_meeting, staff_client
from web.keys import LIVE, METRICS

pytestmark = pytest.mark.timeout(240)

CANARY = "kanarifugl7731"
IDENTITY_NUMBER = "01019912368"  # a valid fødselsnummer (the one from the issue), planted in free text
REFUSED_TEXT = f"{CANARY} styringssystem {IDENTITY_NUMBER}"

BAD_TEXT: list[Any] = [None, 123, -1, True, [], {}, "x" * 5000, "abc\u0000def", "\ud800", "  "]
BAD_INT: list[Any] = [None, "1", 1.5, True, -5, 0, 10**6, [], {}]
BAD_BOOL: list[Any] = [None, "true", 1, 0, [], {}]
BAD_SCOPES: list[Any] = [None, "video", [], [1], ["video"] * 5, [["video"]], {"video": True}]

# Each type with a well-formed body and the kind of each field, so one field at a time can be spoiled.
TEMPLATES: dict[str, tuple[dict[str, Any], dict[str, list[Any]]]] = {
    "media": ({"audio": True, "video": True}, {"audio": BAD_BOOL, "video": BAD_BOOL}),
    "ping": ({"t": 1}, {"t": ["x", True, [], {}]}),
    "admit": ({"participant": "p"}, {"participant": BAD_TEXT}),
    "deny": ({"participant": "p"}, {"participant": BAD_TEXT}),
    "lobby-message": ({"text": "Vi starter snart"}, {"text": BAD_TEXT}),
    "roster-add": ({"role": "tolk", "first_name": "Ola"}, {"role": BAD_TEXT, "first_name": BAD_TEXT[:-1]}),
    "roster-remove": ({"id": 1}, {"id": BAD_INT}),
    "pause": ({"participant": "p", "paused": True}, {"participant": BAD_TEXT, "paused": BAD_BOOL}),
    "chat": ({"text": "hei"}, {"text": BAD_TEXT}),
    "consent": (
        {"participant": "p", "giver": "user", "form": "oral", "scopes": ["video"], "purpose": "Posisjonering"},
        {
            "participant": BAD_TEXT,
            "giver": BAD_TEXT,
            "form": BAD_TEXT,
            "scopes": BAD_SCOPES,
            "purpose": BAD_TEXT,
            "face_visible_minutes": ["5", 0, 241, True, []],
        },
    ),
    "consent-withdraw": ({"participant": "p", "consent_id": "c1"}, {"participant": BAD_TEXT, "consent_id": BAD_TEXT}),
    "record-start": (
        {"reason": "Dokumentasjon", "deadline_days": 30},
        {"reason": BAD_TEXT, "deadline_days": ["1", 0, 99_999, True, []]},
    ),
    "offer": ({"sdp": "v=0\r\n"}, {"sdp": [None, 5, "hello", "x" * 70_000]}),
}

OPTIONAL = {("ping", "t"), ("roster-add", "first_name"), ("record-start", "deadline_days")}

MALFORMED = [
    "{oops",
    "",
    "null",
    "[1, 2]",
    '"text"',
    "42",
    '{"type": 5}',
    '{"type": "dance"}',
    '{"no": "type"}',
    '{"type": "chat", "text": NaN}',
    '{"type": "ping", "t": Infinity}',
    '{"type": "ping", "t": 1e400}',
    '{"type": "ping", "t": ' + "9" * 5000 + "}",
    '{"type": "roster-remove", "id": ' + "1" * 30 + "}",
    '{"type": "ping", "t": "' + "[" * 10 + '"}',  # brackets in a string are not nesting
    '{"type": "chat", "x": ' + "[" * 3000 + "]" * 3000 + "}",
    '{"type": "chat", "x": ' + "{" * 40 + "}" * 40 + "}",
    '{"type": "chat", "text": "\\ud800"}',
    '{"type": "chat", "text": "' + "y" * 70_000 + '"}',
    "\u0000",
]


def spoiled(rng: random.Random, pids: dict[str, str]) -> dict[str, Any]:
    """A message of a random type with one field made wrong (or missing)."""
    kind = rng.choice(sorted(TEMPLATES))
    body, fields = TEMPLATES[kind]
    msg = {"type": kind, **body}
    for key in ("participant",):
        if key in msg:
            msg[key] = rng.choice(sorted(pids.values()))
    key = rng.choice(sorted(fields))
    if rng.random() < 0.1 and key in body and (kind, key) not in OPTIONAL:
        del msg[key]
    else:
        msg[key] = rng.choice(fields[key])
    return msg


def wrong_role_or_order(rng: random.Random, sender: str, pids: dict[str, str]) -> dict[str, Any]:
    """Well-formed messages that the sender may not send now: not their role, not the meeting's stage."""
    user, guest, host = pids["user"], pids["guest"], pids["host"]
    by_sender: dict[str, list[dict[str, Any]]] = {
        "host": [
            {"type": "admit", "participant": "deadbeef"},
            {"type": "admit", "participant": user},  # already in the call
            {"type": "deny", "participant": user},
            {"type": "record-stop"},  # nothing is being recorded
            {"type": "record-start", "reason": "Dokumentasjon", "deadline_days": 30},  # no consent to recording
            {"type": "roster-remove", "id": 9999},
            {"type": "consent-withdraw", "participant": user, "consent_id": "never-given"},
            {"type": "consent", "participant": host, "giver": "user", "form": "oral", "scopes": ["video"]}
            | {"purpose": "Posisjonering"},  # consent is about the user
            {"type": "pause", "participant": "deadbeef", "paused": True},
            {"type": "consent", "participant": user, "giver": "user", "form": "oral", "scopes": ["teleport"]}
            | {"purpose": "Posisjonering"},
            {"type": "consent", "participant": user, "giver": "user", "form": "oral", "scopes": ["face_visible"]}
            | {"purpose": "Posisjonering"},  # no time limit
        ],
        "user": [
            {"type": "admit", "participant": guest},
            {"type": "deny", "participant": guest},
            {"type": "lobby-message", "text": "Kom inn"},
            {"type": "roster-confirm"},
            {"type": "record-start", "reason": "Dokumentasjon", "deadline_days": 30},
            {"type": "record-stop"},
            {"type": "pause", "participant": host, "paused": True},
            {"type": "consent", "participant": user, "giver": "user", "form": "oral", "scopes": ["video"]}
            | {"purpose": "Posisjonering"},  # oral consent is recorded by staff
            {"type": "consent-withdraw", "participant": host, "consent_id": "c1"},
        ],
        "guest": [
            {"type": "chat", "text": "hei"},  # still in the lobby
            {"type": "roster-add", "role": "tolk", "first_name": "Ola"},
            {"type": "roster-remove", "id": 1},
            {"type": "admit", "participant": guest},
            {"type": "pause", "participant": user, "paused": True},
            {"type": "roster-confirm"},
            {"type": "record-stop"},
            {"type": "lobby-message", "text": "hallo"},
            {"type": "consent-withdraw", "participant": user, "consent_id": "c1"},
        ],
    }
    return rng.choice(by_sender[sender])


def refused_text(rng: random.Random, sender: str, pids: dict[str, str]) -> dict[str, Any]:
    """Free text carrying an identity number (and a canary) in every in-call form."""
    user = pids["user"]
    consent: dict[str, Any] = {"type": "consent", "participant": user, "giver": "user", "scopes": ["video", "audio"]}
    forms: dict[str, list[dict[str, Any]]] = {
        "host": [
            consent | {"form": "oral", "purpose": REFUSED_TEXT},
            {"type": "chat", "text": REFUSED_TEXT},
            {"type": "lobby-message", "text": REFUSED_TEXT},
            {"type": "roster-add", "role": "tolk", "first_name": REFUSED_TEXT},
            {"type": "record-start", "reason": REFUSED_TEXT, "deadline_days": 30},
        ],
        "user": [
            consent | {"form": "written", "purpose": REFUSED_TEXT},
            {"type": "chat", "text": REFUSED_TEXT},
            {"type": "roster-add", "role": "parorende", "first_name": IDENTITY_NUMBER},
        ],
        "guest": [consent | {"form": "written", "purpose": REFUSED_TEXT}],
    }
    return rng.choice(forms[sender])


def messages(rng: random.Random, sender: str, pids: dict[str, str], count: int) -> Iterator[str]:
    for _ in range(count):
        pick = rng.random()
        if pick < 0.2:
            yield rng.choice(MALFORMED)
        elif pick < 0.55:
            yield json.dumps(spoiled(rng, pids))
        elif pick < 0.8:
            yield json.dumps(wrong_role_or_order(rng, sender, pids))
        else:
            yield json.dumps(refused_text(rng, sender, pids))


def refusals(server: LiveServer) -> float:
    return sum(
        sample.value
        for metric in server.app[METRICS].ws_errors.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def test_a_thousand_bad_messages_end_nothing(server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    staff = await staff_client(server)
    links = await create_meeting(staff, server, ["bruker", "parorende"])
    await staff.close()
    host = await host_client(server.url, links["host"], None)
    user = CallClient(links["bruker"], None)
    guest = CallClient(links["parorende"], None)
    clients = {"host": host, "user": user, "guest": guest}
    try:
        for client in clients.values():
            await client.open_signalling()
        await host.send({"type": "enter"})
        await host.wait_for("entered")
        await user.enter(host=host)
        await host.confirm_roster()
        await guest.send({"type": "enter"})
        await guest.wait_for("lobby")
        pids = {name: c.pid for name, c in clients.items()}
        room = server.app[LIVE].meetings[next(iter(server.app[LIVE].meetings))].room
        before = meeting_state(room)
        counted = refusals(server)

        rng = random.Random(12)  # seeded: a failure can be replayed
        sent = 0
        for round_no in range(24):
            name = ("host", "user", "guest")[round_no % 3]
            client = clients[name]
            marks = {n: len(c.messages) for n, c in clients.items()}
            batch = list(messages(rng, name, pids, 50))
            await asyncio.sleep(1.0)  # within the per-socket message budget (20 a second, bursts of 60)
            for raw in batch:
                await client.send(raw)
            # A barrier answered in order after the batch (a ping would not do: pings are answered at once).
            await client.send({"type": "ice-refresh"})
            await client.wait_for("ice", after=marks[name], timeout=60)
            answers = client.messages[marks[name] :]
            kinds = [m["type"] for m in answers]
            assert kinds == ["error"] * len(batch) + ["ice"], (name, [m.get("code") for m in answers])
            assert not any(m["code"] == "internal" for m in answers[:-1])
            for other, c in clients.items():
                if other != name:
                    assert c.messages[marks[other] :] == [], (other, c.messages[marks[other] :])
            assert meeting_state(room) == before
            sent += len(batch)

        assert sent >= 1000
        assert refusals(server) - counted >= sent
        for client in clients.values():
            assert client.ws is not None and not client.ws.closed
            assert not [m for m in client.messages if m["type"] == "ended"]
    finally:
        for client in clients.values():
            await client.close()

    records = [r for r in caplog.records if r.name.split(".")[0] in {"web", "session", "privacy", "aiohttp"}]
    assert not [r for r in records if r.levelno >= logging.ERROR], [r.getMessage() for r in records]
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in records)
    assert CANARY not in text and IDENTITY_NUMBER not in text
    for path in server.settings.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert CANARY.encode() not in data and IDENTITY_NUMBER.encode() not in data, path
