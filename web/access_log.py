"""Access log by route pattern: ``/j/{token}`` is logged as the pattern, never the token or the client address."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

ACCESS = logging.getLogger("web.access")


class RouteAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = "unmatched"
        if isinstance(request, web.Request) and request.match_info.route.resource is not None:
            route = request.match_info.route.resource.canonical
        ACCESS.info(
            "request",
            extra={"method": request.method, "route": route, "status": response.status, "ms": round(time * 1000, 1)},
        )
