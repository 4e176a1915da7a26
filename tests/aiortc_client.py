"""A participant written with aiortc, speaking the same signalling as the browser client (for tests, benches)."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from typing import Any

import aiohttp
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from av import VideoFrame

from session.media.ice import rtc_configuration

VIDEO_CLOCK = 90_000


class ArrayVideoTrack(VideoStreamTrack):
    """Plays BGR frames in a loop at ``fps``; ``on_frame`` may draw into each frame before it is sent."""

    def __init__(self, frames: list[np.ndarray], fps: int = 15) -> None:
        super().__init__()
        self.frames = frames
        self.fps = fps
        self.index = 0
        self.start: float | None = None
        self.sent_at: dict[int, float] = {}

    async def recv(self) -> VideoFrame:
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.index / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        bgr = self.frames[self.index % len(self.frames)]
        frame = VideoFrame.from_ndarray(bgr, format="bgr24")
        frame.pts = self.index * (VIDEO_CLOCK // self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.sent_at[self.index] = time.monotonic()
        self.index += 1
        return frame


class CallClient:
    """Connects to a join link, negotiates the fixed-slot layout and collects what arrives."""

    def __init__(self, link: str, video: MediaStreamTrack | None, session: aiohttp.ClientSession | None = None) -> None:
        """``session``: a logged-in staff session for a host link; otherwise a fresh device of its own."""
        self.link = link
        self.video = video
        self.messages: list[dict[str, Any]] = []
        self._own_session = session is None
        self.close_session = self._own_session
        self.session = session or aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.pc: RTCPeerConnection | None = None
        self.self_view: MediaStreamTrack | None = None
        self.slot_video: list[MediaStreamTrack] = []
        self.slot_audio: list[MediaStreamTrack] = []
        self._reader: asyncio.Task[None] | None = None
        self._new = asyncio.Event()

    async def open_signalling(self) -> dict[str, Any]:
        """Only the WebSocket, as far as ``config``: enough to take part in everything but media."""
        async with self.session.get(self.link) as page:  # as a browser does: the page sets the device cookie
            assert page.status == 200, page.status
        self.ws = await self.session.ws_connect(self.link.replace("http", "ws", 1) + "/ws")
        self._reader = asyncio.create_task(self._read())
        welcome = await self.wait_for("welcome")
        config = await self.wait_for("config")  # as the browser: the server's ICE servers and policy
        self.ice = config
        return welcome

    async def connect(self) -> None:
        welcome = await self.open_signalling()
        config = self.ice
        pc = self.pc = RTCPeerConnection(
            rtc_configuration(config.get("iceServers") or [], config.get("iceTransportPolicy") or "all")
        )
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        pc.addTransceiver(self.video or VideoStreamTrack(), direction="sendrecv")
        for _ in range(welcome["slots"]):
            pc.addTransceiver("audio", direction="recvonly")
            pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers before this returns
        await self.send({"type": "offer", "sdp": pc.localDescription.sdp})
        answer = await self.wait_for("answer")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        transceivers = pc.getTransceivers()
        self.self_view = transceivers[1].receiver.track
        self.slot_audio = [transceivers[2 + 2 * i].receiver.track for i in range(welcome["slots"])]
        self.slot_video = [transceivers[3 + 2 * i].receiver.track for i in range(welcome["slots"])]

    @property
    def pid(self) -> str:
        return str(self.messages[0]["participant"])

    async def enter(self, host: CallClient | None = None) -> None:
        """Ask to enter; a guest waits in the lobby until ``host`` admits them."""
        before = len(self.messages)
        await self.send({"type": "enter"})
        if host is not None:
            await self.wait_for("lobby", after=before)
            await host.send({"type": "admit", "participant": self.pid})
        await self.wait_for("entered", after=before)

    async def confirm_roster(self) -> None:
        before = len(self.messages)
        await self.send({"type": "roster-confirm"})
        await self.wait_for("roster", after=before, confirmed=True)

    async def consent_for(self, user: CallClient, scopes: list[str], **extra: Any) -> dict[str, Any]:
        """Oral consent for ``user``, recorded by this (staff) participant."""
        before = len(self.messages)
        await self.send(
            {
                "type": "consent",
                "participant": user.pid,
                "giver": "user",
                "form": "oral",
                "scopes": scopes,
                "purpose": "hodestotte",
                **extra,
            }
        )
        return await self.wait_for("consent-recorded", after=before)

    async def send(self, msg: dict[str, Any] | str) -> None:
        assert self.ws is not None
        await self.ws.send_str(msg if isinstance(msg, str) else json.dumps(msg))

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.messages.append(json.loads(msg.data))
                self._new.set()

    async def wait_for(self, kind: str, timeout: float = 10, after: int = 0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for m in self.messages[after:]:
                if m.get("type") == kind and all(m.get(k) == v for k, v in match.items()):
                    return m
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {kind!r} message; got {[m.get('type') for m in self.messages]}")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.send({"type": "leave"})
            await self.ws.close()
        if self.pc is not None:
            await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self.close_session:
            await self.session.close()


async def frames_from(track: MediaStreamTrack, count: int, timeout: float = 20) -> list[np.ndarray]:
    """Decode ``count`` frames from a received video track, as BGR arrays."""

    async def collect() -> list[np.ndarray]:
        out: list[np.ndarray] = []
        while len(out) < count:
            frame = await track.recv()
            assert isinstance(frame, VideoFrame)
            out.append(frame.to_ndarray(format="bgr24"))
        return out

    return await asyncio.wait_for(collect(), timeout)


async def host_client(base_url: str, link: str, video: MediaStreamTrack | None, staff_id: int = 1) -> CallClient:
    """A CallClient for a staff member's own (host) link: it logs in first, as the host's browser has."""
    from tests.live_server import RemoteServer, staff_client

    client = CallClient(link, video, session=await staff_client(RemoteServer(base_url), staff_id))
    client.close_session = True
    return client
