"""Planning, invitations, pre-call check, repair diagnosis and the meeting summary (issue 7 pages)."""

from __future__ import annotations

from aiohttp import web


def setup_routes(app: web.Application) -> None:
    """Routes are added here as the pages land."""
