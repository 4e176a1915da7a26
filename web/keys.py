"""The typed application state: one ``web.AppKey`` per service, read by handlers and filled by ``web.app``.

The keys live apart from the composition root so that a handler module never imports ``web.app``: the app imports
the handlers (to add their routes), the handlers import only these keys, and there is no import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.ledgers import PrivacyRecords
from recordings.service import RecordingService
from session.access.attempt_limits import AttemptLimiter
from session.access.brukerpass_service import BrukerpassService
from session.access.delegation import Access
from session.access.invitation_links import InvitationLinks
from session.access.organisations import Organisations
from session.access.revocation import RevocationBus
from session.access.service import AccessService
from session.media.relay import MediaRelay
from session.meeting.runtime import MeetingRuntime
from session.planning.dropin_service import DropInService
from session.planning.journal_service import JournalService
from session.planning.service import PlanningService
from web.auth import SessionSigner
from web.metrics import Metrics
from web.oidc import OidcClient, PendingLoginCookie
from web.settings import Settings

Clock = Callable[[], datetime]

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
RELAY = web.AppKey("relay", MediaRelay)
METRICS = web.AppKey("metrics", Metrics)
SIGNER = web.AppKey("signer", SessionSigner)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
LIVE = web.AppKey("live", MeetingRuntime)
"""The live meetings of this process: the socket handler translates messages into calls on it."""
RECORDS = web.AppKey("records", PrivacyRecords)
BUS = web.AppKey("revocation_bus", RevocationBus)
ACCESS = web.AppKey("access", Access)
ACCESS_READS = web.AppKey("access_reads", AccessService)
ORGS = web.AppKey("organisations", Organisations)
LINKS = web.AppKey("links", InvitationLinks)
ATTEMPTS: web.AppKey[AttemptLimiter] = web.AppKey("attempts")
"""Failed guesses (join codes, room codes) per keyed hash of a client, counted in the shared database."""
OIDC = web.AppKey("oidc", OidcClient)
PENDING = web.AppKey("pending_login", PendingLoginCookie)
PLANNING = web.AppKey("planning", PlanningService)
JOURNAL = web.AppKey("journal", JournalService)
DROPIN = web.AppKey("dropin", DropInService)
BRUKERPASS = web.AppKey("brukerpass", BrukerpassService)
RECORDINGS = web.AppKey("recordings", RecordingService)
"""Present only when a key-encryption key is configured: without one, nothing can be recorded."""


class ClockAdapter:
    """The privacy records take an object with ``now()``; the app takes a plain callable."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()
