"""ICE configuration for the server side.

aioice never offers 127.0.0.1 as a host candidate, so a browser and the server on one machine (tests, a
single-machine demo) cannot meet over loopback. With ``loopback`` enabled the server adds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import aioice.ice
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

_original_get_host_addresses = aioice.ice.get_host_addresses


def _with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses = _original_get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    if use_ipv4 and "127.0.0.1" not in addresses:
        addresses.insert(0, "127.0.0.1")
    return addresses


def enable_loopback_candidates(enabled: bool) -> None:
    """Process-wide: aioice looks the function up at gathering time, so replacing it takes effect at once."""
    aioice.ice.get_host_addresses = _with_loopback if enabled else _original_get_host_addresses


def rtc_configuration(servers: Iterable[Mapping[str, object]], policy: str = "all") -> RTCConfiguration:
    """Always explicit: aiortc's default is a public STUN server, which must never be contacted implicitly.

    Max-bundle: with aiortc's default (balanced) policy a second video transceiver keeps the transport of the
    first one from before BUNDLE replaced it, so it never starts sending.
    """
    ice: list[RTCIceServer] = []
    for s in servers:
        urls = s["urls"]
        username = s.get("username")
        credential = s.get("credential")
        ice.append(
            RTCIceServer(
                urls=urls if isinstance(urls, str | list) else str(urls),
                username=str(username) if username is not None else None,
                credential=str(credential) if credential is not None else None,
            )
        )
    return RTCConfiguration(
        iceServers=ice,
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        iceTransportPolicy=RTCIceTransportPolicy.RELAY if policy == "relay" else RTCIceTransportPolicy.ALL,
    )
