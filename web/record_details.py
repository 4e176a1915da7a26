"""Times on the recordings' pages, in Europe/Oslo to the minute (topics and organisation names come from
``session.access.service.AccessService.topics_and_orgs``, looked up per page from ids)."""

from __future__ import annotations

from datetime import datetime

from web.audit_view import local_time


def local_minutes(moment: datetime | None, lang: str) -> str:
    """«24.11.2025, 10:03» in Europe/Oslo (the page says so once); «–» for none."""
    return "–" if moment is None else local_time(moment, lang).rsplit(":", 1)[0]
