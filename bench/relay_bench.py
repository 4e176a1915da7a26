"""Relay benchmark: N senders x M receivers at 640x480 / 15 fps on loopback, through the server and direct.

``.venv/bin/python -m bench.relay_bench`` runs the 1x1 and 2x2 scenarios for 10 s each (after a 2 s warm-up);
``--senders N --receivers M`` runs one scenario, ``--quick`` shortens everything (3 s, 1x1 by default). For
every scenario the same stamped cameras are measured through the relay (the server in its own process, so
its CPU time is its own) and over direct aiortc connections, one after the other so they do not share the two
cores. Printed: a table, and the whole result as one JSON line at the end.

What is measured, per path:
- server CPU ms per input frame: utime+stime of the server process over the window, divided by the frames the
  cameras produced in it, with a split by thread (event loop, encoders, decoders, privacy pool);
- delivered fps: frames each receiver decoded per second from each sender's track (stamp readable or not);
- latency p50/p90/p99: stamped frame handed to the sender's encoder side -> decoded frame at the receiver;
- no stamp: delivered frames whose stamp could not be read (cards, or an anonymizer mask over the stamp).

``--processor obscure-all`` runs the server with the whole-frame obscurer instead of the live anonymizer, which
separates the cost of relaying from the cost of anonymizing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.frame_stamp import MAX_SENDERS
from bench.relay_media import clip_background, synthetic_background
from bench.relay_paths import (
    MAX_PARTICIPANTS,
    REPO,
    BenchError,
    Rig,
    ServerProcess,
    direct_rig,
    relay_rig,
    running_server,
)
from bench.relay_stats import PathResult, Reading, summarize
from session.media.ice import enable_loopback_candidates
from session.media.rtp_receive import install as install_receive_layer

WIDTH, HEIGHT = 640, 480
SETTLE_S = 1.0
"""Pause between paths, so one path's teardown is not measured as the next one's cost."""


@dataclass(frozen=True, slots=True)
class Options:
    scenarios: tuple[tuple[int, int], ...] = ((1, 1), (2, 2))
    """(senders, receivers) pairs, run in this order."""
    seconds: float = 10.0
    """Length of each measured window."""
    warmup: float = 2.0
    """Time after media flows to every receiver and before the window opens (bandwidth estimation settles)."""
    paths: tuple[str, ...] = ("relay", "direct")
    audio: bool = False
    """Also send silent Opus audio from every sender (the server decodes and re-encodes it per receiver)."""
    clip: bool = False
    """Use the shared test clip (real faces) instead of the synthetic background."""
    server_dir: Path = REPO
    """Checkout whose server is measured (the clients always come from this one)."""
    fps: int = 15
    """Camera rate. Each aiortc receiver holds a frame until the next one's first packet: one interval per hop."""
    processor: str = "live"
    """``live``: the server's default frame processor; ``obscure-all``: the whole-frame obscurer."""
    receive_layer: bool = True
    """The clients' receivers use :mod:`session.media.rtp_receive` (False: plain aiortc, to compare)."""
    capped_receivers: int = 0
    """The first receivers connect from 127.0.0.2, which the network bench puts behind a rate cap."""


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    senders: int
    receivers: int
    paths: dict[str, PathResult]

    def added_latency_ms(self) -> dict[str, float] | None:
        relay, direct = self.paths.get("relay"), self.paths.get("direct")
        if relay is None or direct is None:
            return None
        r, d = relay.latency_ms, direct.latency_ms
        return {
            "p50": round(r.p50 - d.p50, 1),
            "p90": round(r.p90 - d.p90, 1),
            "ratio_p50": round(r.p50 / d.p50, 2) if d.p50 > 0 else math.nan,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "senders": self.senders,
            "receivers": self.receivers,
            **{name: result.to_json() for name, result in self.paths.items()},
            "relay_minus_direct_ms": self.added_latency_ms(),
        }


