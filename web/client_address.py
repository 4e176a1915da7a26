"""The client's address for rate limiting: the peer, or behind a configured trusted proxy, its forwarding header.

Behind a TLS proxy every request arrives from the proxy's address, so limits keyed on the peer would let one
guesser slow everyone down. Only hops that are configured as trusted proxies are skipped in ``X-Forwarded-For``
(right to left); anything a client wrote further left is ignored, so a client cannot choose its own key.
The address is only ever used through a keyed hash and is never stored or logged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(raw: str) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` → networks; ValueError names the entry that is not an address."""
    networks: list[Network] = []
    for part in raw.split(","):
        part = part.strip()
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"not an address or network: {part[:50]!r}") from None
    return tuple(networks)


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The first address that is not a trusted proxy, reading the chain from the peer backwards."""
    current = peer or "unknown"
    if not proxies or not _trusted(current, proxies) or not forwarded_for:
        return current
    hops = [h.strip() for h in forwarded_for[:2000].split(",") if h.strip()]
    for hop in reversed(hops):
        current = hop
        if not _trusted(hop, proxies):
            return hop
    return current
