"""A real coturn (Debian ``coturn``) on 127.0.0.1 with ``use-auth-secret``, for the TURN tests.

It relays to loopback peers (the server and the browsers are all on 127.0.0.1) from a small port range of
its own, and writes its log to a file the tests read: an allocation there proves media really went through it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live_server import free_port

TURNSERVER = shutil.which("turnserver") or "/usr/sbin/turnserver"
needs_coturn = pytest.mark.skipif(
    not Path(TURNSERVER).exists(), reason="coturn is not installed (scripts/setup --test)"
)


@dataclass(frozen=True)
class Coturn:
    port: int
    secret: str
    log: Path
    relay_ports: range

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def peer_bytes(self, username: str) -> tuple[int, int]:
        """(received, sent) bytes between coturn and the peers of ``username``'s allocations: the media it relayed.

        coturn (``--verbose``) logs each allocation's counts every 4096 packets and when it ends, each time
        since its last report; the sum is what it relayed so far."""
        pattern = rf"peer usage: realm=<[^>]*>, username=<{re.escape(username)}>, rp=\d+, rb=(\d+), sp=\d+, sb=(\d+)"
        counts = re.findall(pattern, self.log_text())
        return sum(int(rb) for rb, _ in counts), sum(int(sb) for _, sb in counts)


@pytest.fixture
async def coturn(tmp_path: Path) -> AsyncIterator[Coturn]:
    port, secret = free_port(), secrets.token_hex(16)
    relay_low = 40000 + (port % 200) * 100
    log = tmp_path / "turn.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            TURNSERVER,
            *("-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}"),
            *("--use-auth-secret", f"--static-auth-secret={secret}", "--realm=samhandling.test"),
            *("--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers"),
            *(f"--min-port={relay_low}", f"--max-port={relay_low + 99}"),
            *(
                f"--pidfile={tmp_path / 'turn.pid'}",
                f"--userdb={tmp_path / 'turn.db'}",
                "--log-file=stdout",
                "--verbose",
            ),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        for _ in range(100):  # coturn listens on TCP and UDP on the same port
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("coturn did not start")
        yield Coturn(port, secret, log, range(relay_low, relay_low + 100))
    finally:
        proc.terminate()
        await proc.wait()