async def _reading(rig: Rig, server: ServerProcess | None, http: aiohttp.ClientSession, opening: bool) -> Reading:
    # The thread split and the metrics cost the server a little CPU: read them outside the window's edges.
    threads = outcomes = None
    if server is not None and opening:
        threads, outcomes = await server.thread_cpu(), await server.frame_outcomes(http)
    reading = Reading(
        time=time.monotonic(),
        frames_in=sum(s.produced for s in rig.sources),
        client_cpu_s=time.process_time(),
        load=os.getloadavg()[0],
        server_cpu_s=server.cpu_seconds() if server is not None else None,
    )
    if server is not None and not opening:
        threads, outcomes = await server.thread_cpu(), await server.frame_outcomes(http)
    return replace(reading, server_threads_s=threads, server_outcomes=outcomes)


async def measure(rig: Rig, server: ServerProcess | None, senders: int, receivers: int, opts: Options) -> PathResult:
    async with aiohttp.ClientSession() as http:
        await rig.wait_flowing(timeout=30)
        await asyncio.sleep(opts.warmup)
        before = await _reading(rig, server, http, opening=True)
        await asyncio.sleep(opts.seconds)
        after = await _reading(rig, server, http, opening=False)
    return summarize(
        rig.path, senders, receivers, rig.codec, rig.outgoing_streams, rig.logs, before, after, full_height=HEIGHT
    )


async def run_scenario(
    server: ServerProcess | None, senders: int, receivers: int, backgrounds: list[list[np.ndarray]], opts: Options
) -> ScenarioResult:
    results: dict[str, PathResult] = {}
    for path in opts.paths:
        kwargs: dict[str, Any] = {"backgrounds": backgrounds, "height": HEIGHT, "fps": opts.fps, "audio": opts.audio}
        kwargs["capped"] = opts.capped_receivers
        if path == "relay":
            assert server is not None
            rig = await relay_rig(server, senders, receivers, **kwargs)
        else:
            rig = await direct_rig(senders, receivers, **kwargs)
        try:
            results[path] = await measure(rig, server if path == "relay" else None, senders, receivers, opts)
        finally:
            await rig.close()
        await asyncio.sleep(SETTLE_S)
    return ScenarioResult(senders, receivers, results)


