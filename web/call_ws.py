"""The signalling WebSocket: a thin loop around the room state machine and the media relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from aiohttp import WSMsgType, web

from session.errors import MeetingFull, SessionError
from session.meetings import Invitation, resolve_invitation
from session.relay import MediaRelay, OfferRejected
from session.room import Attach, Detach, Effect, Room, Send
from session.signalling import Enter, Leave, Offer, Ping, ProtocolError, SetMedia, error, parse_client_message
from web.app import CLOCK, ENGINE, LIVE, METRICS, RELAY, SETTINGS
from web.live import LiveMeeting

log = logging.getLogger(__name__)

# aiohttp closes the socket on a frame above max_msg_size; the protocol's own 64 KiB limit is checked per
# message with an error reply, so this transport limit only stops abuse.
TRANSPORT_MAX_BYTES = 1024 * 1024


async def _carry_out(meeting: LiveMeeting, relay: MediaRelay, effects: list[Effect]) -> None:
    for effect in effects:
        if isinstance(effect, Send):
            ws = meeting.sockets.get(effect.to)
            if ws is not None and not ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_json(effect.message)
        elif isinstance(effect, Attach):
            relay.attach(effect.viewer, effect.slot, effect.source)
        elif isinstance(effect, Detach):
            relay.detach(effect.viewer, effect.slot)


async def _resolve(request: web.Request) -> Invitation:
    async with request.app[ENGINE].connect() as conn:
        return await resolve_invitation(conn, request.match_info["token"], request.app[CLOCK]())


async def call_socket(request: web.Request) -> web.StreamResponse:
    try:
        invitation = await _resolve(request)
    except SessionError as exc:
        status = 410 if exc.code in ("link_expired", "link_revoked") else 403
        return web.json_response({"error": exc.code, "message": str(exc)}, status=status)
    live = request.app[LIVE]
    if live.draining:
        return web.json_response({"error": "draining", "message": "Tjenesten starter på nytt."}, status=503)

    ws = web.WebSocketResponse(max_msg_size=TRANSPORT_MAX_BYTES, heartbeat=20)
    await ws.prepare(request)
    settings, relay, metrics = request.app[SETTINGS], request.app[RELAY], request.app[METRICS]
    meeting = live.meetings.get(invitation.meeting_id)
    if meeting is None:
        meeting = live.meetings[invitation.meeting_id] = LiveMeeting(
            Room(invitation.meeting_id, settings.max_participants - 1)
        )
    previous = meeting.room.find_by_invitation(invitation.id)
    if previous is not None:  # one device at a time per link: the newest wins
        old = meeting.sockets.get(previous.id)
        if old is not None:
            await old.send_json({"type": "ended", "reason": "replaced"})
            await old.close()
    pid = secrets.token_hex(4)
    try:
        effects = meeting.room.connect(pid, invitation.role, invitation.id, invitation.host)
    except MeetingFull as exc:
        await ws.send_json(error(exc.code, str(exc)))
        await ws.close()
        return ws
    meeting.sockets[pid] = ws
    log.info("participant connected", extra={"meeting": invitation.meeting_id, "role": invitation.role.value})
    try:
        await _carry_out(meeting, relay, effects)
        await ws.send_json({"type": "config", "iceServers": list(settings.ice_servers)})
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
                await _handle(parsed, pid, meeting, relay, ws, metrics)
            elif msg.type == WSMsgType.BINARY:
                metrics.ws_errors.labels(code="binary").inc()
                await ws.send_json(error("binary", "Binære meldinger støttes ikke."))
    finally:
        if meeting.sockets.get(pid) is ws:
            del meeting.sockets[pid]
        await _carry_out(meeting, relay, meeting.room.leave(pid))
        await relay.close(pid)
        if not meeting.room.participants and live.meetings.get(invitation.meeting_id) is meeting:
            del live.meetings[invitation.meeting_id]
        log.info("participant disconnected", extra={"meeting": invitation.meeting_id})
        if not ws.closed:
            await ws.close()
    return ws


async def _handle(
    msg: Any, pid: str, meeting: LiveMeeting, relay: MediaRelay, ws: web.WebSocketResponse, metrics: Any
) -> None:
    if isinstance(msg, Offer):
        try:
            answer = await asyncio.wait_for(relay.negotiate(pid, msg.sdp), timeout=15)
        except (OfferRejected, TimeoutError) as exc:
            code = "offer_rejected"
            metrics.ws_errors.labels(code=code).inc()
            await ws.send_json(error(code, str(exc) or "Tilkoblingen kunne ikke settes opp i tide."))
            return
        await ws.send_json({"type": "answer", "sdp": answer})
    elif isinstance(msg, Enter):
        await _carry_out(meeting, relay, meeting.room.enter(pid))
    elif isinstance(msg, SetMedia):
        await _carry_out(meeting, relay, meeting.room.set_media(pid, msg.audio, msg.video))
    elif isinstance(msg, Ping):
        await ws.send_json({"type": "pong", "t": msg.t})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/j/{token}/ws", call_socket)
