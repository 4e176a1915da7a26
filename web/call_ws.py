"""The signalling WebSocket: a thin loop around the room state machine and the media relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiohttp import WSMsgType, web

from privacy.records.errors import PrivacyRecordError
from privacy.user_text import Text, text_of
from recordings.errors import RecordingError
from session.access.invitation_links import DEVICE_COOKIE
from session.call.message_rate import TokenBucket, audited_bucket, message_bucket
from session.call.signalling import (
    Admit,
    ClientMessage,
    Deny,
    EndReason,
    GiveConsent,
    IceRefresh,
    Leave,
    Offer,
    Pause,
    Ping,
    ProtocolError,
    RecordStart,
    RecordStop,
    RosterAdd,
    RosterConfirm,
    RosterRemove,
    WithdrawConsent,
    error,
    message_type,
    parse_client_message,
)
from session.errors import SessionError
from session.media.relay import OfferRejected
from session.meeting.meeting import LiveMeeting
from session.meetings import Invitation
from web.auth import COOKIE, StaffSession
from web.i18n import DEFAULT, message_of, translate
from web.keys import ACCESS_READS, BUS, LINKS, LIVE, METRICS, SETTINGS, SIGNER
from web.live import PAGE_LANG, SocketOutbox
from web.middlewares import link_error_status
from web.rendering import lang_of
from web.settings import Settings

log = logging.getLogger(__name__)

AUDITED = (Admit, Deny, Pause, RosterAdd, RosterRemove, RosterConfirm, GiveConsent, WithdrawConsent, RecordStart,
           RecordStop)  # fmt: skip
"""Messages that write signed audit records: rate-limited more tightly than the rest."""

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
    usable = await request.app[ACCESS_READS].link_usable(
        invitation, session.staff_id if session else None, session.generation if session else None
    )
    if not usable:
        raise StaffLinkRefused()
    return invitation, session


class StaffLinkRefused(SessionError):
    code = "staff_link"

    def __init__(self) -> None:
        super().__init__(Text("err.ws.staff_link"))


async def call_socket(request: web.Request) -> web.StreamResponse:
    check_only = request.query.get("mode") == "check"
    resume = request.query.get("resume")
    try:
        invitation, session = await _admit(request, check_only)
    except SessionError as exc:
        message = message_of(exc, lang_of(request))
        return web.json_response({"error": exc.code, "message": message}, status=link_error_status(exc))
    live = request.app[LIVE]
    if live.draining:
        draining = translate(lang_of(request), "err.ws.draining")
        return web.json_response({"error": "draining", "message": draining}, status=503)

    ws = web.WebSocketResponse(max_msg_size=TRANSPORT_MAX_BYTES, heartbeat=20)
    ws[PAGE_LANG] = lang_of(request)
    await ws.prepare(request)
    settings, metrics = request.app[SETTINGS], request.app[METRICS]
    meeting = live.meetings.get(invitation.meeting_id)
    if meeting is None:
        org_ids, parties = await request.app[ACCESS_READS].meeting_owners(invitation.meeting_id)
        meeting = live.open(invitation.meeting_id, org_ids, parties)
    outbox = SocketOutbox(ws)
    try:
        pid, effects = await live.arrive(meeting, outbox, invitation, check_only=check_only, resume=resume)
    except SessionError as exc:  # a full meeting, too many checks: said, then the socket closes
        await ws.send_json(_refusal(ws, exc.code, exc))
        await ws.close()
        return ws
    revoked: asyncio.Task[None] | None = None
    if invitation.staff_id is not None and session is not None:
        # A removed right ends this person's live meeting at once (the bus also hears other processes).
        revoked = asyncio.create_task(_end_on_revocation(request.app, outbox, invitation.staff_id, session.generation))
    said_goodbye = False
    log.info("participant connected", extra={"meeting": invitation.meeting_id, "role": invitation.role.value})
    try:
        await live.enter(meeting, pid, effects, invitation)
        await ws.send_json({"type": "config", **_ice(settings)})
        messages, audited, loop = message_bucket(), audited_bucket(), asyncio.get_running_loop()
        # Pings are answered as they arrive; everything else in order by one task, so a slow answer (an offer
        # being negotiated, a consent being signed) does not hold a pong back: the page takes a late pong for a
        # dead socket and resumes on a new one.
        inbox: asyncio.Queue[str | None] = asyncio.Queue()  # bounded by the message rate limit
        handling = asyncio.create_task(_answer_in_order(request.app, inbox, pid, meeting, ws, audited))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    if not messages.take(loop.time()):
                        metrics.ws_errors.labels(code="rate_limited").inc()
                        await ws.send_json(_said(ws, "rate_limited", "err.ws.rate_limited"))
                        continue
                    ping = _ping_of(msg.data)
                    if ping is not None:
                        await ws.send_json({"type": "pong", "t": ping.t})
                    else:
                        inbox.put_nowait(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    metrics.ws_errors.labels(code="binary").inc()
                    await ws.send_json(_said(ws, "binary", "err.ws.binary"))
        finally:
            inbox.put_nowait(None)  # what came before the socket closed is still answered, then the task ends
            try:
                said_goodbye = await handling
            except asyncio.CancelledError:
                handling.cancel()
                raise
    finally:
        if revoked is not None:
            revoked.cancel()
        await live.leave(meeting, pid, invitation.id, outbox, said_goodbye=said_goodbye)
        if not ws.closed:
            await ws.close()
    return ws


def _ping_of(raw: str) -> Ping | None:
    """A well-formed ping; anything else, a malformed ping too, goes the ordinary way and is answered there."""
    if '"ping"' not in raw:
        return None
    try:
        parsed = parse_client_message(raw)
    except ProtocolError:
        return None
    return parsed if isinstance(parsed, Ping) else None


async def _answer_in_order(
    app: web.Application,
    inbox: asyncio.Queue[str | None],
    pid: str,
    meeting: LiveMeeting,
    ws: web.WebSocketResponse,
    audited: TokenBucket,
) -> bool:
    """The socket's messages, one after another in the order they came, until None; True when the participant
    said goodbye (the socket is then closed, which ends its reading)."""
    while (raw := await inbox.get()) is not None:
        try:
            go_on = await _answer(app, raw, pid, meeting, ws, audited)
        except ConnectionError:  # the socket broke while answering: its reading ends by itself
            return False
        except Exception:  # a bug: close the socket (the page resumes) rather than leave it unanswered for good
            await ws.close()
            raise
        if not go_on:
            await ws.close()
            return True
    return False


async def _answer(
    app: web.Application, raw: str, pid: str, meeting: LiveMeeting, ws: web.WebSocketResponse, audited: TokenBucket
) -> bool:
    """One text message from a participant, answered; False when they leave.

    No input ends a call: every refusal (malformed, too large, not allowed, refused text) is answered inline
    with an error naming the request and the field, and the socket stays open. Only a counter remembers a
    refusal; the refused text is never logged or stored. This is the one place every in-call message passes,
    so a role check belongs here, before ``_handle``."""
    metrics = app[METRICS]
    kind: str | None = None
    try:
        parsed = parse_client_message(raw)
        kind = message_type(parsed)
        if isinstance(parsed, Leave):
            return False
        if isinstance(parsed, AUDITED) and not audited.take(asyncio.get_running_loop().time()):
            metrics.ws_errors.labels(code="rate_limited").inc()
            await _refuse(ws, _said(ws, "rate_limited", "err.ws.too_often", kind=kind))
            return True
        await _handle(app, parsed, pid, meeting, ws)
    except ProtocolError as exc:
        metrics.ws_errors.labels(code=exc.code).inc()
        log.info("signalling message refused", extra={"code": exc.code})
        await _refuse(ws, _refusal(ws, exc.code, exc, kind=exc.kind, field=exc.field))
    except (SessionError, PrivacyRecordError, RecordingError) as exc:
        code = str(getattr(exc, "code", "refused"))
        metrics.ws_errors.labels(code=code).inc()
        await _refuse(ws, _refusal(ws, code, exc, kind=kind, field=_field_of(exc)))
    except ConnectionError:
        raise
    except Exception as exc:  # a bug, not the user's fault: the call goes on, the log says what kind of failure
        metrics.ws_errors.labels(code="internal").inc()
        log.error("signalling message failed", extra={"kind": kind, "exception": type(exc).__name__})
        await _refuse(ws, _said(ws, "internal", "err.ws.internal", kind=kind))
    return True


def _refusal(
    ws: web.WebSocketResponse, code: str, exc: Exception, *, kind: str | None = None, field: str | None = None
) -> dict[str, object]:
    """A refusal said in the language of the participant's page; ``lang`` tells the page which language the
    message is in (a refusal not yet in the catalogue is bokmål, and the page then shows its own general text)."""
    lang = ws.get(PAGE_LANG, DEFAULT)
    said_in = lang if text_of(exc) else DEFAULT
    return error(code, message_of(exc, lang), kind=kind, field=field, lang=said_in)


def _said(ws: web.WebSocketResponse, code: str, key: str, *, kind: str | None = None) -> dict[str, object]:
    """A refusal of the socket's own (too many messages, a failure), said in the page's language."""
    lang = ws.get(PAGE_LANG, DEFAULT)
    return error(code, translate(lang, key), kind=kind, lang=lang)


def _field_of(exc: Exception) -> str | None:
    field = getattr(exc, "field", None)
    return field if isinstance(field, str) else None


async def _refuse(ws: web.WebSocketResponse, message: dict[str, object]) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(message)


async def _handle(
    app: web.Application, msg: ClientMessage, pid: str, meeting: LiveMeeting, ws: web.WebSocketResponse
) -> None:
    """One validated message; refusals (SessionError, PrivacyRecordError …) are answered by ``_answer``.

    Exhaustive: what is not the socket's own (negotiation, pings, leaving) goes to the runtime, whose ``handle``
    takes every consent and room message, so mypy refuses a new message type that nobody handles."""
    live = app[LIVE]
    match msg:
        case Offer():
            await _negotiate(app, msg, pid, meeting, ws)
        case Ping():
            await ws.send_json({"type": "pong", "t": msg.t})
        case IceRefresh():
            await ws.send_json({"type": "ice", **_ice(app[SETTINGS])})
        case Leave():
            pass  # ``_answer`` ends the call before it gets here
        case _:
            await live.handle(meeting, pid, msg)


async def _negotiate(
    app: web.Application, msg: Offer, pid: str, meeting: LiveMeeting, ws: web.WebSocketResponse
) -> None:
    """Answer the browser's offer (the runtime wires the media connection's events to the room)."""
    live = app[LIVE]
    try:
        answer = await live.negotiate(meeting, pid, msg.sdp)
    except (OfferRejected, TimeoutError) as exc:
        app[METRICS].ws_errors.labels(code="offer_rejected").inc()
        await ws.send_json(
            _refusal(ws, "offer_rejected", exc if str(exc) else SessionError(Text("err.ws.offer_timeout")))
        )
        return
    await ws.send_json({"type": "answer", "sdp": answer})
    await live.negotiated(meeting, pid)


def _ice(settings: Settings) -> dict[str, object]:
    """ICE servers with TURN credentials minted now (each is valid for TURN_TTL_S)."""
    return {"iceServers": settings.ice_servers_now(time.time()), "iceTransportPolicy": settings.ice_transport_policy}


async def _end_on_revocation(app: web.Application, outbox: SocketOutbox, staff_id: int, generation: int) -> None:
    with app[BUS].watch(staff_id, generation) as event:
        await event.wait()
    await outbox.end(EndReason.ACCESS_REVOKED)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/j/{token}/ws", call_socket)
