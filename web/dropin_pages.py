"""The technical department's drop-in: a direct address per department, a queue, technicians take the next."""

from __future__ import annotations

from aiohttp import web


def setup_routes(app: web.Application) -> None:
    """Routes are added here as the pages land."""
