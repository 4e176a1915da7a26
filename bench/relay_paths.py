"""The two paths the bench compares, set up from the same stamped cameras: through the server, and direct.

Relay: the server runs in its own process (:mod:`bench.relay_server`) so that its CPU time can be read from
``/proc``; every participant is a :class:`tests.aiortc_client.CallClient` in this process. Senders send the
stamped camera; receivers send no video (a switched-off camera) and watch their slots. The first sender
holds the host's link: it admits the others from the lobby and confirms the roster, as staff would. As in a real call,
every sender also sees its own processed view and the other senders, so the server encodes each input stream
``senders + receivers`` times. Direct: one aiortc connection per sender and receiver pair, no server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
import numpy as np
from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack

from bench.frame_stamp import Stamp
from bench.relay_media import SilentVideoTrack, StampedSource, TrackLog, drain, watch
from bench.relay_server import proc_cpu_seconds
from session.media.fanout import Fanout
from session.media.ice import rtc_configuration
from tests.aiortc_client import CallClient, host_client

REPO = Path(__file__).resolve().parent.parent
MEETING_ROLES = ("radgiver", "tekniker", "parorende", "leverandor", "formidler", "husbanken")
"""Roles for the links besides the host's. Not ``bruker``: a user's video may wait for consent."""
MAX_PARTICIPANTS = 1 + len(MEETING_ROLES)


CAPPED_ADDRESS = "127.0.0.2"
"""Receivers behind a rate cap are reached at this address (the network bench caps what goes to it)."""


@contextlib.contextmanager
def gathering_on(address: str | None) -> Iterator[None]:
    """ICE candidates gathered inside this block use ``address`` only (one receiver's own link)."""
    if address is None:
        yield
        return
    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [address]
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


class BenchError(Exception):
    """The bench cannot measure (server did not start, media never arrived); the message says what was seen."""


class ServerProcess:
    """``python -m bench.relay_server`` and its JSON-lines control pipe."""

    def __init__(self, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path
        self.url = ""
        self.pid = proc.pid
        self.source = ""

    async def _reply(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            if not line:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.proc.wait(), 5)
                raise BenchError(f"the server process ended (exit {self.proc.returncode}); log:\n{self.log_tail()}")
            if line.startswith(b"{"):
                reply: dict[str, Any] = json.loads(line)
                if reply.get("event") == "error":
                    raise BenchError(f"server: {reply.get('message')}")
                return reply

    async def command(self, cmd: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._reply(timeout)

    async def meeting(self, participants: int) -> list[str]:
        """Join links for a new meeting, the host's first."""
        reply = await self.command({"cmd": "meeting", "roles": list(MEETING_ROLES[: participants - 1])})
        return [str(link) for link in reply["links"]]

    async def thread_cpu(self) -> dict[str, float]:
        reply = await self.command({"cmd": "threads"})
        return {str(k): float(v) for k, v in reply["cpu"].items()}

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(f"/proc/{self.pid}/stat")

    async def frame_outcomes(self, http: aiohttp.ClientSession) -> dict[str, float]:
        """``samhandling_video_frames_total`` by outcome, from the Prometheus endpoint."""
        async with http.get(f"{self.url}/internal/metrics") as resp:
            text = await resp.text()
        found = re.findall(r'^samhandling_video_frames_total\{outcome="([^"]+)"\} (\S+)$', text, re.MULTILINE)
        return {outcome: float(value) for outcome, value in found}

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def stop(self) -> None:
        """Close the control pipe (the server shuts down cleanly), then terminate, then kill: always ends it."""
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        for attempt in (self.proc.terminate, self.proc.kill):
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
                return
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    attempt()
        await asyncio.wait_for(self.proc.wait(), 5)


@contextlib.asynccontextmanager
async def running_server(
    workdir: Path, server_dir: Path = REPO, processor: str = "live"
) -> AsyncIterator[ServerProcess]:
    """The relay server in its own process, with a fresh data directory under ``workdir``."""
    log_path = workdir / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)  # the server's packages come from ``server_dir`` alone
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.relay_server",
            "--data-dir",
            str(workdir / "data"),
            "--max-participants",
            str(MAX_PARTICIPANTS),
            "--processor",
            processor,
            cwd=server_dir,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
    server = ServerProcess(proc, log_path)
    try:
        ready = await server._reply(timeout=90)
        server.url, server.pid, server.source = ready["url"], int(ready["pid"]), ready["source"]
        yield server
    finally:
        await server.stop()


@dataclass
class Rig:
    """One path set up for measuring: the stamped cameras, one log per watched track, and its teardown."""

    path: str
    sources: list[StampedSource]
    logs: list[TrackLog] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    codec: str = "?"
    outgoing_streams: int = 0
    """Video streams encoded per set of input frames: by the server (relay) or by the senders (direct)."""

    def send_time(self, stamp: Stamp) -> float | None:
        if stamp.sender >= len(self.sources):
            return None
        return self.sources[stamp.sender].sent_at.get(stamp.counter)

    def watch(self, track: MediaStreamTrack, viewer: str, sender: int) -> None:
        log = TrackLog(viewer, sender)
        self.logs.append(log)
        self.tasks.append(asyncio.create_task(watch(track, log, self.send_time)))

    def drain(self, track: MediaStreamTrack) -> None:
        self.tasks.append(asyncio.create_task(drain(track)))

    async def wait_flowing(self, timeout: float) -> None:
        """Until every receiver has decoded a stamped frame from every sender (or, after a third of ``timeout``,
        any frame on every watched track); BenchError says who saw what."""
        deadline = time.monotonic() + timeout
        stamp_deadline = time.monotonic() + timeout / 3
        wanted = set(range(len(self.sources)))
        while True:
            seen: dict[str, set[int]] = {}
            for log in self.logs:
                if log.viewer.startswith("receiver-"):
                    seen.setdefault(log.viewer, set()).update(a[1] for a in log.arrivals)
            if seen and all(s >= wanted for s in seen.values()):
                return
            if time.monotonic() > stamp_deadline and all(log.arrivals or log.unreadable for log in self.logs):
                return  # frames flow, but none of some sender's carry a readable stamp (the report shows it)
            for task in self.tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise BenchError(f"{self.path}: a watcher failed") from task.exception()
            if time.monotonic() > deadline:
                unreadable = {log.viewer: len(log.unreadable) for log in self.logs if log.unreadable}
                raise BenchError(
                    f"{self.path}: stamped frames did not reach every receiver in {timeout:.0f} s; "
                    f"senders seen per receiver { ({k: sorted(v) for k, v in seen.items()}) }, "
                    f"frames without a readable stamp {unreadable} (cards mean the server did not let video through)"
                )
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        for close in self.closers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(close(), 10)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def video_codec(sdp: str) -> str:
    """The first (negotiated) codec of the first video section of an SDP answer."""
    match = re.search(r"^m=video \d+ \S+ (\d+)", sdp, re.MULTILINE)
    if match is None:
        return "?"
    name = re.search(rf"^a=rtpmap:{match.group(1)} ([^/\s]+)/", sdp, re.MULTILINE)
    return name.group(1) if name else "?"


def _sources(backgrounds: list[list[np.ndarray]], senders: int, height: int, fps: int) -> list[StampedSource]:
    return [StampedSource(i, backgrounds[i % len(backgrounds)], height, fps) for i in range(senders)]


async def _join(clients: list[CallClient], audio: bool, capped: frozenset[int] = frozenset()) -> None:
    """The host enters, admits everyone from the lobby, and confirms the roster (video flows only then).
    Clients whose index is in ``capped`` connect from :data:`CAPPED_ADDRESS`."""
    host = clients[0]
    try:
        for i, client in enumerate(clients):
            with gathering_on(CAPPED_ADDRESS if i in capped else None):
                await asyncio.wait_for(client.connect(), 30)
            if not audio:
                assert client.pc is not None
                client.pc.getTransceivers()[0].sender.replaceTrack(None)
            await client.enter(host=host if i > 0 else None)
        await host.confirm_roster()
    except TimeoutError as exc:
        raise BenchError(
            f"relay: joining the call did not complete ({exc}); if joining needs other steps now, "
            "bench/relay_paths.py:_join must take them"
        ) from None


async def relay_rig(
    server: ServerProcess,
    senders: int,
    receivers: int,
    *,
    backgrounds: list[list[np.ndarray]],
    height: int,
    fps: int,
    audio: bool,
    capped: int = 0,
) -> Rig:
    """Everyone joins one meeting on ``server``; sender 0 holds the host's link; the first ``capped``
    receivers connect from :data:`CAPPED_ADDRESS`."""
    links = await server.meeting(senders + receivers)
    rig = Rig("relay", _sources(backgrounds, senders, height, fps))
    fanouts = [Fanout(source) for source in rig.sources]
    # The host's link is personal: its client logs in as the staff member it was made for, as a browser would.
    clients = [await host_client(server.url, links[0], fanouts[0].subscribe() if senders else SilentVideoTrack())]
    clients += [
        CallClient(link, fanouts[i].subscribe() if i < senders else SilentVideoTrack())
        for i, link in enumerate(links)
        if i > 0
    ]
    rig.closers += [c.close for c in clients] + [f.stop for f in fanouts]
    try:
        await _join(clients, audio, frozenset(range(senders, senders + capped)))
        sender_of = {client.pid: i for i, client in enumerate(clients[:senders])}
        for i, client in enumerate(clients):
            shown: dict[int, int] = {}  # slot -> sender
            if i >= senders:
                for pid, sender in sender_of.items():
                    shown[(await client.wait_for("slot", participant=pid))["slot"]] = sender
            for slot, track in enumerate(client.slot_video):
                if slot in shown:
                    rig.watch(track, f"receiver-{i - senders}", shown[slot])
                else:  # other senders and receivers, as every participant sees them: decoded, not measured
                    rig.drain(track)
            for track in client.slot_audio:
                rig.drain(track)
            if client.self_view is not None and i < senders:
                rig.watch(client.self_view, f"self-{i}", i)
            elif client.self_view is not None:
                rig.drain(client.self_view)
        assert clients[0].pc is not None and clients[0].pc.remoteDescription is not None
        rig.codec = video_codec(clients[0].pc.remoteDescription.sdp)
        rig.outgoing_streams = senders * (senders + receivers)
    except BaseException:
        await rig.close()
        raise
    return rig


async def _direct_link(
    rig: Rig, video: MediaStreamTrack, viewer: str, sender: int, audio: bool, capped: bool = False
) -> None:
    offerer, answerer = RTCPeerConnection(rtc_configuration([])), RTCPeerConnection(rtc_configuration([]))
    rig.closers += [offerer.close, answerer.close]
    offerer.addTransceiver(video, direction="sendonly")
    if audio:
        offerer.addTransceiver(AudioStreamTrack(), direction="sendonly")
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    with gathering_on(CAPPED_ADDRESS if capped else None):
        await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)
    transceivers = answerer.getTransceivers()
    rig.watch(transceivers[0].receiver.track, viewer, sender)
    for t in transceivers[1:]:
        rig.drain(t.receiver.track)
    rig.codec = video_codec(answerer.localDescription.sdp)


async def direct_rig(
    senders: int,
    receivers: int,
    *,
    backgrounds: list[list[np.ndarray]],
    height: int,
    fps: int,
    audio: bool,
    capped: int = 0,
) -> Rig:
    """A peer connection from every sender to every receiver, both ends in this process."""
    rig = Rig("direct", _sources(backgrounds, senders, height, fps))
    fanouts = [Fanout(source) for source in rig.sources]
    rig.closers += [f.stop for f in fanouts]
    try:
        for s in range(senders):
            for r in range(receivers):
                link = _direct_link(rig, fanouts[s].subscribe(), f"receiver-{r}", s, audio, capped=r < capped)
                await asyncio.wait_for(link, 30)
        rig.outgoing_streams = senders * receivers
    except BaseException:
        await rig.close()
        raise
    return rig
