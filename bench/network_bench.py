"""Network bench: the relay bench inside a network namespace that loses UDP packets (and, optionally, caps rate).

``sudo .venv/bin/python -m bench.network_bench`` runs ``bench.relay_bench`` (relay and direct aiortc p2p, the
same stamped cameras, one after the other) at 0, 0.5, 2 and 5 % random UDP loss and prints one table: delivered
fps per stream (min/mean), latency p50/p90/p99, relay − direct p50, and the targets of issue 11 met or not.

Each condition gets a namespace of its own (``ip netns add``) with only ``lo`` up, so the loss touches nothing
else on the machine: an nft input chain drops ``numgen random mod 1000 < N`` of the UDP packets, which is loss in
both directions because every packet is received once. ``--cap KBIT`` adds ``tc ... tbf`` on ``lo`` (every link
of the call shares it; ``netem`` does not exist on these machines). ``--receiver-cap KBIT`` caps one receiver's
link only: that receiver connects from 127.0.0.2, and an ``htb`` qdisc sends what goes to that address through
a ``tbf`` while everything else passes as before; the table then shows each receiver on its own row.
Namespaces are deleted on exit, also on Ctrl-C. Needs root, ``ip``, ``nft`` and ``tc`` (``scripts/setup --test``
installs nftables and iproute2).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LOSSES_PERMILLE = (0, 5, 20, 50)


@dataclass(frozen=True, slots=True)
class Condition:
    loss_permille: int
    cap_kbit: int | None = None
    receiver_cap_kbit: int | None = None
    """Only the first receiver's link is capped (it connects from 127.0.0.2)."""

    @property
    def label(self) -> str:
        loss = f"{self.loss_permille / 10:g} % loss"
        if self.receiver_cap_kbit is not None:
            return f"{loss}, rcv0 {self.receiver_cap_kbit} kbit/s"
        return loss if self.cap_kbit is None else f"{loss}, {self.cap_kbit} kbit/s"


