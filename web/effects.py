"""Carrying out what the room state machine decided: messages, relay wiring, gates, audit, revocations."""

from __future__ import annotations

import contextlib

from aiohttp import web

from privacy.audit_record import Actor, ActorKind, AuditRecord
from session.meetings import revoke_invitation
from session.room import Attach, Audit, Close, Detach, Effect, Revoke, Send, SetGates
from web.app import CLOCK, ENGINE, RECORDS, RELAY
from web.live import LiveMeeting


async def carry_out(app: web.Application, meeting: LiveMeeting, effects: list[Effect]) -> None:
    relay = app[RELAY]
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
        elif isinstance(effect, SetGates):
            relay.set_gates(effect.participant, effect.video.value, effect.audio)
        elif isinstance(effect, Audit):
            record = AuditRecord(
                action=effect.action,
                actor=Actor(ActorKind.ROLE, effect.actor_role),
                org_ids=meeting.org_ids,
                meeting_id=meeting.room.meeting_id,
                details=effect.details,
            )
            await app[RECORDS].audit.append(record)
        elif isinstance(effect, Revoke):
            async with app[ENGINE].begin() as conn:
                await revoke_invitation(conn, effect.invitation_id, app[CLOCK]())
        elif isinstance(effect, Close):
            ws = meeting.sockets.pop(effect.participant, None)
            if ws is not None and not ws.closed:
                await ws.send_json({"type": "ended", "reason": effect.reason})
                await ws.close()
