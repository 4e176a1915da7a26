"""Load benchmark: K concurrent 2- or 3-person calls against ``samhandling serve --workers N``.

``.venv/bin/python -m bench.load_bench [--workers N] [--size 2|3] [--max-calls K] [--seconds S] [--clip]`` starts
the service as an operator does (its own processes, SQLite in a temporary directory), then for K = 1, 2, … joins K
calls of stamped aiortc cameras at 640x480 / 15 fps and measures over a window of S seconds:
- delivered fps: frames each participant decoded per second from each other participant (min and mean);
- latency p50/p90: stamped frame handed to the sender's encoder -> decoded at the receiver;
- server CPU: utime+stime of the front and all its workers over the window, in cores.
It stops after the first K whose minimum delivered fps falls below 14 and reports the largest K that held. The
cameras and decoders of the bench run on the same machine: on a shared 2-core machine they cost about as much as
the server, so the K found is a floor for a dedicated server. The whole result is one JSON line at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
import numpy as np

from bench.frame_stamp import Stamp
from bench.relay_media import StampedSource, TrackLog, clip_background, drain, synthetic_background, watch
from bench.relay_server import proc_cpu_seconds
from bench.relay_stats import Distribution
from tests.aiortc_client import CallClient
from tests.live_server import RemoteServer, create_meeting, free_port, staff_client

FPS, WIDTH, HEIGHT = 15, 640, 480
QUALITY_FPS = 14.0
ROLES = {2: ["bruker"], 3: ["bruker", "radgiver"]}


@dataclass
class Step:
    calls: int
    participants: int
    fps_min: float
    fps_mean: float
    latency_ms: Distribution
    server_cores: float
    load_average: float


def server_cpu(pid: int) -> float:
    """CPU seconds of the front and its live workers (children)."""
    total = proc_cpu_seconds(f"/proc/{pid}/stat")
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        for child in f.read().split():
            try:
                total += proc_cpu_seconds(f"/proc/{child}/stat")
            except FileNotFoundError:
                continue
    return total


@dataclass
class Call:
    clients: list[CallClient]
    sources: list[StampedSource]
    logs: list[TrackLog]
    tasks: list[asyncio.Task[None]]


def sent_time(source: StampedSource) -> Callable[[Stamp], float | None]:
    return lambda stamp: source.sent_at.get(stamp.counter)


async def join_call(url: str, staff: aiohttp.ClientSession, size: int, background: list[np.ndarray]) -> Call:
    links = await create_meeting(staff, RemoteServer(url), ROLES[size])
    sources = [StampedSource(i, background, HEIGHT, FPS) for i in range(size)]
    ordered = [links["host"], *(links[r] for r in ROLES[size])]
    clients = [CallClient(ordered[0], sources[0], session=staff)]
    clients[0].close_session = False
    clients += [CallClient(link, source) for link, source in zip(ordered[1:], sources[1:], strict=True)]
    host = clients[0]
    for i, client in enumerate(clients):
        await asyncio.wait_for(client.connect(), 60)
        await client.enter(host=host if i > 0 else None)
    await host.confirm_roster()
    await host.consent_for(clients[1], ["video", "audio"])  # the user's camera is shown only with consent
    logs: list[TrackLog] = []
    tasks: list[asyncio.Task[None]] = []
    for viewer, client in enumerate(clients):
        assert client.self_view is not None
        tasks.append(asyncio.create_task(drain(client.self_view)))
        used = set()
        for other in clients:
            if other is client:
                continue
            slot = await client.wait_for("slot", participant=other.pid, timeout=20)
            sender = clients.index(other)
            log = TrackLog(f"receiver-{viewer}", sender)
            source = sources[sender]
            track = client.slot_video[slot["slot"]]
            used.add(slot["slot"])
            tasks.append(asyncio.create_task(watch(track, log, sent_time(source))))
            logs.append(log)
        tasks += [asyncio.create_task(drain(t)) for i, t in enumerate(client.slot_video) if i not in used]
    return Call(clients, sources, logs, tasks)


def measure(calls: list[Call], start: float, end: float) -> tuple[list[float], list[float]]:
    rates, latencies = [], []
    for call in calls:
        for log in call.logs:
            stamped = [a for a in log.arrivals if start <= a[0] < end]
            unread = [t for t in log.unreadable if start <= t < end]
            rates.append((len(stamped) + len(unread)) / (end - start))
            latencies += [a[3] * 1000 for a in stamped if not math.isnan(a[3])]
    return rates, latencies


async def run(args: argparse.Namespace) -> list[Step]:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="samhandling-load-"))
    env = os.environ | {
        "SAMHANDLING_DATA_DIR": str(data / "var"),
        "SAMHANDLING_ICE_LOOPBACK": "true",
        "SAMHANDLING_DEV_MODE": "true",
        "SAMHANDLING_LOG_LEVEL": "WARNING",
        "SAMHANDLING_MAX_PARTICIPANTS": "6",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", "serve", "--demo", "--workers", str(args.workers), "--host", "127.0.0.1",
        "--port", str(port), env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    background = clip_background(WIDTH, HEIGHT, FPS) if args.clip else synthetic_background(WIDTH, HEIGHT, 30)
    steps: list[Step] = []
    calls: list[Call] = []
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(1800):
                try:
                    async with http.get(f"{url}/internal/isready") as resp:
                        states = [resp.status]
                    for w in range(args.workers):
                        async with http.get(f"{url}/internal/metrics?worker={w}") as resp:
                            states.append(resp.status)
                    if all(s == 200 for s in states):
                        break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
        staff = await staff_client(RemoteServer(url))
        for k in range(1, args.max_calls + 1):
            calls.append(await join_call(url, staff, args.size, background))
            await asyncio.sleep(args.warmup)
            cpu0, start = server_cpu(proc.pid), time.monotonic()
            await asyncio.sleep(args.seconds)
            cpu1, end = server_cpu(proc.pid), time.monotonic()
            rates, latencies = measure(calls, start, end)
            step = Step(k, k * args.size, round(min(rates), 1), round(float(np.mean(rates)), 1),
                        Distribution.of(latencies), round((cpu1 - cpu0) / (end - start), 2),
                        os.getloadavg()[0])  # fmt: skip
            steps.append(step)
            print(
                f"K={k:2d} ({step.participants} participants): fps min/mean {step.fps_min}/{step.fps_mean}, "
                f"p50/p90 {step.latency_ms.p50}/{step.latency_ms.p90} ms, server {step.server_cores} cores, "
                f"load {step.load_average:.1f}",
                flush=True,
            )
            if step.fps_min < QUALITY_FPS:
                break
        for call in calls:
            for client in call.clients:
                await client.close()
        await staff.close()
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 60)
        shutil.rmtree(data, ignore_errors=True)
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.load_bench", description=__doc__.split("\n")[0] if __doc__ else "")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--size", type=int, choices=(2, 3), default=2, help="participants per call")
    parser.add_argument("--max-calls", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0, help="measurement window per K")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clip", action="store_true", help="cameras play the test clip (real faces)")
    args = parser.parse_args(argv)
    steps = asyncio.run(run(args))
    held = [s.calls for s in steps if s.fps_min >= QUALITY_FPS]
    print(f"largest K holding {QUALITY_FPS} fps with {args.size}-person calls on {args.workers} workers: "
          f"{max(held) if held else 0}")  # fmt: skip
    print(json.dumps({"workers": args.workers, "size": args.size, "steps": [asdict(s) for s in steps],
                      "largest_k": max(held) if held else 0}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
