"""What the meeting runtime needs from the world, as small interfaces (ports).

The runtime (``session.meeting.runtime``), the effect interpreter and the consent policy depend only on these: the
web layer adapts its WebSocket to an :class:`Outbox` and hands over its services (the media relay, the privacy
ledgers, the recording service, the invitation links) as :class:`Services`. The real services satisfy the ports
as they are (structurally); a test drives the runtime through fakes of them, without a server.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from aiortc import MediaStreamTrack

from privacy.records.audit_record import Actor, AuditRecord
from privacy.records.consent import ConsentEvent, ConsentState
from recordings.access import StaffActor
from recordings.retention import DeletionTrigger
from session.call.signalling import EndReason
from session.media.relay import MediaEvents


class Outbox(Protocol):
    """One participant's connection, as the runtime reaches it (by participant id, through the meeting).

    ``send`` says a message's coded texts in the connection's language and never raises for a connection that
    broke meanwhile; ``end`` is the one way the server ends a connection: an ``ended`` message with the reason,
    then the close (a connection already closed is left as it is)."""

    @property
    def closed(self) -> bool: ...

    async def send(self, message: Mapping[str, Any]) -> None: ...

    async def end(self, reason: EndReason) -> None: ...


class Relay(Protocol):
    """The media relay's operations the runtime uses: negotiating, wiring slots, gates, recording tracks, closing."""

    def peer_connection(self, pid: str) -> object | None: ...

    async def negotiate(self, pid: str, offer_sdp: str, events: MediaEvents | None = None) -> str: ...

    def attach(self, viewer: str, slot: int, source: str) -> None: ...

    def detach(self, viewer: str, slot: int) -> None: ...

    def set_gates(self, pid: str, video: str, audio: bool, until: datetime | None = None) -> None: ...

    def set_audio_only(self, pid: str, on: bool) -> None: ...

    def recording_tracks(self, pid: str) -> tuple[MediaStreamTrack, MediaStreamTrack] | None: ...

    async def close(self, pid: str) -> None: ...


class ConsentStates(Protocol):
    async def state(self, meeting_id: str) -> ConsentState: ...


class AuditLog(Protocol):
    async def append(self, record: AuditRecord) -> object: ...


class PrivacyLedgers(Protocol):
    """The signed consent ledger and audit log."""

    @property
    def consent(self) -> ConsentStates: ...

    @property
    def audit(self) -> AuditLog: ...

    async def record_consent(self, event: ConsentEvent, *, org_ids: Sequence[int], actor: Actor) -> object: ...


class RecordingRef(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def meeting_id(self) -> str: ...

    @property
    def state(self) -> str: ...


class RecordingEntry(Protocol):
    @property
    def recording(self) -> RecordingRef: ...


class Recordings(Protocol):
    """The recording service (present only when recording is configured)."""

    def active_recording(self, meeting_id: str) -> str | None: ...

    async def start(
        self,
        *,
        meeting_id: str,
        org_ids: Collection[int],
        host: StaffActor,
        reason: str,
        user_refs: Sequence[str],
        deadline: datetime | None = None,
    ) -> object: ...

    async def stop(self, recording_id: str, by: StaffActor | None = None) -> object: ...

    async def add_participant(
        self,
        meeting_id: str,
        participant_ref: str,
        *,
        is_user: bool,
        video: MediaStreamTrack | None = None,
        audio: MediaStreamTrack | None = None,
    ) -> bool: ...

    def stop_participant(self, meeting_id: str, participant_ref: str) -> bool: ...

    async def compliance_view(self, org_ids: Collection[int] | None) -> Sequence[RecordingEntry]: ...

    async def request_deletion(
        self, recording_id: str, *, trigger: DeletionTrigger, by: StaffActor | None = None
    ) -> bool: ...


class Links(Protocol):
    async def revoke(self, *, actor_staff_id: int, invitation_id: int) -> None: ...


class Services(Protocol):
    """Everything the runtime reaches besides the participants' connections, read when it is needed (the web
    layer starts its services after the runtime exists)."""

    @property
    def relay(self) -> Relay: ...

    @property
    def records(self) -> PrivacyLedgers: ...

    @property
    def recordings(self) -> Recordings | None: ...

    @property
    def links(self) -> Links: ...

    def now(self) -> datetime: ...
