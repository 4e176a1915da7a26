"""Headless Debian Chromium through Playwright, with a fake camera fed from a real video, and axe-core."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from playwright.async_api import Browser, Page, Playwright

from tests.media import REPO

CHROMIUM = "/usr/bin/chromium"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"


async def launch(
    pw: Playwright, camera_y4m: Path, executable: Path | str = CHROMIUM, extra_args: Sequence[str] = ()
) -> Browser:
    """``executable`` may be a wrapper that starts Chromium elsewhere (in a network namespace)."""
    return await pw.chromium.launch(
        executable_path=executable,
        args=[
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--allow-loopback-in-peer-connection",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_y4m}",
            "--autoplay-policy=no-user-gesture-required",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            *extra_args,
        ],
    )


AXE_LIMIT_S = 60.0


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """WCAG 2.0/2.1 A and AA violations that axe-core finds on the page as it is now.

    ``page.evaluate`` has no timeout of its own; an audit that never settles fails the test within a minute.
    """
    await page.add_script_tag(path=str(AXE))
    audit = page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    result: dict[str, Any] = await asyncio.wait_for(audit, AXE_LIMIT_S)
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]]


GRAB_JS = """(selector) => {
  const v = document.querySelector(selector);
  if (!v || !v.videoWidth) return null;
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(v, 0, 0);
  return c.toDataURL('image/png');
}"""


def decode_png(png: bytes) -> np.ndarray:
    """A grabbed frame as a BGR array."""
    import cv2

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image)


async def grab_frame(page: Page, selector: str) -> bytes | None:
    """The frame a <video> element shows now, as PNG bytes (what the person in front of it sees)."""
    import base64

    url = await page.evaluate(GRAB_JS, selector)
    if not url:
        return None
    return base64.b64decode(url.split(",", 1)[1])
