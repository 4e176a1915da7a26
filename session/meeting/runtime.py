"""The live meetings of this process and what happens in them: arriving, messages, leaving, shutting down.

The web layer only translates a socket's messages into calls here; everything else (the state machine's
effects, consent and recording policy, who is connected, timed jobs) happens behind the ports of
``session.meeting.ports``, so a test drives it with fakes and no server.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable

from privacy.user_text import Text
from session.call.room import Effect, Room, Send, StopRecording
from session.call.room_events import room_event
from session.call.signalling import EndReason, GiveConsent, RoomMessage, WithdrawConsent
from session.errors import SessionError
from session.media.relay import MediaEvents
from session.meeting import consent_flow
from session.meeting.effects import carry_out
from session.meeting.meeting import TIMER_RETRY_SECONDS, LiveMeeting
from session.meeting.ports import Outbox, Services
from session.meetings import Invitation
from session.roles import Role

log = logging.getLogger(__name__)

MAX_CHECKS_PER_MEETING = 3
"""Pre-call checks at once in one meeting (one per link)."""
RECONNECT_GRACE_SECONDS = 30.0
"""How long the others see someone whose connection dropped as reconnecting before they count as gone."""


class TooManyChecks(SessionError):
    code = "too_many_checks"

    def __init__(self) -> None:
        super().__init__(Text("err.ws.too_many_checks"))


class MeetingRuntime:
    """All meetings with someone connected to this process (a room lives on one node)."""

    def __init__(
        self,
        services: Services,
        *,
        slots: int,
        reconnect_grace: float = RECONNECT_GRACE_SECONDS,
        timer_retry: float = TIMER_RETRY_SECONDS,
    ) -> None:
        self.services = services
        self.slots = slots
        """Video slots per participant (the largest meeting less one)."""
        self.reconnect_grace = reconnect_grace
        self.timer_retry = timer_retry
        self.meetings: dict[str, LiveMeeting] = {}
        self.draining = False

    def participant_count(self) -> int:
        return sum(len(m.connections) for m in self.meetings.values())

    async def close_all(self) -> None:
        """The process stops: every participant is told why, then their connection closes."""
        self.draining = True
        for meeting in list(self.meetings.values()):
            for outbox in list(meeting.connections.values()):
                await outbox.end(EndReason.SERVER_SHUTDOWN)

    async def end_link(self, invitation_id: int, reason: EndReason) -> None:
        """A link withdrawn or freed from its device: its live connection, on any meeting here, ends now."""
        for meeting in list(self.meetings.values()):
            participant = meeting.room.find_by_invitation(invitation_id)
            outbox = meeting.connections.get(participant.id) if participant is not None else None
            if outbox is not None:
                await outbox.end(reason)

    def open(self, meeting_id: str, org_ids: tuple[int, ...], parties: tuple[int, ...]) -> LiveMeeting:
        """The meeting's live room, created on the first arrival (a concurrent creation keeps the first)."""
        return self.meetings.setdefault(
            meeting_id, LiveMeeting(Room(meeting_id, self.slots), org_ids, parties, timer_retry=self.timer_retry)
        )

    async def carry_out(self, meeting: LiveMeeting, effects: list[Effect]) -> None:
        await carry_out(self.services, meeting, effects)

    async def arrive(
        self, meeting: LiveMeeting, outbox: Outbox, invitation: Invitation, *, check_only: bool, resume: str | None
    ) -> tuple[str, list[Effect]]:
        """Put the newcomer in the room (replacing an older connection of the same link): its participant id and
        the effects still to carry out (:meth:`enter`). A refusal (a full meeting, too many checks) is raised as a
        SessionError, and a meeting left empty by it is dropped.

        ``resume`` names the participant the same page had: when the link's participant is still in the room
        under that id, the new connection takes it over (a network switch: the old socket is dead, but the server
        may not know for another heartbeat) and the participant keeps its place, admission and slots. The old
        connection is left to close by itself; nothing is sent to it any more."""
        # Counted until this participant is in the room: an old connection of the same link that closes meanwhile
        # (a reload) must not take the meeting away from under the one replacing it.
        meeting.arriving += 1
        refused = False
        try:
            return await self._arrive(meeting, outbox, invitation, check_only, resume)
        except SessionError:
            refused = True
            raise
        finally:
            meeting.arriving -= 1
            if refused:
                self.forget_if_empty(meeting)

    async def _arrive(
        self, meeting: LiveMeeting, outbox: Outbox, invitation: Invitation, check_only: bool, resume: str | None
    ) -> tuple[str, list[Effect]]:
        room = meeting.room
        if check_only:
            checks = [p for p in room.participants.values() if p.check_only]
            # One check per link (the newest wins, like a reload) and a few per meeting: each costs face processing.
            previous = next((p for p in checks if p.invitation_id == invitation.id), None)
            if previous is None and len(checks) >= MAX_CHECKS_PER_MEETING:
                raise TooManyChecks()
        else:
            previous = room.find_by_invitation(invitation.id)
            if previous is not None and previous.id == resume:
                meeting.connections[previous.id] = outbox
                return previous.id, room.resume(previous.id)
        if previous is not None:  # one device at a time per link: the newest wins
            old = meeting.connections.get(previous.id)
            if old is not None:
                await old.end(EndReason.REPLACED)
        pid = secrets.token_hex(4)
        effects = room.connect(
            pid, invitation.role, invitation.id, invitation.host, invitation.staff_id, check_only=check_only
        )
        meeting.connections[pid] = outbox
        return pid, effects

    async def enter(self, meeting: LiveMeeting, pid: str, effects: list[Effect], invitation: Invitation) -> None:
        """The arrival's effects; a user's consent given earlier through this link holds again."""
        await self.carry_out(meeting, effects)
        participant = meeting.room.participants.get(pid)
        if invitation.role is Role.BRUKER and participant is not None and not participant.check_only:
            await self.carry_out(meeting, await consent_flow.refresh(self.services, meeting, participant))

    async def handle(self, meeting: LiveMeeting, pid: str, msg: RoomMessage | GiveConsent | WithdrawConsent) -> None:
        """One validated message for the room (refusals are raised for the caller to answer)."""
        match msg:
            case GiveConsent() | WithdrawConsent():
                await self.carry_out(meeting, await consent_flow.handle(self.services, meeting, pid, msg))
            case _:
                await self.carry_out(meeting, room_event(meeting.room, pid, msg))

    async def negotiate(self, meeting: LiveMeeting, pid: str, offer_sdp: str, *, timeout: float = 15) -> str:
        """The answer to the browser's offer; OfferRejected or TimeoutError when there is none. The media
        connection's events reach the room as they happen; send the answer, then call :meth:`negotiated`."""
        relay = self.services.relay
        if relay.peer_connection(pid) is not None:  # a reconnection the server did not notice (a new network)
            await self.carry_out(meeting, meeting.room.media_reconnecting(pid, True))
        return await asyncio.wait_for(relay.negotiate(pid, offer_sdp, self.media_events(meeting, pid)), timeout)

    async def negotiated(self, meeting: LiveMeeting, pid: str) -> None:
        """The answer is sent: a reconnection keeps its slots (the first connection has none yet)."""
        await self.carry_out(meeting, meeting.room.relink(pid))

    def media_events(self, meeting: LiveMeeting, pid: str) -> MediaEvents:
        """What the media connection's life does to the room, as it happens."""
        room = meeting.room

        def later(effects: Callable[[], list[Effect]]) -> asyncio.Task[None]:
            return meeting.spawn(self.carry_out(meeting, effects()), kind="media_event")

        def lost() -> asyncio.Task[None]:
            # The browser is told to reconnect without waiting for its own timeouts; the others why the tile froze.
            return later(lambda: [Send(pid, {"type": "media-lost"}), *room.media_reconnecting(pid, True)])

        return MediaEvents(
            lost=lost,
            connected=lambda: later(lambda: room.media_reconnecting(pid, False)),
            link=lambda weak: later(lambda: room.link_changed(pid, weak)),
        )

    async def leave(
        self, meeting: LiveMeeting, pid: str, invitation_id: int, outbox: Outbox, *, said_goodbye: bool
    ) -> None:
        """A connection closed. When it was the participant's current one, they leave the room (as reconnecting
        unless they said goodbye), their media closes, and the last one out ends a running recording."""
        current = meeting.connections.get(pid)
        if current is outbox:
            del meeting.connections[pid]
        if current is not None and current is not outbox:  # resumed on a new connection: the participant stays
            log.info("old signalling connection closed", extra={"meeting": meeting.room.meeting_id})
            return
        await self.carry_out(meeting, meeting.room.leave(pid, reconnecting=not said_goodbye))
        if invitation_id in meeting.room.reconnecting:
            self._forget_later(meeting, invitation_id)
        await self.services.relay.close(pid)
        recording = meeting.room.recording
        if self.forget_if_empty(meeting) and recording:  # the last one left: the recording ends with it
            await self.carry_out(meeting, [StopRecording(None)])
        log.info("participant disconnected", extra={"meeting": meeting.room.meeting_id})

    def forget_if_empty(self, meeting: LiveMeeting) -> bool:
        """Drop a meeting nobody is in or arriving at; True when it was dropped."""
        if meeting.room.participants or meeting.arriving or self.meetings.get(meeting.room.meeting_id) is not meeting:
            return False
        meeting.cancel_timers()
        del self.meetings[meeting.room.meeting_id]
        return True

    def _forget_later(self, meeting: LiveMeeting, invitation_id: int) -> None:
        async def forget() -> None:
            await self.carry_out(meeting, meeting.room.forget_reconnecting(invitation_id))

        meeting.later(f"reconnect-{invitation_id}", self.reconnect_grace, forget, kind="reconnect_grace")
