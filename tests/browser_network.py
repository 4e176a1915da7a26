"""A browser's own network: a network namespace joined to the host by a veth pair, whose link can be cut and
brought back with a new address (what a phone does when it moves from Wi-Fi to 4G).

Needs root (``ip netns``, ``ip link``); :func:`browser_network` skips the test where that is not possible.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser_support import CHROMIUM


def _ip(*args: str, namespace: str | None = None) -> None:
    cmd = ["ip", "netns", "exec", namespace, "ip", *args] if namespace else ["ip", *args]
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def _subnets_in_use() -> set[str]:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], check=True, capture_output=True, text=True).stdout
    return {".".join(word.split("/")[0].split(".")[:3]) for line in out.splitlines() for word in line.split()[3:4]}


@dataclass
class BrowserNetwork:
    """The namespace ``name``; the host's end of the link has ``host_ip``, the browser's end ``browser_ip``."""

    name: str
    host_link: str
    browser_link: str
    subnet: str
    browser_ip: str

    @property
    def host_ip(self) -> str:
        return f"{self.subnet}.1"

    def switch(self, last_octet: int) -> None:
        """The browser's network changes under it: the link goes down, its address is replaced, the link comes
        back. Connections bound to the old address are dead; nothing tells the other end."""
        _ip("link", "set", self.browser_link, "down", namespace=self.name)
        _ip("addr", "del", f"{self.browser_ip}/24", "dev", self.browser_link, namespace=self.name)
        self.browser_ip = f"{self.subnet}.{last_octet}"
        _ip("addr", "add", f"{self.browser_ip}/24", "dev", self.browser_link, namespace=self.name)
        _ip("link", "set", self.browser_link, "up", namespace=self.name)

    def chromium_wrapper(self, directory: Path) -> Path:
        """An executable that starts Chromium inside the namespace (Playwright talks to it over a pipe)."""
        wrapper = directory / "chromium-in-netns"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {self.name} {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
        return wrapper


@contextmanager
def browser_network() -> Iterator[BrowserNetwork]:
    """A fresh namespace and veth pair on a 10.77.x.0/24 subnet no interface uses; removed again on the way out,
    also when the test fails."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("a network namespace needs root and iproute2")
    used = _subnets_in_use()
    free = [n for n in range(1, 255) if f"10.77.{n}" not in used]
    if not free:
        pytest.skip("no free 10.77.x.0/24 subnet")
    n = free[os.getpid() % len(free)]
    tag = f"{os.getpid() % 100000}{n}"
    net = BrowserNetwork(f"sw{tag}", f"swh{tag}", f"swb{tag}", f"10.77.{n}", f"10.77.{n}.2")
    _ip("netns", "add", net.name)
    try:
        _ip("link", "add", net.host_link, "type", "veth", "peer", "name", net.browser_link, "netns", net.name)
        _ip("addr", "add", f"{net.host_ip}/24", "dev", net.host_link)
        _ip("link", "set", net.host_link, "up")
        _ip("link", "set", "lo", "up", namespace=net.name)
        _ip("addr", "add", f"{net.browser_ip}/24", "dev", net.browser_link, namespace=net.name)
        _ip("link", "set", net.browser_link, "up", namespace=net.name)
        yield net
    finally:
        subprocess.run(["ip", "link", "del", net.host_link], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", net.name], check=False, capture_output=True)