@dataclass(frozen=True, slots=True)
class PathNumbers:
    fps_min: float
    fps_mean: float
    p50: float | None
    p90: float | None
    p99: float | None
    load: float | None
    receivers: dict[str, dict[str, float | None]]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PathNumbers:
        fps = [float(v) for per_sender in data["delivered_fps"].values() for v in per_sender.values()]
        lat = data["latency_ms"]
        return cls(
            fps_min=min(fps) if fps else 0.0,
            fps_mean=sum(fps) / len(fps) if fps else 0.0,
            p50=lat.get("p50"),
            p90=lat.get("p90"),
            p99=lat.get("p99"),
            load=data.get("machine_load"),
            receivers=data.get("per_receiver", {}),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    condition: Condition
    relay: PathNumbers | None
    direct: PathNumbers | None
    error: str | None = None

    def targets(self) -> list[tuple[str, bool]]:
        """Issue 11's acceptance numbers that apply to this condition."""
        r, d = self.relay, self.direct
        if r is not None and self.condition.receiver_cap_kbit is not None:
            return _capped_targets(r)
        if r is None or d is None or self.condition.cap_kbit is not None:
            return []
        loss = self.condition.loss_permille
        checks: list[tuple[str, bool]] = []
        if loss == 0 and r.p50 is not None and d.p50 is not None:
            checks.append(("relay p50 ≤ direct + 40 ms", r.p50 <= d.p50 + 40))
        if loss == 20:
            checks.append(("every stream ≥ 13.5 fps", min(r.fps_min, d.fps_min) >= 13.5))
            checks.append(
                ("relay p50 ≤ direct + 100 ms", r.p50 is not None and d.p50 is not None and r.p50 <= d.p50 + 100)
            )
        if loss == 50:
            checks.append(("every stream ≥ 10 fps", r.fps_min >= 10))
            checks.append(("relay p99 ≤ 2 × p50", r.p50 is not None and r.p99 is not None and r.p99 <= 2 * r.p50))
        return checks


def _capped_targets(relay: PathNumbers) -> list[tuple[str, bool]]:
    """Issue 11 item 3: the capped receiver keeps ≥ 12 fps at the low quality with bounded delay; the other
    keeps the high quality."""
    capped, other = relay.receivers.get("receiver-0", {}), relay.receivers.get("receiver-1", {})

    def num(d: dict[str, float | None], key: str) -> float:
        value = d.get(key)
        return math.nan if value is None else float(value)

    return [
        ("capped receiver ≥ 12 fps", num(capped, "fps_min") >= 12),
        ("capped receiver mostly low quality (≥ 80 % of frames)", num(capped, "low_share") >= 0.8),
        ("capped receiver's delay bounded (p99 ≤ 2 × p50)", num(capped, "p99") <= 2 * num(capped, "p50")),
        ("other receiver keeps the high quality (≥ 95 % of frames)", num(other, "low_share") <= 0.05),
        ("other receiver ≥ 13.5 fps", num(other, "fps_min") >= 13.5),
    ]


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@contextlib.contextmanager
def namespace(name: str, condition: Condition) -> Iterator[str]:
    """A namespace with ``lo`` up, the loss rule and the rate cap; removed whatever happens."""
    _run("ip", "netns", "add", name)
    try:
        _run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        rules = (
            "table inet samhandling_loss {\n"
            "  chain input {\n"
            "    type filter hook input priority 0; policy accept;\n"
            f"    meta l4proto udp numgen random mod 1000 < {condition.loss_permille} drop\n"
            "  }\n"
            "}\n"
        )
        subprocess.run(["ip", "netns", "exec", name, "nft", "-f", "-"], input=rules, check=True, text=True)
        tc = ("ip", "netns", "exec", name, "tc")
        rate = f"{condition.cap_kbit or condition.receiver_cap_kbit}kbit"
        tbf = ("tbf", "rate", rate, "burst", "16kbit", "latency", "200ms")
        if condition.cap_kbit is not None:
            _run(*tc, "qdisc", "add", "dev", "lo", "root", *tbf)
        elif condition.receiver_cap_kbit is not None:
            # htb (prio is not built into these kernels): class 1:10, unlimited, for everything as without a
            # qdisc; what goes to the capped receiver through class 1:30, whose leaf tbf is the cap.
            _run(*tc, "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10")
            for leaf in ("1:10", "1:30"):
                _run(*tc, "class", "add", "dev", "lo", "parent", "1:", "classid", leaf, "htb", "rate", "10gbit")
            _run(*tc, "qdisc", "add", "dev", "lo", "parent", "1:30", "handle", "30:", *tbf)
            _run(
                *tc, "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                *("match", "ip", "dst", "127.0.0.2/32", "flowid", "1:30"),
            )  # fmt: skip
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def measure(condition: Condition, index: int, relay_args: list[str], timeout_s: float) -> Outcome:
    name = f"samh-net-{os.getpid()}-{index}"
    if condition.receiver_cap_kbit is not None:
        # One capped receiver and one that is not; time for the capped link to be found before the window.
        relay_args = [*relay_args, "--capped-receivers", "1", "--warmup", "8"]
        at = relay_args.index("--receivers")
        relay_args[at + 1] = str(max(2, int(relay_args[at + 1])))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        with namespace(name, condition):
            done = subprocess.run(
                ["ip", "netns", "exec", name, sys.executable, "-m", "bench.relay_bench", *relay_args],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=timeout_s,  # a peer connection that never closes must not hold the whole table
            )
    except subprocess.CalledProcessError as exc:
        return Outcome(condition, None, None, f"namespace set-up failed: {exc.stderr or exc}")
    except subprocess.TimeoutExpired:
        return Outcome(condition, None, None, f"relay bench did not finish within {timeout_s:.0f} s")
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"bench"')]
    if done.returncode != 0 or not lines:
        reason = [line for line in done.stderr.strip().splitlines() if "Error" in line or "error" in line]
        last = (reason or done.stderr.strip().splitlines() or ["relay bench failed"])[-1]
        return Outcome(condition, None, None, f"{last} (exit {done.returncode})")
    scenario = json.loads(lines[-1])["scenarios"][0]
    relay, direct = scenario.get("relay"), scenario.get("direct")
    return Outcome(
        condition,
        PathNumbers.from_json(relay) if relay else None,
        PathNumbers.from_json(direct) if direct else None,
    )


def _ms(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0f}"


def _receiver_rows(label: str, path: str, n: PathNumbers) -> list[str]:
    rows = []
    for receiver, r in sorted(n.receivers.items()):
        low = r.get("low_share")
        quality = "—" if low is None else f"{100 * (1 - low):.0f} % high"
        fps = r.get("fps_min") or 0.0
        rows.append(
            f"{label:<22} {path:<7} {receiver:<10} {fps:>5.1f} fps {_ms(r.get('p50')):>6} {_ms(r.get('p90')):>6}"
            f" {_ms(r.get('p99')):>6}  {quality}"
        )
    return rows


def report(outcomes: list[Outcome]) -> str:
    head = f"{'condition':<22} {'path':<7} {'fps min/mean':>13} {'p50':>6} {'p90':>6} {'p99':>6}"
    head += f" {'r−d p50':>8} {'load':>5}"
    lines = [head, "-" * len(head)]
    verdicts: list[str] = []
    for o in outcomes:
        if o.error:
            lines.append(f"{o.condition.label:<22} failed: {o.error}")
            continue
        diff = None
        if o.relay and o.direct and o.relay.p50 is not None and o.direct.p50 is not None:
            diff = o.relay.p50 - o.direct.p50
        for path, n in (("relay", o.relay), ("direct", o.direct)):
            if n is None:
                continue
            if o.condition.receiver_cap_kbit is not None:
                lines += _receiver_rows(o.condition.label, path, n)
                continue
            shown = f"{diff:+.0f}" if diff is not None and path == "relay" else ""
            load = f"{n.load:.1f}" if n.load is not None else "—"
            lines.append(
                f"{o.condition.label:<22} {path:<7} {n.fps_min:>5.1f} / {n.fps_mean:<5.1f}"
                f" {_ms(n.p50):>6} {_ms(n.p90):>6} {_ms(n.p99):>6} {shown:>8} {load:>5}"
            )
        verdicts += [f"{o.condition.label}: {name}: {'met' if ok else 'NOT met'}" for name, ok in o.targets()]
    lines.append("latency in ms (stamped frame into the sender -> decoded at the receiver); load = 1-min load average")
    return "\n".join([*lines, "", *verdicts])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.network_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--loss", type=float, nargs="+", help="loss in percent (default 0 0.5 2 5)")
    parser.add_argument("--cap", type=int, help="also run each loss with lo capped at this many kbit/s (tbf)")
    parser.add_argument(
        "--receiver-cap", type=int, help="also run each loss with one receiver's link capped at this many kbit/s"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window per path (default 15)")
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--receivers", type=int, default=1)
    parser.add_argument(
        "--processor", choices=["live", "obscure-all"], default="live", help="server frame processor (relay bench)"
    )
    parser.add_argument("--plain-clients", action="store_true", help="the bench's receivers use plain aiortc")
    parser.add_argument("--server-dir", type=Path, help="checkout whose server to measure (before/after)")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("ip", "nft", "tc") if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        print(f"network bench needs root and {', '.join(missing) or 'ip, nft, tc'}", file=sys.stderr)
        return 2
    losses = [round(x * 10) for x in args.loss] if args.loss else list(LOSSES_PERMILLE)
    conditions = [Condition(n) for n in losses]
    if args.cap:
        conditions += [Condition(n, args.cap) for n in losses]
    if args.receiver_cap:
        conditions += [Condition(n, receiver_cap_kbit=args.receiver_cap) for n in losses]
    relay_args = ["--senders", str(args.senders), "--receivers", str(args.receivers), "--seconds", str(args.seconds)]
    relay_args += ["--processor", args.processor]
    if args.plain_clients:
        relay_args.append("--plain-clients")
    if args.server_dir:
        relay_args += ["--server-dir", str(args.server_dir.resolve())]
    outcomes: list[Outcome] = []
    for i, condition in enumerate(conditions):
        outcomes.append(measure(condition, i, relay_args, timeout_s=240 + 2 * args.seconds))
        print(f"done: {condition.label}", file=sys.stderr, flush=True)
    print(report(outcomes), flush=True)
    print(json.dumps({"bench": "network", "args": relay_args, "outcomes": [_json(o) for o in outcomes]}), flush=True)
    return 0


def _json(o: Outcome) -> dict[str, Any]:
    def path(n: PathNumbers | None) -> dict[str, Any] | None:
        return None if n is None else {k: getattr(n, k) for k in PathNumbers.__slots__}

    return {"condition": o.condition.label, "relay": path(o.relay), "direct": path(o.direct), "error": o.error}


if __name__ == "__main__":
    raise SystemExit(main())
