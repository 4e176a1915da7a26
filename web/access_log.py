"""Access log by route pattern: ``/j/{token}`` is logged as the pattern, never the token or the client address."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

ACCESS = logging.getLogger("web.access")


class RouteAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = "unmatched"
        # A request refused before routing (a malformed request line) has no match info; reading the public
        # property then fails an assertion inside aiohttp, so look at the slot it fills.
        match_info = getattr(request, "_match_info", None) if isinstance(request, web.Request) else None
        if match_info is not None and match_info.route.resource is not None:
            route = match_info.route.resource.canonical
        ACCESS.info(
            "request",
            extra={"method": request.method, "route": route, "status": response.status, "ms": round(time * 1000, 1)},
        )
