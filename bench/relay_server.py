"""The real Samhandling server in its own process, for measuring the relay's CPU time apart from the clients.

Run by :mod:`bench.relay_bench` as ``python -m bench.relay_server --data-dir D``: it migrates, seeds the demo,
serves ``web.app.create_app`` on 127.0.0.1 with loopback ICE candidates (with its default frame processor,
or ``--processor obscure-all``), and prints one JSON line
``{"event": "ready", "url": ..., "pid": ...}``. It then answers JSON commands on stdin, one per line:

- ``{"cmd": "meeting", "roles": [...]}`` creates a meeting through the staff pages and answers with its join
  links, the host's first;
- ``{"cmd": "threads"}`` answers with the CPU seconds of this process's live threads, grouped by what they do
  (threads Python did not start, such as the inference runtimes' own pools, are "native threads").

End of stdin (the bench closed it, or died) stops the server cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.live_server import LiveServer

THREAD_GROUPS = (
    ("MainThread", "event loop"),
    ("privacy-strong", "anonymizer background detector"),
    ("privacy", "privacy pool"),
    ("asyncio", "encoders (default executor)"),
    ("video-decoder", "video decoders"),
    ("audio-decoder", "audio decoders"),
)


def proc_cpu_seconds(stat_path: str) -> float:
    """utime + stime from a ``/proc/.../stat`` file (the process's, or one thread's under ``task/``)."""
    with open(stat_path) as f:
        text = f.read()
    fields = text[text.rindex(")") + 2 :].split()  # fields from the third (state) on; comm may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(task_dir: str) -> float:
    """One thread's CPU time in nanosecond resolution (``schedstat``); utime+stime ticks where that is missing.

    Per-thread ticks are each rounded, and a dozen threads' rounding adds up to more than a short window's
    differences between them.
    """
    try:
        with open(f"{task_dir}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (FileNotFoundError, IndexError, ValueError):
        return proc_cpu_seconds(f"{task_dir}/stat")


def thread_group(name: str | None) -> str:
    if name is None:
        return "native threads"
    for prefix, group in THREAD_GROUPS:
        if name.startswith(prefix):
            return group
    return "other threads"


def thread_cpu() -> dict[str, float]:
    """CPU seconds of the live threads of this process by group (threads that ended are not listed)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    groups: dict[str, float] = defaultdict(float)
    for tid in os.listdir("/proc/self/task"):
        try:
            seconds = thread_cpu_seconds(f"/proc/self/task/{tid}")
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended while listing
        groups[thread_group(names.get(int(tid)))] += seconds
    return dict(groups)


async def _meeting(server: LiveServer, roles: list[str]) -> list[str]:
    from tests.live_server import create_meeting, staff_client

    client = await staff_client(server)
    try:
        links = await create_meeting(client, server, roles, topic="Ytelsesmåling")
    finally:
        await client.close()
    return [links["host"], *(links[r] for r in roles)]


async def serve(data_dir: Path, max_participants: int, processor_name: str) -> None:
    from tests.live_server import server_settings, start_server

    # SAMHANDLING_ENCODE_ONCE=false measures the per-receiver encoders aiortc runs by default.
    encode_once = os.environ.get("SAMHANDLING_ENCODE_ONCE", "true").lower() not in ("0", "false", "no", "off")
    settings = server_settings(data_dir, max_participants=max_participants, encode_once=encode_once)
    processor = None  # the server's own default
    if processor_name == "obscure-all":
        from tests.fakes import WholeFrameObscurer

        processor = WholeFrameObscurer()
    server = await start_server(settings, processor)
    try:
        import web.app

        ready = {"event": "ready", "url": server.url, "pid": os.getpid(), "source": web.app.__file__}
        print(json.dumps(ready), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            command = json.loads(line)
            reply: dict[str, Any]
            try:
                if command.get("cmd") == "meeting":
                    reply = {"event": "meeting", "links": await _meeting(server, list(command["roles"]))}
                elif command.get("cmd") == "threads":
                    reply = {"event": "threads", "cpu": thread_cpu()}
                else:
                    reply = {"event": "error", "message": "unknown command"}
            except Exception as exc:  # the bench shows it and stops; the server stays clean
                reply = {"event": "error", "message": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply), flush=True)
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--max-participants", type=int, default=6)
    parser.add_argument("--processor", choices=["live", "obscure-all"], default="live")
    args = parser.parse_args()
    asyncio.run(serve(args.data_dir, args.max_participants, args.processor))


if __name__ == "__main__":
    main()
