"""The composition root: settings in, a wired aiohttp application out."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.keys import load_or_create_signing_key
from privacy.records.ledgers import PrivacyRecords
from privacy.user_text import only_said
from privacy.vision.pause_card import pause_card
from privacy.vision.privacy_track import FrameProcessor
from recordings.key_provider import FileKeyProvider
from recordings.options import RecordingOptions
from recordings.retention import RetentionPolicy
from recordings.service import RecordingService
from session.access.attempt_store import DatabaseAttemptLimiter
from session.access.brukerpass_service import BrukerpassService
from session.access.delegation import Access
from session.access.invitation_links import InvitationLinks
from session.access.link_tokens import LinkKeys
from session.access.organisations import Organisations
from session.access.revocation import RevocationBus, watch_revocations
from session.access.service import AccessService
from session.access.staff_members import active_subjects
from session.media.ice import enable_loopback_candidates
from session.media.relay import MediaRelay, RelayConfig
from session.meeting.runtime import MeetingRuntime
from session.meetings import meeting_exists
from session.planning.dropin_service import DropInService
from session.planning.journal_service import JournalService
from session.planning.service import PlanningService
from web import (
    a11y_pages,
    access_pages,
    authorization_setup,
    brukerpass_pages,
    brukerpass_staff_pages,
    call_ws,
    code_pages,
    confirm_pages,
    dropin_pages,
    dropin_staff_pages,
    entra_login,
    health,
    login,
    pages,
    planning_pages,
    recording_pages,
)
from web.auth import SessionSigner, load_or_create_secret
from web.cluster import run_heartbeat
from web.database import create_engine
from web.dev_idp import DevClient, DevUser, setup_dev_idp
from web.frame_processing import default_processor
from web.identity_providers import idporten_accepted_acr
from web.keys import (
    ACCESS,
    ACCESS_READS,
    ATTEMPTS,
    BRUKERPASS,
    BUS,
    CLOCK,
    DROPIN,
    ENGINE,
    JOURNAL,
    LINKS,
    LIVE,
    METRICS,
    OIDC,
    ORGS,
    PENDING,
    PLANNING,
    RECORDINGS,
    RECORDS,
    RELAY,
    SETTINGS,
    SIGNER,
    TEMPLATES,
    Clock,
    ClockAdapter,
)
from web.live import AppServices
from web.logging_setup import install_client_error_filter
from web.metrics import create_metrics
from web.middlewares import bad_input, domain_errors, error_pages, security_headers
from web.oidc import OidcClient, OidcSettings, PendingLoginCookie, private_key_from_jwk
from web.room_code_pages import room_pepper
from web.settings import Settings
from web.staff_auth import staff_gate

log = logging.getLogger(__name__)

DEMO_CITIZEN = DevUser("demo-brukerpass", "Berit Brukerpass (innbygger med brukerpass)")
"""The development provider's citizen: logs in like ID-porten, has no staff row, uses /brukerpass."""
ATTEMPT_SWEEP_S = 600.0
"""How often quiet attempt counts are forgotten and the table is cut down to its cap."""
STATIC = Path(__file__).with_name("static")
VENDOR = Path(__file__).resolve().parent.parent / "node_modules"


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    *,
    processor: FrameProcessor | None = None,
    clock: Clock = utc_now,
) -> web.Application:

    install_client_error_filter()
    app = web.Application(
        client_max_size=256 * 1024, middlewares=[security_headers, error_pages, bad_input, staff_gate, domain_errors]
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[METRICS] = create_metrics()
    secret = load_or_create_secret(settings.data_dir, settings.session_secret.value)
    app[SIGNER] = SessionSigner(secret)
    app[PENDING] = PendingLoginCookie(secret)
    app[BUS] = RevocationBus()
    oidc_settings = _oidc_settings(app, settings, secret)
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=only_said,
    )
    app[LIVE] = MeetingRuntime(AppServices(app), slots=settings.max_participants - 1)
    enable_loopback_candidates(settings.ice_loopback)

    async def storage(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app[ENGINE] = engine
        key = load_or_create_signing_key(settings.data_dir / "keys")
        records = app[RECORDS] = PrivacyRecords(engine, key, ClockAdapter(clock), meeting_known=meeting_exists)
        app[ACCESS] = Access(engine, records.audit, ClockAdapter(clock), app[BUS])
        app[ORGS] = Organisations(engine, records.audit)
        app[ACCESS_READS] = AccessService(engine, records.audit)
        attempts = DatabaseAttemptLimiter(engine, secret)
        app[ATTEMPTS] = attempts
        app[LINKS] = InvitationLinks(engine, records.audit, ClockAdapter(clock), LinkKeys(secret), limiter=attempts)
        app[DROPIN] = DropInService(engine)
        app[BRUKERPASS] = BrukerpassService(
            engine, records.audit, ClockAdapter(clock), hash_key=brukerpass_pages.hash_key(app)
        )
        app[JOURNAL] = JournalService(engine, records.consent, ClockAdapter(clock))
        app[PLANNING] = PlanningService(engine, app[LINKS], ClockAdapter(clock), pepper=room_pepper(app))
        watcher = asyncio.create_task(watch_revocations(engine, app[BUS]))
        forgetting = asyncio.create_task(_sweep_attempts(attempts, clock))
        sweeper: asyncio.Task[None] | None = None
        if settings.recordings_kek_file:
            service = app[RECORDINGS] = _recording_service(settings, engine, records, key, clock)
            await service.recover()
            sweeper = asyncio.create_task(_sweep(service))
        heartbeat: asyncio.Task[None] | None = None
        if engine.dialect.name != "sqlite":
            # Only a shared server database has other nodes to watch; on SQLite (one machine) a worker that dies is
            # started again under its own name and settles its recordings itself, and a beat's write would only
            # compete for SQLite's single write lock.
            heartbeat = asyncio.create_task(
                run_heartbeat(engine, settings.node_name, app.get(RECORDINGS), clock, lambda: app[LIVE].draining)
            )
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            app[OIDC] = OidcClient(oidc_settings, http)
            yield
        for task in (watcher, forgetting, sweeper, heartbeat):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await engine.dispose()

    async def media(app: web.Application) -> AsyncIterator[None]:
        executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="privacy")
        relay = MediaRelay(
            RelayConfig(
                slots=settings.max_participants - 1,
                deadline_s=settings.frame_deadline_ms / 1000,
                ice_servers=tuple(dict(s) for s in settings.ice_servers),
                ice_servers_now=lambda: settings.ice_servers_now(time.time()),
                ice_transport_policy=settings.ice_transport_policy,
                encode_once=settings.encode_once,
            ),
            processor if processor is not None else default_processor(),
            executor,
            pause_card,
            wall_clock=clock,
        )
        relay.on_counter = app[METRICS].count_frame
        relay.on_media_event = app[METRICS].count_media_event
        app[RELAY] = relay
        yield
        await app[LIVE].close_all()
        await relay.close_all()
        executor.shutdown(wait=True, cancel_futures=True)
        close = getattr(relay.processor, "close", None)
        if callable(close):
            close()

    app.cleanup_ctx.append(storage)
    app.cleanup_ctx.append(media)

    async def drain(app: web.Application) -> None:
        # on_shutdown runs while handlers are still alive: tell every participant before sockets close.
        await app[LIVE].close_all()
        if RECORDINGS in app:
            await app[RECORDINGS].close()

    app.on_shutdown.append(drain)
    health.setup_routes(app)
    pages.setup_routes(app)
    login.setup_routes(app)
    access_pages.setup_routes(app)
    recording_pages.setup_routes(app)
    code_pages.setup_routes(app)
    call_ws.setup_routes(app)
    planning_pages.setup_routes(app)
    dropin_pages.setup_routes(app)
    dropin_staff_pages.setup_routes(app, "/staff/dropin" + dropin_pages.PUBLIC)
    brukerpass_pages.setup_routes(app)
    brukerpass_staff_pages.setup_routes(app)
    entra_login.setup(app)
    authorization_setup.setup(app)
    confirm_pages.setup_routes(app)
    a11y_pages.setup_routes(app)
    app.router.add_static("/static/", STATIC, append_version=True)
    ds_css = VENDOR / "@navikt" / "ds-css" / "dist"
    if ds_css.is_dir():
        app.router.add_static("/vendor/ds-css/", ds_css)
    return app


