"""The room state machine: preview, lobby, who is in the call, roster, pause, chat, and what each one may send.

Pure: each event returns the effects to carry out (messages to send, relay slots to wire, media gates to set,
audit records to append, links to revoke). The WebSocket handler and the media relay carry them out; this
module is tested without a network. After every event the gates of every participant are recomputed from the
state, so no event can forget to close one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Concatenate, ParamSpec

from privacy.records.validators import refuse_identity_numbers
from privacy.user_text import Text
from session.access.permissions import CallAction, CallActor, CallStage, call_actor, call_may
from session.call.room_view import meeting_state, state_message, view_for
from session.call.roster import OffCameraList
from session.call.signalling import EndReason
from session.errors import MeetingFull, SessionError
from session.roles import Role
from session.subject_refs import link_ref

CHAT_MAX = 1000
LOBBY_MESSAGE_MAX = 280


class NotAllowed(SessionError):
    code = "not_allowed"


_HOST_ONLY = "err.room.host_only"
_REFUSALS: dict[CallAction, str] = {
    CallAction.ENTER: "err.room.not_in_meeting",
    CallAction.ADMIT: _HOST_ONLY,
    CallAction.DENY: _HOST_ONLY,
    CallAction.LOBBY_MESSAGE: _HOST_ONLY,
    CallAction.ROSTER_CONFIRM: _HOST_ONLY,
    CallAction.RECORD_START: "err.room.record_host_only",
    CallAction.RECORD_STOP: _HOST_ONLY,
    CallAction.ROSTER_EDIT: "err.room.roster_staff_only",
    CallAction.CHAT: "err.room.chat_in_meeting_only",
    CallAction.PAUSE_OTHER: "err.room.pause_who",
    CallAction.RESUME_OTHER: "err.room.resume_who",
}
"""The catalogue key of each action's refusal."""


class Stage(StrEnum):
    PREVIEW = "preview"
    LOBBY = "lobby"
    IN_CALL = "in_call"


class VideoGate(StrEnum):
    """What leaves a participant's PrivacyTrack. Only OPEN and FACE_VISIBLE let camera content through."""

    OPEN = "open"
    """Anonymized camera picture."""
    FACE_VISIBLE = "face_visible"
    """Camera picture without face anonymization: an exception with its own consent and time limit (never
    without an end: :class:`SetGates` carries it, and the PrivacyTrack anonymizes again from then on)."""
    PAUSE = "pause"
    ROSTER = "roster"
    """Waiting for the host to confirm who is present."""
    CONSENT = "consent"
    """The user has not (or no longer) consented to video."""


@dataclass(frozen=True, slots=True)
class Send:
    to: str
    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Attach:
    """Show ``source``'s processed video and audio in ``viewer``'s receive slot ``slot``."""

    viewer: str
    slot: int
    source: str


@dataclass(frozen=True, slots=True)
class Detach:
    viewer: str
    slot: int


@dataclass(frozen=True, slots=True)
class SetGates:
    participant: str
    video: VideoGate
    audio: bool
    until: datetime | None = None
    """When a FACE_VISIBLE gate ends by itself: enforced on every frame, whether or not a timer tells the room."""


@dataclass(frozen=True, slots=True)
class SetAudioOnly:
    """The participant chose «Bare lyd»: the relay sends them no video (their browser stops sending its own)."""

    participant: str
    on: bool


@dataclass(frozen=True, slots=True)
class Audit:
    """A record for the signed audit log: roles and ids only, never chat or names."""

    action: str
    actor_role: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StartRecording:
    """The host asks to record; the I/O layer starts it and then calls :meth:`Room.recording_started`."""

    host: str
    reason: str
    deadline_days: int | None
    user_refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StopRecording:
    host: str | None


@dataclass(frozen=True, slots=True)
class Record:
    """Start or stop recording one participant's processed media (pause and consent take effect at once)."""

    participant: str
    on: bool


@dataclass(frozen=True, slots=True)
class Revoke:
    """The host turned someone away: their link is withdrawn in the host's name (audited there)."""

    invitation_id: int
    by_staff_id: int


@dataclass(frozen=True, slots=True)
class Close:
    participant: str
    reason: EndReason


Effect = (
    Send | Attach | Detach | SetGates | SetAudioOnly | Audit | Revoke | Close | StartRecording | StopRecording | Record
)


