"""The client's address behind a proxy this node trusts (the ``--workers`` front, or HAProxy with forwardfor).

Rate limits key on the client's address (hashed, never logged). Behind a proxy every request comes from the
proxy, so without this one person's failed attempts would block everybody. ``X-Forwarded-For`` is believed only
when the operator says the node is reachable through its proxy alone (``SAMHANDLING_TRUST_FORWARDED_FOR``; the
workers of ``serve --workers`` listen on loopback and always trust their front), and then only its last entry:
the address the trusted proxy itself saw; entries before it are whatever the client claimed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def forwarded_client(header: str | None, peer: str | None) -> str | None:
    """The last address in ``X-Forwarded-For`` if it is a valid IP address, else the connection's peer."""
    if header:
        last = header.rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            return peer
    return peer


@web.middleware
async def trust_forwarded_for(request: web.Request, handler: Handler) -> web.StreamResponse:
    client = forwarded_client(request.headers.get("X-Forwarded-For"), request.remote)
    if client is not None and client != request.remote:
        request = request.clone(remote=client)
    return await handler(request)