def _recording_service(
    settings: Settings, engine: AsyncEngine, records: PrivacyRecords, key: Any, clock: Clock
) -> RecordingService:
    options = RecordingOptions(
        recordings_dir=settings.data_dir / "recordings",
        retention=RetentionPolicy(
            default=timedelta(days=min(settings.recordings_retention_days, settings.recordings_max_days)),
            maximum=timedelta(days=settings.recordings_max_days),
        ),
        export_allowed=settings.recordings_export,
        node=settings.node_name,
    )
    return RecordingService(
        engine,
        consent=records.consent,
        audit=records.audit,
        key_provider=FileKeyProvider(Path(settings.recordings_kek_file), not_inside=[settings.data_dir]),
        signing_key=key,
        clock=ClockAdapter(clock),
        options=options,
    )


async def _sweep(service: RecordingService, interval_s: float = 60.0) -> None:
    """Deadlines, interrupted deletions and overdue flags are handled by this loop, not by people."""
    while True:
        try:
            await service.sweep()
        except Exception:
            log.exception("recording sweep failed")
        await asyncio.sleep(interval_s)


async def _sweep_attempts(attempts: DatabaseAttemptLimiter, clock: Clock) -> None:
    """Keeps the attempt table bounded; every worker runs it, and a sweep that finds nothing writes nothing."""
    while True:
        try:
            await attempts.sweep(clock().timestamp())
        except Exception:
            log.exception("attempt sweep failed")
        await asyncio.sleep(ATTEMPT_SWEEP_S)


