"""The room state machine: who is connected, who is in the call, and which receive slot shows whom.

Pure: each event returns the effects to carry out (messages to send, relay slots to attach or detach). The
WebSocket handler and the media relay carry them out; this module can be tested without a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from session.errors import MeetingFull
from session.roles import Role


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


Effect = Send | Attach | Detach


@dataclass(slots=True)
class Participant:
    id: str
    role: Role
    invitation_id: int
    host: bool
    in_call: bool = False
    audio: bool = True
    video: bool = True
    slots: dict[int, str] = field(default_factory=dict)
    """slot number -> the participant shown in it."""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role.value,
            "host": self.host,
            "audio": self.audio,
            "video": self.video,
        }


class Room:
    """One meeting's live state. ``slot_count`` receive slots per participant bound how many others one sees."""

    def __init__(self, meeting_id: str, slot_count: int) -> None:
        self.meeting_id = meeting_id
        self.slot_count = slot_count
        self.participants: dict[str, Participant] = {}

    def in_call(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.in_call]

    def find_by_invitation(self, invitation_id: int) -> Participant | None:
        return next((p for p in self.participants.values() if p.invitation_id == invitation_id), None)

    def connect(self, pid: str, role: Role, invitation_id: int, host: bool) -> list[Effect]:
        """A participant opened the call page (preview): they see nobody yet and nobody sees them."""
        if len(self.participants) > self.slot_count:
            raise MeetingFull()
        self.participants[pid] = Participant(pid, role, invitation_id, host)
        return [Send(pid, {"type": "welcome", "participant": pid, "role": role.value, "slots": self.slot_count})]

    def enter(self, pid: str) -> list[Effect]:
        me = self.participants[pid]
        if me.in_call:
            return []
        me.in_call = True
        effects: list[Effect] = [Send(pid, {"type": "entered", "participants": [p.public() for p in self.in_call()]})]
        for other in self.in_call():
            if other.id == pid:
                continue
            effects.append(Send(other.id, {"type": "participant-joined", "participant": me.public()}))
            effects += self._show(viewer=other, source=me)
            effects += self._show(viewer=me, source=other)
        return effects

    def set_media(self, pid: str, audio: bool, video: bool) -> list[Effect]:
        me = self.participants[pid]
        me.audio, me.video = audio, video
        msg = {"type": "media", "participant": pid, "audio": audio, "video": video}
        return [Send(p.id, msg) for p in self.participants.values() if p.in_call or p.id == pid]

    def leave(self, pid: str) -> list[Effect]:
        me = self.participants.pop(pid, None)
        if me is None or not me.in_call:
            return []
        effects: list[Effect] = []
        for other in self.in_call():
            for slot, source in list(other.slots.items()):
                if source == pid:
                    del other.slots[slot]
                    effects.append(Detach(other.id, slot))
                    effects.append(Send(other.id, {"type": "slot", "slot": slot, "participant": None}))
            effects.append(Send(other.id, {"type": "participant-left", "participant": pid}))
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
