"""Every connected client's picture of the meeting equals the server's, after any sequence of events.

A hypothesis state machine drives joins, leaves, reloads, dropped connections, consent and its withdrawal,
pause, admit, deny, roster edits, media toggles and recording through the real room and the real signalling
parser. Each simulated client knows only the ``state`` messages it received; after every step its latest view
must equal both what the room derives for it now and what this test's own, independent model expects, and its
``seq`` numbers must have no gap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from privacy.records.errors import PrivacyRecordError
from session.access.permissions import CallAction, CallStage, call_actor, call_may
from session.call.room import Effect, Room, Send, StartRecording, StopRecording
from session.call.room_events import room_event
from session.call.room_view import meeting_state, view_for
from session.call.roster import OFF_CAMERA_MAX
from session.call.signalling import RoomMessage, Sync, parse_client_message
from session.errors import SessionError
from session.roles import Role

PEOPLE = {  # name -> (role, invitation id, host)
    "host": (Role.FORMIDLER, 1, True),
    "user": (Role.BRUKER, 2, False),
    "relative": (Role.PARORENDE, 3, False),
    "adviser": (Role.RADGIVER, 4, False),
}
NAMES = sorted(PEOPLE)
SCOPES = st.frozensets(st.sampled_from(["video", "audio", "recording"]))


@dataclass
class Client:
    """What one browser knows: only the views it was sent."""

    pid: str
    seq: int = 0
    view: dict[str, Any] | None = None

    def receive(self, message: dict[str, Any]) -> None:
        if message["type"] != "state":
            return
        assert message["seq"] == self.seq + 1, "a view was skipped"
        self.seq = message["seq"]
        self.view = {k: v for k, v in message.items() if k not in ("type", "v", "seq")}


@dataclass
class Model:
    """The meeting as this test understands it, kept apart from the room's own bookkeeping."""

    stage: dict[str, str] = field(default_factory=dict)  # name -> preview / lobby / in_call
    paused: dict[str, bool] = field(default_factory=dict)
    consent: frozenset[str] = frozenset()
    confirmed: bool = False
    off_camera: int = 0
    recording: bool = False
    reconnecting: set[str] = field(default_factory=set)
    denied: set[str] = field(default_factory=set)


class MeetingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.room = Room("m1", slot_count=3)
        self.clients: dict[str, Client] = {}
        self.model = Model()
        self.counter = 0

    # -- plumbing -----------------------------------------------------------------------------------------

    def deliver(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                client = next((c for c in self.clients.values() if c.pid == effect.to), None)
                if client is not None:
                    client.receive(effect.message)
            elif isinstance(effect, StartRecording):  # the recorder started: what session.meeting.effects does next
                self.deliver(self.room.recording_started())
            elif isinstance(effect, StopRecording):
                self.deliver(self.room.recording_stopped())

    def send(self, name: str, message: dict[str, Any]) -> bool:
        """Through the real parser and dispatch; a refusal must leave the meeting exactly as it was."""
        parsed = parse_client_message(json.dumps(message))
        assert isinstance(parsed, RoomMessage)
        before = meeting_state(self.room)
        try:
            effects = room_event(self.room, self.clients[name].pid, parsed)
        except (SessionError, PrivacyRecordError):
            assert meeting_state(self.room) == before
            return False
        self.deliver(effects)
        return True

    def may(self, name: str, action: CallAction) -> bool:
        """What the permission table allows this person now (staff powers only for the logged-in host)."""
        role, _, host = PEOPLE[name]
        actor = call_actor(role, host=host, staff_id=1 if host else None)
        return call_may(actor, CallStage(self.model.stage[name]), action)

    def pid(self, name: str) -> str:
        return self.clients[name].pid

    def connected(self, name: str) -> bool:
        return name in self.clients

    # -- arriving and leaving -----------------------------------------------------------------------------

    @initialize(others=st.lists(st.sampled_from(NAMES), max_size=3))
    def start(self, others: list[str]) -> None:
        """Most meetings begin with the host in the call: start there, so steps are spent on what follows."""
        self.join("host")
        self.enter("host")
        for name in others:
            self.join(name)
            self.enter(name)
            if name != "host":
                self.host_decides(name, admit=True)

    @rule(name=st.sampled_from(NAMES))
    def join(self, name: str) -> None:
        if self.connected(name) or name in self.model.denied:
            return
        role, invitation, host = PEOPLE[name]
        self.counter += 1
        pid = f"p{self.counter}"
        self.clients[name] = Client(pid)
        self.deliver(self.room.connect(pid, role, invitation, host, staff_id=1 if host else None))
        self.model.stage[name] = "preview"
        self.model.paused[name] = False
        self.model.reconnecting.discard(name)

    @rule(name=st.sampled_from(NAMES))
    def enter(self, name: str) -> None:
        if not self.connected(name) or self.model.stage[name] != "preview":
            return
        assert self.send(name, {"type": "enter"})
        self.model.stage[name] = "in_call" if PEOPLE[name][2] else "lobby"

    @precondition(lambda self: self.model.stage.get("host") == "in_call")
    @rule(name=st.sampled_from(NAMES), admit=st.booleans())
    def host_decides(self, name: str, admit: bool) -> None:
        if not self.connected("host") or not self.connected(name):
            return
        ok = self.send("host", {"type": "admit" if admit else "deny", "participant": self.pid(name)})
        assert ok == (self.model.stage["host"] == "in_call" and self.model.stage[name] == "lobby")
        if ok and admit:
            self.model.stage[name] = "in_call"
        elif ok:
            self.gone(name)
            self.model.denied.add(name)
            self.end_if_empty()

    def gone(self, name: str) -> None:
        del self.clients[name]
        del self.model.stage[name]
        del self.model.paused[name]

    def end_if_empty(self) -> None:
        if not self.clients and self.room.recording:  # the last one left: session.meeting.runtime ends the recording
            self.deliver(self.room.recording_stopped())
            self.model.recording = False

    @rule(name=st.sampled_from(NAMES), goodbye=st.booleans())
    def leave(self, name: str, goodbye: bool) -> None:
        """``goodbye``: the leave button; otherwise the connection dropped (seen as reconnecting)."""
        if not self.connected(name):
            return
        was_in_call = self.model.stage[name] == "in_call"
        pid = self.pid(name)
        self.gone(name)
        self.deliver(self.room.leave(pid, reconnecting=not goodbye))
        if not goodbye and was_in_call:
            self.model.reconnecting.add(name)
        self.end_if_empty()

    @rule(name=st.sampled_from(NAMES))
    def reload(self, name: str) -> None:
        """A reload: the new page connects (and replaces the old one), then the old socket closes."""
        if not self.connected(name):
            return
        old = self.pid(name)
        stage = self.model.stage[name]
        del self.clients[name]
        role, invitation, host = PEOPLE[name]
        self.counter += 1
        self.clients[name] = Client(f"p{self.counter}")
        self.deliver(self.room.connect(self.pid(name), role, invitation, host, staff_id=1 if host else None))
        self.deliver(self.room.leave(old, reconnecting=True))
        self.model.stage[name] = "preview"
        self.model.paused[name] = False
        if stage != "preview":
            self.enter(name)

    @precondition(lambda self: any(s == "in_call" for s in self.model.stage.values()))
    @rule(name=st.sampled_from(NAMES))
    def drop_and_return(self, name: str) -> None:
        """The connection drops mid-call (the others see them reconnecting), then the same link comes back."""
        if self.model.stage.get(name) != "in_call":
            return
        self.leave(name, goodbye=False)
        self.every_client_sees_the_servers_truth()
        self.join(name)
        self.enter(name)

    @precondition(lambda self: self.model.reconnecting)
    @rule(name=st.sampled_from(NAMES))
    def forget(self, name: str) -> None:
        self.deliver(self.room.forget_reconnecting(PEOPLE[name][1]))
        self.model.reconnecting.discard(name)

    # -- in the call --------------------------------------------------------------------------------------

    @rule(scopes=SCOPES)
    def consent(self, scopes: frozenset[str]) -> None:
        """What session.meeting.consent_flow does once the ledger holds a consent or its withdrawal (kept per link)."""
        had_recording = "recording" in self.model.consent
        self.deliver(self.room.set_consent_scopes(PEOPLE["user"][1], scopes))
        self.model.consent = scopes
        if had_recording and "recording" not in scopes and self.room.recording:
            self.deliver(self.room.recording_stopped())
            self.model.recording = False

    @rule(actor=st.sampled_from(NAMES), who=st.sampled_from(NAMES), paused=st.booleans())
    def pause(self, actor: str, who: str, paused: bool) -> None:
        if not self.connected(actor) or not self.connected(who):
            return
        ok = self.send(actor, {"type": "pause", "participant": self.pid(who), "paused": paused})
        if actor == who:
            action = CallAction.PAUSE_SELF if paused else CallAction.RESUME_SELF
        else:
            action = CallAction.PAUSE_OTHER if paused else CallAction.RESUME_OTHER
        assert ok == self.may(actor, action)
        if ok:
            self.model.paused[who] = paused

    @rule(name=st.sampled_from(NAMES), audio=st.booleans(), video=st.booleans())
    def media(self, name: str, audio: bool, video: bool) -> None:
        if self.connected(name):
            assert self.send(name, {"type": "media", "audio": audio, "video": video})

    @rule(name=st.sampled_from(NAMES), add=st.booleans())
    def roster_edit(self, name: str, add: bool) -> None:
        if not self.connected(name):
            return
        in_call, had = self.model.stage[name] == "in_call", self.model.off_camera
        if add:
            ok = self.send(name, {"type": "roster-add", "role": "tolk", "first_name": "Ola"})
            assert ok == (self.may(name, CallAction.ROSTER_EDIT) and in_call and had < OFF_CAMERA_MAX)
            self.model.off_camera += ok
        else:
            entries = sorted(self.room.off_camera.entries)
            ok = self.send(name, {"type": "roster-remove", "id": entries[0] if entries else 1})
            assert ok == (self.may(name, CallAction.ROSTER_EDIT) and in_call and had > 0)
            self.model.off_camera -= ok

    @precondition(lambda self: not self.model.confirmed)
    @rule()
    def confirm(self) -> None:
        if self.connected("host"):
            ok = self.send("host", {"type": "roster-confirm"})
            assert ok == (self.model.stage["host"] == "in_call")
            self.model.confirmed |= ok

    @precondition(lambda self: "host" in self.model.stage)
    @rule(start=st.booleans())
    def record(self, start: bool) -> None:
        if not self.connected("host"):
            return
        message = {"type": "record-start", "reason": "Dokumentasjon", "deadline_days": 30}
        ok = self.send("host", message if start else {"type": "record-stop"})
        host_in = self.model.stage["host"] == "in_call"
        user_in = self.model.stage.get("user") == "in_call"
        if start:
            assert ok == (host_in and not self.model.recording and (not user_in or "recording" in self.model.consent))
        else:
            assert ok == (host_in and self.model.recording)
        if ok:
            self.model.recording = start

    # -- the property -------------------------------------------------------------------------------------

    @invariant()
    def every_client_sees_the_servers_truth(self) -> None:
        in_call = {self.pid(n) for n, s in self.model.stage.items() if s == "in_call"}
        lobby = {self.pid(n) for n, s in self.model.stage.items() if s == "lobby"}
        for name, client in self.clients.items():
            p = self.room.participants[client.pid]
            view = client.view
            assert view is not None, "no view on joining"
            assert view == view_for(self.room, p)
            me = view["me"]
            assert me["stage"] == self.model.stage[name]
            assert me["paused"] == self.model.paused[name]
            assert view["recording"] == self.model.recording
            assert view["hosts_present"] == (self.model.stage.get("host") == "in_call")
            if name == "user":
                assert me["consent"] == sorted(self.model.consent)
            if me["stage"] != "in_call":
                assert "roster" not in view
                continue
            roster = view["roster"]
            assert {q["id"] for q in roster["participants"]} == in_call
            assert roster["confirmed"] == self.model.confirmed
            assert len(roster["off_camera"]) == self.model.off_camera
            assert roster["reconnecting"] == sorted(PEOPLE[n][0].value for n in self.model.reconnecting)
            for q in roster["participants"]:
                who = next(n for n, c in self.clients.items() if c.pid == q["id"])
                assert q["paused"] == self.model.paused[who]
                assert q["consent"] == (sorted(self.model.consent) if who == "user" else None)
            if PEOPLE[name][2]:
                assert {q["id"] for q in view["lobby"]} == lobby
            else:
                assert "lobby" not in view


MeetingMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_every_client_sees_the_servers_truth = pytest.mark.timeout(600)(MeetingMachine.TestCase)


def test_a_client_that_missed_a_view_asks_again_and_gets_the_whole_view() -> None:
    room = Room("m1", slot_count=3)
    effects = room.connect("h", Role.FORMIDLER, 1, host=True, staff_id=1)
    first = [e.message for e in effects if isinstance(e, Send) and e.message["type"] == "state"]
    assert [m["seq"] for m in first] == [1]
    room.request_entry("h")  # suppose this view (seq 2) was lost on the way
    sync = parse_client_message('{"type": "sync"}')
    assert isinstance(sync, Sync)
    again = room_event(room, "h", sync)
    [view] = [e.message for e in again if isinstance(e, Send) and e.message["type"] == "state"]
    assert view["seq"] == 3 and view["me"]["stage"] == "in_call" and view["roster"]["participants"][0]["id"] == "h"