async def run(opts: Options) -> list[ScenarioResult]:
    enable_loopback_candidates(True)  # aioice skips 127.0.0.1 otherwise
    if opts.receive_layer:
        install_receive_layer()  # the clients' receivers as the server's (both paths alike)
    most = max(n for n, _ in opts.scenarios)
    if opts.clip:
        clip = clip_background(WIDTH, HEIGHT, opts.fps)
        backgrounds = [clip[i * len(clip) // most :] + clip[: i * len(clip) // most] for i in range(most)]
    else:
        backgrounds = [synthetic_background(WIDTH, HEIGHT, 30, seed=i) for i in range(most)]
    results: list[ScenarioResult] = []
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        if "relay" not in opts.paths:
            return [await run_scenario(None, n, m, backgrounds, opts) for n, m in opts.scenarios]
        async with running_server(Path(tmp), opts.server_dir, opts.processor) as server:
            for n, m in opts.scenarios:
                results.append(await run_scenario(server, n, m, backgrounds, opts))
    return results


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _finite(data: Any) -> Any:
    """NaN (no samples) as null, so that the JSON line is strict JSON."""
    if isinstance(data, float) and math.isnan(data):
        return None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def report(results: list[ScenarioResult], opts: Options) -> str:
    head = (
        f"Relay bench: {WIDTH}x{HEIGHT} @ {opts.fps} fps, loopback, {opts.seconds:g} s window after {opts.warmup:g} s "
        f"warm-up, {'clip' if opts.clip else 'synthetic'} camera, audio {'on' if opts.audio else 'off'}, "
        f"server processor: {opts.processor}"
    )
    cols = (
        f"{'NxM':<5}{'path':<8}{'codec':<6}{'in fps':>7}{'out':>5}{'fps/stream min/mean':>21}"
        f"{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'srv ms/frm':>11}{'srv cores':>10}{'cli ms/frm':>11}"
        f"{'cli cores':>10}{'no stamp':>9}{'load':>6}"
    )
    lines = [head, "", cols, "-" * len(cols)]
    notes: list[str] = []
    for sc in results:
        name = f"{sc.senders}x{sc.receivers}"
        for path, r in sc.paths.items():
            fps = r.fps_values
            lines.append(
                f"{name:<5}{path:<8}{r.codec:<6}{r.input_fps:>7.1f}{r.outgoing_streams:>5}"
                f"{f'{min(fps):.1f} / {sum(fps) / len(fps):.1f}':>21}"
                f"{_num(r.latency_ms.p50):>8}{_num(r.latency_ms.p90):>8}{_num(r.latency_ms.p99):>8}"
                f"{_num(r.server_cpu_ms_per_frame):>11}{_num(r.server_cores, 2):>10}"
                f"{r.client_cpu_ms_per_frame:>11.1f}{r.client_cores:>10.2f}{r.unstamped:>9}{r.machine_load:>6.1f}"
            )
            if r.server_threads_ms_per_frame:
                split = ", ".join(f"{k} {v:.1f}" for k, v in r.server_threads_ms_per_frame.items())
                notes.append(f"{name} relay server ms per input frame by thread: {split}")
            if r.self_view_latency_ms is not None:
                s = r.self_view_latency_ms
                notes.append(f"{name} relay self-view latency p50/p90: {_num(s.p50)} / {_num(s.p90)} ms")
            if r.misrouted:
                notes.append(f"{name} {path}: {r.misrouted} frames arrived on another sender's track (routing error)")
            if r.server_outcomes:
                inputs = round(r.input_fps * r.senders * r.seconds)
                outcomes = ", ".join(f"{k} {v:.0f}" for k, v in r.server_outcomes.items())
                notes.append(f"{name} relay privacy track, of ~{inputs} input frames: {outcomes}")
        added = sc.added_latency_ms()
        if added is not None:
            lines.append(
                f"{name:<5}{'relay − direct':<30}{'':>19}{added['p50']:>+8.1f}{added['p90']:>+8.1f}"
                f"   (relay p50 is {added['ratio_p50']:.2f}x direct)"
            )
    lines += ["", *notes]
    lines.append(
        "out = video streams encoded (by the server for relay: each sender's for itself, the other senders and the "
        "receivers; by the senders for direct); cli = this process "
        "(stamped cameras, encoders for direct, all decoders); no stamp = delivered frames whose stamp could not "
        "be read (cards, or an anonymizer mask over it): counted as delivered, not in the latency; load = the "
        f"machine's 1-min load average at the window's end, this bench and its server included ({os.cpu_count()} cores)"
    )
    return "\n".join(lines)


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--senders", type=int, help="one scenario with this many senders (default 1x1 and 2x2)")
    parser.add_argument("--receivers", type=int, help="... and this many receivers")
    parser.add_argument("--seconds", type=float, help="measured window per path (default 10, quick 3)")
    parser.add_argument("--warmup", type=float, help="seconds of flowing media before the window (default 2, quick 1)")
    parser.add_argument("--quick", action="store_true", help="short run: 1x1 unless given, 3 s windows")
    parser.add_argument("--fps", type=int, default=15, help="camera frame rate (default 15)")
    parser.add_argument("--only", choices=["relay", "direct"], help="measure one path only")
    parser.add_argument("--audio", action="store_true", help="senders also send (silent) Opus audio")
    parser.add_argument("--clip", action="store_true", help="camera shows the shared test clip (faces)")
    parser.add_argument(
        "--server-dir",
        type=Path,
        default=REPO,
        help="checkout whose server to measure (it must hold bench/relay_server.py)",
    )
    parser.add_argument(
        "--processor",
        choices=["live", "obscure-all"],
        default="live",
        help="server frame processor: the live default (anonymizer) or the whole-frame obscurer",
    )
    parser.add_argument(
        "--plain-clients",
        action="store_true",
        help="the bench's own receivers use plain aiortc (without session.media.rtp_receive)",
    )
    parser.add_argument(
        "--capped-receivers",
        type=int,
        default=0,
        help="the first N receivers connect from 127.0.0.2 (the network bench's --receiver-cap applies to them)",
    )
    args = parser.parse_args(argv)
    if args.senders is not None or args.receivers is not None:
        scenarios: tuple[tuple[int, int], ...] = ((args.senders or 1, args.receivers or 1),)
    else:
        scenarios = ((1, 1),) if args.quick else ((1, 1), (2, 2))
    for n, m in scenarios:
        if not 1 <= n <= MAX_SENDERS or m < 1 or n + m > MAX_PARTICIPANTS:
            parser.error(f"need 1..{MAX_SENDERS} senders, at least one receiver, at most {MAX_PARTICIPANTS} in all")
        if not 0 <= args.capped_receivers <= m:
            parser.error("--capped-receivers must be 0..the number of receivers")
    seconds = args.seconds if args.seconds is not None else (3.0 if args.quick else 10.0)
    warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    if not 0.5 <= seconds <= 600 or not 0 <= warmup <= 60 or not 1 <= args.fps <= 30:
        parser.error("--seconds must be 0.5..600, --warmup 0..60 and --fps 1..30")
    return Options(
        scenarios=scenarios,
        seconds=seconds,
        warmup=warmup,
        paths=(args.only,) if args.only else ("relay", "direct"),
        audio=args.audio,
        clip=args.clip,
        server_dir=args.server_dir.resolve(),
        fps=args.fps,
        processor=args.processor,
        receive_layer=not args.plain_clients,
        capped_receivers=args.capped_receivers,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)
    # Generous, but bounded: set-up and teardown of a path take a few seconds, media must flow within 30 s.
    budget = 120 + len(opts.scenarios) * len(opts.paths) * (opts.seconds + opts.warmup + SETTLE_S + 90)
    try:
        results = asyncio.run(asyncio.wait_for(run(opts), budget))
    except (BenchError, TimeoutError) as exc:
        print(f"relay bench failed: {_why(exc, budget)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # asyncio.run has cancelled the run: the server process is stopped already
        print("relay bench interrupted", file=sys.stderr)
        return 130
    print(report(results, opts), flush=True)
    config = {"width": WIDTH, "height": HEIGHT, **asdict(opts), "server_dir": str(opts.server_dir)}
    line = {"bench": "relay", "config": config, "scenarios": [r.to_json() for r in results]}
    print(json.dumps(_finite(line), allow_nan=False), flush=True)
    return 0


def _why(exc: BaseException, budget: float) -> str:
    """The message, or for a bare timeout where it happened (a wait inside the run, or the whole budget)."""
    if str(exc):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    inner = next((f for f in reversed(frames) if "/bench/" in f.filename or "/tests/" in f.filename), None)
    if inner is None:
        return f"took longer than {int(budget)} s"
    return f"timed out in {Path(inner.filename).name}:{inner.lineno} ({inner.name}: {inner.line})"


def _exit(code: int) -> None:
    """Exit even when a library thread was left blocked. aiortc's decoder threads are not daemons and end only
    when their receiver is stopped; one left behind (seen once in CI, after the results were printed) would
    keep a finished bench from exiting, and the smoke test would time out on a run that had measured all."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(timeout=2)
    stuck = sorted({t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon})
    if stuck:
        print(f"relay bench: threads left running ({', '.join(stuck)}); exiting anyway", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(code)
    raise SystemExit(code)


if __name__ == "__main__":
    _exit(main())
