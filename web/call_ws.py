"""The signalling WebSocket: a thin loop around the room state machine and the media relay."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from aiohttp import WSMsgType, web

from session.errors import MeetingFull, SessionError
from session.invitation_links import DEVICE_COOKIE
from session.isolation import staff_link_usable
from session.meetings import Invitation, meeting_org_ids
from session.relay import OfferRejected
from session.roles import Role
from session.room import Effect, Room, StopRecording
from session.signalling import (
    Admit,
    Chat,
    ClientMessage,
    Deny,
    Enter,
    GiveConsent,
    Leave,
    LobbyMessage,
    Offer,
    Pause,
    Ping,
    ProtocolError,
    RecordStart,
    RecordStop,
    RosterAdd,
    RosterConfirm,
    RosterRemove,
    SetMedia,
    WithdrawConsent,
    error,
    parse_client_message,
)
from web import consent_flow
from web.app import BUS, ENGINE, LINKS, LIVE, METRICS, RELAY, SETTINGS, SIGNER
from web.auth import COOKIE, StaffSession
from web.effects import carry_out
from web.live import LiveMeeting
from web.pages import link_error_status

log = logging.getLogger(__name__)

# aiohttp closes the socket on a frame above max_msg_size; the protocol's own 64 KiB limit is checked per
# message with an error reply, so this transport limit only stops abuse.
TRANSPORT_MAX_BYTES = 1024 * 1024


async def _admit(request: web.Request, check_only: bool) -> tuple[Invitation, StaffSession | None]:
    """The link's invitation, bound to this device; a staff member's own link only with their live session.
    A pre-call check binds nothing, so testing on a phone does not tie the link to the phone."""
    links, device = request.app[LINKS], request.cookies.get(DEVICE_COOKIE)
    token = request.match_info["token"]
    invitation = await (links.check(token, device) if check_only else links.claim(token, device))
    session = request.app[SIGNER].read(request.cookies.get(COOKIE))
    async with request.app[ENGINE].connect() as conn:
        usable = await staff_link_usable(
            conn, invitation, session.staff_id if session else None, session.generation if session else None
        )
    if not usable:
        raise StaffLinkRefused()
    return invitation, session


class StaffLinkRefused(SessionError):
    code = "staff_link"

    def __init__(self) -> None:
        super().__init__("Denne lenken er personlig. Logg inn som den ansatte lenken ble laget for.")


async def call_socket(request: web.Request) -> web.StreamResponse:
    check_only = request.query.get("mode") == "check"
    try:
        invitation, session = await _admit(request, check_only)
    except SessionError as exc:
        return web.json_response({"error": exc.code, "message": str(exc)}, status=link_error_status(exc))
    live = request.app[LIVE]
    if live.draining:
        return web.json_response({"error": "draining", "message": "Tjenesten starter på nytt."}, status=503)

    ws = web.WebSocketResponse(max_msg_size=TRANSPORT_MAX_BYTES, heartbeat=20)
    await ws.prepare(request)
    settings, relay, metrics = request.app[SETTINGS], request.app[RELAY], request.app[METRICS]
    meeting = live.meetings.get(invitation.meeting_id)
    if meeting is None:
        async with request.app[ENGINE].connect() as conn:
            org_ids = await meeting_org_ids(conn, invitation.meeting_id)
        meeting = live.meetings.setdefault(
            invitation.meeting_id, LiveMeeting(Room(invitation.meeting_id, settings.max_participants - 1), org_ids)
        )
    previous = None if check_only else meeting.room.find_by_invitation(invitation.id)
    if previous is not None:  # one device at a time per link: the newest wins
        old = meeting.sockets.get(previous.id)
        if old is not None:
            await old.send_json({"type": "ended", "reason": "replaced"})
            await old.close()
    pid = secrets.token_hex(4)
    revoked: asyncio.Task[None] | None = None
    if invitation.staff_id is not None and session is not None:
        # A removed right ends this person's live meeting at once (the bus also hears other processes).
        revoked = asyncio.create_task(_end_on_revocation(request.app, ws, invitation.staff_id, session.generation))
    try:
        effects = meeting.room.connect(
            pid, invitation.role, invitation.id, invitation.host, invitation.staff_id, check_only=check_only
        )
    except MeetingFull as exc:
        await ws.send_json(error(exc.code, str(exc)))
        await ws.close()
        return ws
    meeting.sockets[pid] = ws
    log.info("participant connected", extra={"meeting": invitation.meeting_id, "role": invitation.role.value})
    try:
        await carry_out(request.app, meeting, effects)
        if invitation.role is Role.BRUKER and not check_only:  # consent given earlier through this link holds
            await carry_out(
                request.app, meeting, await consent_flow.refresh(request.app, meeting, meeting.room.participants[pid])
            )
        ice = {"iceServers": settings.ice_servers_now(time.time()), "iceTransportPolicy": settings.ice_transport_policy}
        await ws.send_json({"type": "config", **ice})
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                try:
                    parsed = parse_client_message(msg.data)
                except ProtocolError as exc:
                    metrics.ws_errors.labels(code=exc.code).inc()
                    log.info("signalling message refused", extra={"code": exc.code})
                    await ws.send_json(error(exc.code, exc.message))
                    continue
                if isinstance(parsed, Leave):
                    break
                try:
                    await _handle(request.app, parsed, pid, meeting, ws)
                except SessionError as exc:
                    metrics.ws_errors.labels(code=exc.code).inc()
                    await ws.send_json(error(exc.code, str(exc)))
            elif msg.type == WSMsgType.BINARY:
                metrics.ws_errors.labels(code="binary").inc()
                await ws.send_json(error("binary", "Binære meldinger støttes ikke."))
    finally:
        if revoked is not None:
            revoked.cancel()
        if meeting.sockets.get(pid) is ws:
            del meeting.sockets[pid]
        await carry_out(request.app, meeting, meeting.room.leave(pid))
        await relay.close(pid)
        if not meeting.room.participants and live.meetings.get(invitation.meeting_id) is meeting:
            meeting.cancel_timers()
            if meeting.room.recording:  # the last one left: the recording ends with the meeting
                await carry_out(request.app, meeting, [StopRecording(None)])
            del live.meetings[invitation.meeting_id]
        log.info("participant disconnected", extra={"meeting": invitation.meeting_id})
        if not ws.closed:
            await ws.close()
    return ws


async def _handle(
    app: web.Application, msg: ClientMessage, pid: str, meeting: LiveMeeting, ws: web.WebSocketResponse
) -> None:
    """One validated message; SessionError (not allowed, bad roster entry …) is answered by the caller."""
    room = meeting.room
    if isinstance(msg, Offer):
        try:
            answer = await asyncio.wait_for(app[RELAY].negotiate(pid, msg.sdp), timeout=15)
        except (OfferRejected, TimeoutError) as exc:
            app[METRICS].ws_errors.labels(code="offer_rejected").inc()
            await ws.send_json(error("offer_rejected", str(exc) or "Tilkoblingen kunne ikke settes opp i tide."))
            return
        await ws.send_json({"type": "answer", "sdp": answer})
        return
    if isinstance(msg, Ping):
        await ws.send_json({"type": "pong", "t": msg.t})
        return
    effects: list[Effect]
    if isinstance(msg, Enter):
        effects = room.request_entry(pid)
    elif isinstance(msg, SetMedia):
        effects = room.set_media(pid, msg.audio, msg.video)
    elif isinstance(msg, Admit):
        effects = room.admit(pid, msg.participant)
    elif isinstance(msg, Deny):
        effects = room.deny(pid, msg.participant)
    elif isinstance(msg, LobbyMessage):
        effects = room.lobby_message(pid, msg.text)
    elif isinstance(msg, RosterAdd):
        effects = room.add_off_camera(pid, msg.role, msg.first_name)
    elif isinstance(msg, RosterRemove):
        effects = room.remove_off_camera(pid, msg.id)
    elif isinstance(msg, RosterConfirm):
        effects = room.confirm_roster(pid)
    elif isinstance(msg, Pause):
        effects = room.set_paused(pid, msg.participant, msg.paused)
    elif isinstance(msg, Chat):
        effects = room.chat(pid, msg.text)
    elif isinstance(msg, RecordStart):
        effects = room.start_recording(pid, msg.reason, msg.deadline_days)
    elif isinstance(msg, RecordStop):
        effects = room.stop_recording(pid)
    elif isinstance(msg, GiveConsent | WithdrawConsent):
        effects = await consent_flow.handle(app, meeting, pid, msg)
    else:  # Leave ends the loop before it gets here
        return
    await carry_out(app, meeting, effects)


async def _end_on_revocation(app: web.Application, ws: web.WebSocketResponse, staff_id: int, generation: int) -> None:
    with app[BUS].watch(staff_id, generation) as event:
        await event.wait()
    if not ws.closed:
        await ws.send_json({"type": "ended", "reason": "access_revoked"})
        await ws.close()


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/j/{token}/ws", call_socket)