def _oidc_settings(app: web.Application, settings: Settings, secret: bytes) -> OidcSettings:
    """The configured provider, or in development mode the built-in one mounted on this app."""
    if settings.oidc_issuer:
        key, kid = (
            private_key_from_jwk(settings.oidc_client_jwk.value) if settings.oidc_client_jwk.value else (None, None)
        )
        return OidcSettings(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            redirect_uri=settings.oidc_redirect_uri,
            client_secret=settings.oidc_client_secret.value or None,
            auth_method="private_key_jwt" if key is not None else "client_secret_post",
            client_key=key,
            client_key_id=kid,
            acr_values=settings.oidc_acr_level,
            accepted_acr=idporten_accepted_acr(settings.oidc_acr_level),
        )
    client_secret = hashlib.sha256(b"dev-idp-client:" + secret).hexdigest()
    issuer = f"{settings.base_url}/dev-idp"

    async def demo_staff() -> list[DevUser]:
        # A citizen with a Brukerpass logs in through ID-porten too; they are no staff member.
        return [DevUser(subject, name) for subject, name in await active_subjects(app[ENGINE])] + [DEMO_CITIZEN]

    setup_dev_idp(
        app,
        issuer_url=issuer,
        dev_mode=settings.dev_mode,
        clients=[DevClient(settings.oidc_client_id, (settings.oidc_redirect_uri,), client_secret=client_secret)],
        users=demo_staff,
    )
    return OidcSettings(
        issuer=issuer,
        client_id=settings.oidc_client_id,
        redirect_uri=settings.oidc_redirect_uri,
        client_secret=client_secret,
        allow_http=True,
    )
