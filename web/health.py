"""Liveness, readiness and Prometheus metrics under /internal/ (for the platform, not for people)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from web.database import database_ready
from web.keys import ENGINE, LIVE, METRICS, RELAY


async def isalive(_request: web.Request) -> web.Response:
    return web.Response(text="ALIVE")


async def isready(request: web.Request) -> web.Response:
    if request.app[LIVE].draining or not await database_ready(request.app[ENGINE]):
        return web.Response(status=503, text="NOT READY")
    return web.Response(text="READY")


async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    m.peer_connections.set(len(request.app[RELAY]))
    m.participants.set(request.app[LIVE].participant_count())
    body = generate_latest(m.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/internal/isalive", isalive)
    app.router.add_get("/internal/isready", isready)
    app.router.add_get("/internal/metrics", metrics)