@dataclass(slots=True)
class Participant:
    id: str
    role: Role
    invitation_id: int
    host: bool
    staff_id: int | None = None
    """Set when a logged-in staff member joined through their own link; citizens have none."""
    check_only: bool = False
    """A pre-call check: sees only their own processed picture, is never shown to anyone, never enters."""
    stage: Stage = Stage.PREVIEW
    audio: bool = True
    video: bool = True
    paused: bool = False
    audio_only: bool = False
    """Chosen by the participant («Bare lyd»): no video to or from them, audio goes on."""
    weak_link: bool = False
    """Their link cannot carry video now (the relay measured it): the same as audio_only until it recovers."""
    media_reconnecting: bool = False
    """Their media connection broke and a new one is being set up: the others see «… kobler til igjen»."""
    slots: dict[int, str] = field(default_factory=dict)
    """slot number -> the participant shown in it."""
    gates: tuple[VideoGate, bool] | None = None
    gate_until: datetime | None = None
    """The end of the face-visible gate last set (None for every other gate)."""
    recorded: bool = False
    view_seq: int = 0
    """How many views (``state`` messages) this participant has been sent."""
    last_view: dict[str, Any] | None = None

    @property
    def in_call(self) -> bool:
        return self.stage is Stage.IN_CALL

    @property
    def actor(self) -> CallActor:
        return call_actor(self.role, host=self.host, staff_id=self.staff_id)

    @property
    def call_stage(self) -> CallStage:
        return CallStage.CHECK if self.check_only else CallStage(self.stage.value)

    def may(self, action: CallAction) -> bool:
        return call_may(self.actor, self.call_stage, action)

    @property
    def in_lobby(self) -> bool:
        return self.stage is Stage.LOBBY

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role.value,
            "host": self.host,
            "audio": self.audio,
            "video": self.video,
            "paused": self.paused,
            "audio_only": self.audio_only,
            "weak_link": self.weak_link,
            "media_reconnecting": self.media_reconnecting,
        }


_P = ParamSpec("_P")


def _event(method: Callable[Concatenate[Room, _P], list[Effect]]) -> Callable[Concatenate[Room, _P], list[Effect]]:
    """An event that may change the meeting: its effects end with a fresh view for everyone whose view changed."""

    @functools.wraps(method)
    def wrapper(room: Room, /, *args: _P.args, **kwargs: _P.kwargs) -> list[Effect]:
        effects = method(room, *args, **kwargs)
        return effects + room.sync_views()

    return wrapper


