"""Wires the formidler right's source into the app: the provider chain, the live-rights watcher, the ``pid``.

``database`` (the embedded default) needs nothing more: a removal by an access manager already ends calls at
once. ``altinn`` asks Altinn's PDP through a short cache and the audit, and runs ``watch_rights`` so that a
right withdrawn in Altinn ends the person's live calls within ``rights_check_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from session.access.altinn_pdp import AltinnPdp
from session.access.authorization import (
    AuditedAuthorization,
    AuthorizationProvider,
    CachedAuthorization,
    DatabaseAuthorization,
)
from session.access.rights_watch import PersonIdentifiers, watch_rights
from web.keys import BUS, CLOCK, ENGINE, RECORDS, SETTINGS

AUTHORIZATION = web.AppKey("authorization", AuthorizationProvider)
PERSONS = web.AppKey("person_identifiers", PersonIdentifiers)


def remember_person(app: web.Application, staff_id: int, claims: Mapping[str, Any]) -> None:
    """Keep ID-porten's ``pid`` for this person in memory, for asking Altinn while they are logged in."""
    pid = claims.get("pid")
    if PERSONS in app and isinstance(pid, str) and pid.isdigit() and len(pid) == 11:
        app[PERSONS].remember(staff_id, pid)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[PERSONS] = PersonIdentifiers()

    async def chain(app: web.Application) -> AsyncIterator[None]:
        engine, audit = app[ENGINE], app[RECORDS].audit
        if settings.authorization_provider != "altinn":
            app[AUTHORIZATION] = AuditedAuthorization(DatabaseAuthorization(engine), audit, engine)
            yield
            return
        token_file = Path(settings.altinn_token_file)

        async def token() -> str:
            return (await asyncio.to_thread(token_file.read_text)).strip()

        async with aiohttp.ClientSession() as http:
            pdp = AltinnPdp(
                http, settings.altinn_pdp_url, subscription_key=settings.altinn_subscription_key.value, token=token
            )
            cached = CachedAuthorization(pdp, ttl_s=settings.rights_cache_s, clock=time.monotonic)
            provider = app[AUTHORIZATION] = AuditedAuthorization(cached, audit, engine)
            watcher = asyncio.create_task(
                watch_rights(
                    engine,
                    provider,
                    app[BUS],
                    app[PERSONS],
                    audit,
                    app[CLOCK],
                    resource=settings.altinn_resource,
                    interval_s=settings.rights_check_interval_s,
                )
            )
            yield
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    app.cleanup_ctx.append(chain)
