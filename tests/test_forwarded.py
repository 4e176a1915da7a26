"""The client's address behind a trusted proxy: the proxy's own entry only, and nothing that is not an address."""

from __future__ import annotations

from web.forwarded import forwarded_client


def test_the_last_entry_is_the_one_the_trusted_proxy_saw() -> None:
    assert forwarded_client("203.0.113.9", "127.0.0.1") == "203.0.113.9"
    assert forwarded_client("10.9.9.9, 198.51.100.4", "127.0.0.1") == "198.51.100.4"  # the first is the client's claim
    assert forwarded_client(" 2001:db8::1 ", "127.0.0.1") == "2001:db8::1"


def test_without_a_usable_header_the_peer_counts() -> None:
    assert forwarded_client(None, "127.0.0.1") == "127.0.0.1"
    assert forwarded_client("", "127.0.0.1") == "127.0.0.1"
    assert forwarded_client("evil, not-an-address", "127.0.0.1") == "127.0.0.1"