class Room:
    """One meeting's live state. ``slot_count`` receive slots per participant bound how many others one sees."""

    def __init__(self, meeting_id: str, slot_count: int) -> None:
        self.meeting_id = meeting_id
        self.slot_count = slot_count
        self.participants: dict[str, Participant] = {}
        self.off_camera = OffCameraList()
        self.roster_confirmed = False
        self.consents: dict[int, frozenset[str]] = {}
        """Active consent scopes of each ``bruker`` link (by invitation id), kept across reconnects."""
        self.face_visible_until: dict[int, datetime] = {}
        """When each link's face-visible exception ends; no end, no face-visible gate."""
        self.recording = False
        self.reconnecting: dict[int, str] = {}
        """Links whose connection dropped without leaving (invitation id -> role), until they return or time out."""
        self.version = 0
        """Raised whenever the meeting's state changes; sent with every view."""
        self._last_state: dict[str, Any] | None = None

    # -- queries --------------------------------------------------------------------------------------------

    def in_call(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.in_call]

    def hosts(self) -> list[Participant]:
        return [p for p in self.in_call() if p.host]

    def find_by_invitation(self, invitation_id: int) -> Participant | None:
        return next(
            (p for p in self.participants.values() if p.invitation_id == invitation_id and not p.check_only), None
        )

    def roster(self) -> dict[str, Any]:
        return {
            "type": "roster",
            "confirmed": self.roster_confirmed,
            "participants": [p.public() for p in self.in_call()],
            "off_camera": [e.public() for e in self.off_camera.entries.values()],
        }

    # -- views ----------------------------------------------------------------------------------------------

    def sync_views(self) -> list[Effect]:
        """A fresh view for every participant whose view changed; the version rises with any change of state."""
        state = meeting_state(self)
        if state != self._last_state:
            self._last_state = state
            self.version += 1
        effects: list[Effect] = []
        for p in self.participants.values():
            view = view_for(self, p)
            if view != p.last_view:
                effects.append(self._send_view(p, view))
        return effects

    def resend_view(self, pid: str) -> list[Effect]:
        """A client that saw a gap in its numbers asks again: it gets its whole view, numbered on."""
        me = self._get(pid)
        return [*self.sync_views(), self._send_view(me, view_for(self, me))]

    def _send_view(self, p: Participant, view: dict[str, Any]) -> Send:
        p.last_view = view
        p.view_seq += 1
        return Send(p.id, state_message(self, p, view))

    def _get(self, pid: str) -> Participant:
        participant = self.participants.get(pid)
        if participant is None:
            raise NotAllowed(Text("err.room.not_in_meeting"))
        return participant

    def require(self, pid: str, action: CallAction) -> Participant:
        """The participant, if the permission table lets them take ``action`` now; NotAllowed otherwise."""
        actor = self._get(pid)
        if not actor.may(action):
            raise NotAllowed(Text(_REFUSALS.get(action, "err.room.no_access")))
        return actor

    # -- arriving and leaving --------------------------------------------------------------------------------

    @_event
    def connect(
        self,
        pid: str,
        role: Role,
        invitation_id: int,
        host: bool,
        staff_id: int | None = None,
        *,
        check_only: bool = False,
    ) -> list[Effect]:
        """A participant opened the call page (preview): they see nobody yet and nobody sees them."""
        others = [p for p in self.participants.values() if not p.check_only and p.invitation_id != invitation_id]
        if not check_only and len(others) > self.slot_count:  # a reload replaces its own link's place
            raise MeetingFull()
        self.participants[pid] = Participant(pid, role, invitation_id, host, staff_id, check_only=check_only)
        if not check_only:
            self.reconnecting.pop(invitation_id, None)
        welcome = {"type": "welcome", "participant": pid, "role": role.value, "host": host, "slots": self.slot_count}
        return [Send(pid, welcome), *self._sync_gates()]

    def resume(self, pid: str) -> list[Effect]:
        """The same page is back on a new signalling connection (its network changed, the old socket went silent):
        it keeps its participant, stage, slots, pause and gates. It is greeted again and sent its whole view,
        since whatever went to the old socket meanwhile may never have arrived. Until its new media connection
        carries media the others see it as reconnecting (:meth:`media_reconnecting`)."""
        me = self._get(pid)
        welcome = {
            "type": "welcome",
            "participant": pid,
            "role": me.role.value,
            "host": me.host,
            "slots": self.slot_count,
        }
        effects: list[Effect] = [Send(pid, welcome)]
        if me.in_call:
            effects += self.media_reconnecting(pid, True)
        return effects + self.resend_view(pid)

    @_event
    def request_entry(self, pid: str) -> list[Effect]:
        """The host goes straight in; everyone else waits in the lobby until the host lets them in."""
        me = self._get(pid)
        if me.check_only:
            raise NotAllowed(Text("err.room.check_only"))
        self.require(pid, CallAction.ENTER)
        if me.stage is not Stage.PREVIEW:
            return []
        if me.host:
            return self._enter(me)
        me.stage = Stage.LOBBY
        effects: list[Effect] = [Send(pid, {"type": "lobby", "hosts_present": bool(self.hosts())})]
        return effects + self._lobby_update()

    @_event
    def admit(self, host_pid: str, pid: str) -> list[Effect]:
        host = self.require(host_pid, CallAction.ADMIT)
        guest = self.participants.get(pid)
        if guest is None or guest.stage is not Stage.LOBBY:
            raise NotAllowed(Text("err.room.not_waiting"))
        audit = Audit("lobby.admit", host.role.value, {"participant_role": guest.role.value})
        return [audit, *self._enter(guest), *self._lobby_update()]

    @_event
    def deny(self, host_pid: str, pid: str) -> list[Effect]:
        """Turned away: the link is revoked, so the same link cannot be used to come back."""
        host = self.require(host_pid, CallAction.DENY)
        guest = self.participants.get(pid)
        if guest is None or guest.stage is not Stage.LOBBY:
            raise NotAllowed(Text("err.room.not_waiting"))
        if host.staff_id is None:  # the table grants DENY to logged-in hosts only; the withdrawal is in their name
            raise NotAllowed(Text("err.room.deny_host_only"))
        del self.participants[pid]
        return [
            Audit("lobby.deny", host.role.value, {"participant_role": guest.role.value}),
            Revoke(guest.invitation_id, host.staff_id),
            Send(pid, {"type": "denied"}),
            Close(pid, EndReason.DENIED),
            *self._lobby_update(),
        ]

    def lobby_message(self, host_pid: str, text: str) -> list[Effect]:
        self.require(host_pid, CallAction.LOBBY_MESSAGE)
        text = " ".join(text.split())
        if not text or len(text) > LOBBY_MESSAGE_MAX:
            raise NotAllowed(Text("err.room.lobby_message_length", max=LOBBY_MESSAGE_MAX))
        refuse_identity_numbers(Text("field.lobby_message"), text)
        sent: list[Effect] = [
            Send(p.id, {"type": "lobby-message", "text": text})
            for p in self.participants.values()
            if p.stage is Stage.LOBBY
        ]
        return [*sent, Send(host_pid, {"type": "lobby-message-sent"})]

    @_event
    def leave(self, pid: str, *, reconnecting: bool = False) -> list[Effect]:
        """Gone; ``reconnecting`` when the connection dropped without a goodbye, so the others see them as
        reconnecting (not gone) until they return or :meth:`forget_reconnecting` is called."""
        me = self.participants.pop(pid, None)
        if me is None:
            return []
        if reconnecting and me.in_call and self.find_by_invitation(me.invitation_id) is None:
            self.reconnecting[me.invitation_id] = me.role.value
        elif not reconnecting:  # a goodbye while resuming: not reconnecting any more
            self.reconnecting.pop(me.invitation_id, None)
        if me.recorded:
            return [Record(pid, False), *self._leave_effects(me)]
        return self._leave_effects(me)

    @_event
    def forget_reconnecting(self, invitation_id: int) -> list[Effect]:
        self.reconnecting.pop(invitation_id, None)
        return []

    def _leave_effects(self, me: Participant) -> list[Effect]:
        pid = me.id
        if me.stage is Stage.LOBBY:
            return self._lobby_update()
        if not me.in_call:
            return []
        effects: list[Effect] = []
        for other in self.in_call():
            for slot, source in list(other.slots.items()):
                if source == pid:
                    del other.slots[slot]
                    effects.append(Detach(other.id, slot))
                    effects.append(Send(other.id, {"type": "slot", "slot": slot, "participant": None}))
            effects.append(Send(other.id, {"type": "participant-left", "participant": pid}))
        return effects + self._broadcast(self.roster())

    def _enter(self, me: Participant) -> list[Effect]:
        me.stage = Stage.IN_CALL
        effects: list[Effect] = [Send(me.id, {"type": "entered", "participants": [p.public() for p in self.in_call()]})]
        for other in self.in_call():
            if other.id == me.id:
                continue
            effects.append(Send(other.id, {"type": "participant-joined", "participant": me.public()}))
            effects += self._show(viewer=other, source=me)
            effects += self._show(viewer=me, source=other)
        if me.host:
            effects += self._lobby_update()
        return effects + self._broadcast(self.roster()) + self._sync_gates()

    def relink(self, pid: str) -> list[Effect]:
        """After a participant's media connection was replaced (a reconnection): the same slots as before, in
        both directions, so nobody's layout changes and nothing is renegotiated for the others."""
        if pid not in self.participants:
            return []
        me = self.participants[pid]
        effects: list[Effect] = [Attach(pid, slot, source) for slot, source in me.slots.items()]
        for other in self.participants.values():
            effects += [Attach(other.id, slot, pid) for slot, source in other.slots.items() if source == pid]
        return effects

    def _show(self, viewer: Participant, source: Participant) -> list[Effect]:
        free = next((s for s in range(self.slot_count) if s not in viewer.slots), None)
        if free is None:
            return []
        viewer.slots[free] = source.id
        return [
            Attach(viewer.id, free, source.id),
            Send(viewer.id, {"type": "slot", "slot": free, "participant": source.id, "role": source.role.value}),
        ]

    def _lobby_update(self) -> list[Effect]:
        waiting = [{"id": p.id, "role": p.role.value} for p in self.participants.values() if p.stage is Stage.LOBBY]
        return [Send(h.id, {"type": "lobby-list", "waiting": waiting}) for h in self.hosts()]

    # -- roster ---------------------------------------------------------------------------------------------

    @_event
    def add_off_camera(self, pid: str, role: str, first_name: str) -> list[Effect]:
        actor = self.require(pid, CallAction.ROSTER_EDIT)
        entry = self.off_camera.add(role, first_name, pid)
        audit = Audit("roster.change", actor.role.value, {"change": "added", "role": entry.role})
        return [audit, *self._broadcast(self.roster())]

    @_event
    def remove_off_camera(self, pid: str, entry_id: int) -> list[Effect]:
        actor = self.require(pid, CallAction.ROSTER_EDIT)
        entry = self.off_camera.remove(entry_id)
        audit = Audit("roster.change", actor.role.value, {"change": "removed", "role": entry.role})
        return [audit, *self._broadcast(self.roster())]

    @_event
    def confirm_roster(self, host_pid: str) -> list[Effect]:
        """Video starts only once the host has confirmed who is present, on and off camera."""
        host = self.require(host_pid, CallAction.ROSTER_CONFIRM)
        self.roster_confirmed = True
        roles = sorted(p.role.value for p in self.in_call()) + sorted(e.role for e in self.off_camera.entries.values())
        audit = Audit("roster.confirmed", host.role.value, {"roles": roles})
        return [audit, *self._broadcast(self.roster()), *self._sync_gates()]

    # -- pause, media state, chat, consent -------------------------------------------------------------------

    @_event
    def set_paused(self, actor_pid: str, target_pid: str, paused: bool) -> list[Effect]:
        """The user pauses themself, or staff do it for them; resuming is the user's, or staff at their request."""
        target = self._get(target_pid)
        if actor_pid == target_pid:
            action = CallAction.PAUSE_SELF if paused else CallAction.RESUME_SELF
        else:
            action = CallAction.PAUSE_OTHER if paused else CallAction.RESUME_OTHER
        actor = self.require(actor_pid, action)
        if target.check_only:
            raise NotAllowed(Text("err.room.no_participant"))
        if target.paused == paused:
            return []
        target.paused = paused
        audit = Audit(
            "pause" if paused else "resume",
            actor.role.value,
            {"participant_role": target.role.value, "by_self": actor.id == target.id},
        )
        msg = {"type": "paused", "participant": target.id, "role": target.role.value, "paused": paused}
        return [audit, *self._broadcast(msg, include_lobby=False, also=target.id), *self._sync_gates()]

    @_event
    def set_media(self, pid: str, audio: bool, video: bool) -> list[Effect]:
        me = self.require(pid, CallAction.SET_MEDIA)
        me.audio, me.video = audio, video
        msg = {"type": "media", "participant": pid, "audio": audio, "video": video}
        return self._broadcast(msg, also=pid)

    @_event
    def set_audio_only(self, pid: str, on: bool) -> list[Effect]:
        me = self.require(pid, CallAction.SET_MEDIA)
        if me.audio_only == on:
            return []
        me.audio_only = on
        return [SetAudioOnly(pid, on), *self._broadcast(self._link_message(me), also=pid)]

    @_event
    def link_changed(self, pid: str, weak: bool) -> list[Effect]:
        """The relay found that ``pid``'s link can (no longer) carry video; everyone is told, they first."""
        me = self.participants.get(pid)
        if me is None or me.weak_link == weak:
            return []
        me.weak_link = weak
        return self._broadcast(self._link_message(me), also=pid)

    @_event
    def media_reconnecting(self, pid: str, reconnecting: bool) -> list[Effect]:
        """``pid``'s media connection broke (True) or carries media again (False); the others are told, so a
        frozen tile is explained."""
        me = self.participants.get(pid)
        if me is None or me.media_reconnecting == reconnecting:
            return []
        me.media_reconnecting = reconnecting
        msg = {"type": "media-reconnecting", "participant": pid, "role": me.role.value, "on": reconnecting}
        return [Send(q.id, msg) for q in self.in_call() if q.id != pid]  # they know: their own page reconnects

    @staticmethod
    def _link_message(p: Participant) -> dict[str, Any]:
        return {"type": "link", "participant": p.id, "audio_only": p.audio_only, "weak_link": p.weak_link}

    def chat(self, pid: str, text: str) -> list[Effect]:
        """Relayed to those in the call now; never stored, logged or audited."""
        me = self.require(pid, CallAction.CHAT)
        text = text.strip()
        if not text or len(text) > CHAT_MAX:
            raise NotAllowed(Text("err.room.chat_length", max=CHAT_MAX))
        refuse_identity_numbers(Text("field.chat"), text)  # only what the case needs is exchanged, also in chat
        return self._broadcast({"type": "chat", "from": pid, "role": me.role.value, "text": text})

    @_event
    def set_consent_scopes(
        self, invitation_id: int, scopes: frozenset[str], face_visible_until: datetime | None = None
    ) -> list[Effect]:
        """The ledger's answer for one user link changed (given, withdrawn, expired): gates follow at once.
        ``face_visible_until`` is when the face-visible exception ends; the scope without it shows no face."""
        self.consents[invitation_id] = scopes
        if face_visible_until is not None and "face_visible" in scopes:
            self.face_visible_until[invitation_id] = face_visible_until
        else:
            self.face_visible_until.pop(invitation_id, None)
        effects: list[Effect] = []
        for p in self.participants.values():
            if p.invitation_id == invitation_id:
                effects += self._broadcast(
                    {"type": "consent", "participant": p.id, "scopes": sorted(scopes)}, also=p.id
                )
        return effects + self._sync_gates()

    # -- recording ------------------------------------------------------------------------------------------

    def start_recording(self, host_pid: str, reason: str, deadline_days: int | None) -> list[Effect]:
        """Only by exception: a staff host, a stated reason, and every user in the call consenting to it."""
        self.require(host_pid, CallAction.RECORD_START)
        if self.recording:
            raise NotAllowed(Text("err.room.recording_already"))
        if not reason.strip():
            raise NotAllowed(Text("err.room.recording_reason"))
        users = [p for p in self.in_call() if p.role is Role.BRUKER]
        if any("recording" not in self.consents.get(p.invitation_id, frozenset()) for p in users):
            raise NotAllowed(Text("err.room.recording_consent"))
        refs = tuple(link_ref(p.invitation_id) for p in users)
        return [StartRecording(host_pid, reason.strip(), deadline_days, refs)]

    @_event
    def recording_started(self) -> list[Effect]:
        self.recording = True
        return self._broadcast({"type": "recording", "on": True}, include_lobby=True) + self._sync_gates()

    def stop_recording(self, host_pid: str) -> list[Effect]:
        self.require(host_pid, CallAction.RECORD_STOP)
        if not self.recording:
            raise NotAllowed(Text("err.room.not_recording"))
        return [StopRecording(host_pid)]

    @_event
    def recording_stopped(self) -> list[Effect]:
        self.recording = False
        for p in self.participants.values():
            p.recorded = False
        return self._broadcast({"type": "recording", "on": False}, include_lobby=True)

    def should_record(self, p: Participant) -> bool:
        if not (self.recording and p.in_call and not p.paused):
            return False
        scopes = self.consents.get(p.invitation_id, frozenset())
        return p.role is not Role.BRUKER or {"recording", "video"} <= scopes

    # -- gates ----------------------------------------------------------------------------------------------

    def gates_for(self, p: Participant) -> tuple[VideoGate, bool]:
        if p.check_only:  # the own processed picture only, anonymized, heard by nobody
            return VideoGate.OPEN, False
        scopes = self.consents.get(p.invitation_id, frozenset()) if p.role is Role.BRUKER else None
        audio = scopes is None or "audio" in scopes
        if p.paused:
            return VideoGate.PAUSE, audio
        if scopes is not None and "video" not in scopes:
            return VideoGate.CONSENT, audio
        if not self.roster_confirmed:
            return VideoGate.ROSTER, audio
        if scopes is not None and "face_visible" in scopes and p.invitation_id in self.face_visible_until:
            return VideoGate.FACE_VISIBLE, audio
        return VideoGate.OPEN, audio

    def _sync_gates(self) -> list[Effect]:
        effects: list[Effect] = []
        for p in self.participants.values():
            gates = self.gates_for(p)
            until = self.face_visible_until.get(p.invitation_id) if gates[0] is VideoGate.FACE_VISIBLE else None
            if gates != p.gates or until != p.gate_until:
                was_visible = p.gates is not None and p.gates[0] is VideoGate.FACE_VISIBLE
                now_visible = gates[0] is VideoGate.FACE_VISIBLE
                if was_visible != now_visible:
                    action = "face_visible.start" if now_visible else "face_visible.end"
                    effects.append(Audit(action, p.role.value, {"participant_role": p.role.value}))
                p.gates, p.gate_until = gates, until
                effects.append(SetGates(p.id, *gates, until))
            record = self.should_record(p)
            if record != p.recorded:
                p.recorded = record
                effects.append(Record(p.id, record))
        return effects

    def _broadcast(
        self, message: dict[str, Any], *, include_lobby: bool = False, also: str | None = None
    ) -> list[Effect]:
        to = [p.id for p in self.participants.values() if p.in_call or (include_lobby and p.stage is Stage.LOBBY)]
        if also is not None and also not in to and also in self.participants:
            to.append(also)
        return [Send(pid, message) for pid in to]
