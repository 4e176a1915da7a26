"""From what the viewers logged in one measurement window to the numbers the bench reports.

Latency is arrival (decoded frame handed to the viewer) minus departure (stamped frame handed to the sender's
encoder side), both on this process's monotonic clock. A frame counts once per viewer even if it were to
arrive twice. Delivered frames are counted per track, whose sender is known from the signalling, so a frame
whose stamp cannot be read (a card, or an anonymizer mask over the stamp) still counts as delivered.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from bench.relay_media import TrackLog


@dataclass(frozen=True, slots=True)
class Reading:
    """Counters read at one instant; the bench takes one when the window opens and one when it closes."""

    time: float
    frames_in: int
    """Stamped frames the cameras have produced so far (every sender together)."""
    client_cpu_s: float
    load: float = 0.0
    """The machine's one-minute load average: other work competing for the same cores."""
    server_cpu_s: float | None = None
    server_threads_s: dict[str, float] | None = None
    server_outcomes: dict[str, float] | None = None


@dataclass(frozen=True, slots=True)
class Distribution:
    count: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values_ms: list[float]) -> Distribution:
        if not values_ms:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        p50, p90, p99 = (float(v) for v in np.percentile(values_ms, [50, 90, 99]))
        return cls(len(values_ms), round(p50, 1), round(p90, 1), round(p99, 1), round(max(values_ms), 1))


@dataclass(frozen=True, slots=True)
class PathResult:
    path: str
    senders: int
    receivers: int
    codec: str
    seconds: float
    input_fps: float
    """Per sender."""
    outgoing_streams: int
    delivered_fps: dict[str, dict[int, float]]
    """receiver -> sender -> frames decoded per second from that sender's track (stamp readable or not)."""
    latency_ms: Distribution
    """Over the frames with a readable stamp."""
    self_view_latency_ms: Distribution | None
    stamps_read: int
    unstamped: int
    """Delivered frames without a readable stamp (cards; an anonymizer mask over the stamp)."""
    misrouted: int
    """Stamped frames on a track that carries another sender (a relay routing error; must be 0)."""
    unmatched: int
    """Stamps whose send time was unknown (never expected; would mean a misread that passed the guards)."""
    client_cpu_ms_per_frame: float
    client_cores: float
    machine_load: float
    """One-minute load average when the window closed (2 cores here: above ~1.5 the numbers are contended)."""
    per_receiver: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """receiver -> its slowest stream's fps, its latency p50/p90/p99 and the share of frames below full height
    (the low layer), in the window: one receiver's link can differ from another's."""
    server_cpu_ms_per_frame: float | None = None
    server_cores: float | None = None
    server_threads_ms_per_frame: dict[str, float] = field(default_factory=dict)
    server_outcomes: dict[str, float] = field(default_factory=dict)

    @property
    def fps_values(self) -> list[float]:
        return [fps for by_sender in self.delivered_fps.values() for fps in by_sender.values()]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["delivered_fps"] = {r: {str(s): v for s, v in by.items()} for r, by in self.delivered_fps.items()}
        return data


@dataclass(slots=True)
class _Tally:
    """The window's share of the logs of viewers with one name prefix."""

    frames: dict[tuple[str, int], int] = field(default_factory=dict)
    """(viewer, track's sender) -> frames decoded, stamped or not."""
    latencies_ms: list[float] = field(default_factory=list)
    stamped: int = 0
    unstamped: int = 0
    misrouted: int = 0
    unmatched: int = 0


def _tally(logs: list[TrackLog], prefix: str, start: float, end: float) -> _Tally:
    tally = _Tally()
    for log in logs:
        if not log.viewer.startswith(prefix):
            continue
        seen: set[tuple[int, int]] = set()
        unstamped = sum(1 for t in log.unreadable if start <= t <= end)
        for t, sender, counter, latency in log.arrivals:
            if not start <= t <= end or (sender, counter) in seen:
                continue
            seen.add((sender, counter))
            tally.misrouted += sender != log.sender
            if math.isnan(latency):
                tally.unmatched += 1
            else:
                tally.latencies_ms.append(latency * 1000)
        key = (log.viewer, log.sender)
        tally.frames[key] = tally.frames.get(key, 0) + len(seen) + unstamped
        tally.stamped += len(seen)
        tally.unstamped += unstamped
    return tally


def _receiver_numbers(
    logs: list[TrackLog], viewer: str, fps: dict[int, float], start: float, end: float, full_height: int
) -> dict[str, float | None]:
    mine = [log for log in logs if log.viewer == viewer]
    latency = Distribution.of(_tally(mine, viewer, start, end).latencies_ms)
    heights = [h for log in mine for t, h in log.heights if start <= t <= end]
    return {
        "fps_min": min(fps.values(), default=0.0),
        "p50": latency.p50,
        "p90": latency.p90,
        "p99": latency.p99,
        "low_share": round(sum(1 for h in heights if h < full_height) / len(heights), 3) if heights else None,
        "height_min": float(min(heights)) if heights else None,
    }


def _delta(before: dict[str, float] | None, after: dict[str, float] | None) -> dict[str, float]:
    if before is None or after is None:
        return {}
    return {k: after[k] - before.get(k, 0.0) for k in sorted(after) if after[k] - before.get(k, 0.0) > 0}


def summarize(
    path: str,
    senders: int,
    receivers: int,
    codec: str,
    outgoing_streams: int,
    logs: list[TrackLog],
    before: Reading,
    after: Reading,
    full_height: int = 480,
) -> PathResult:
    """``full_height``: the cameras' height; frames below it were sent in the low layer."""
    seconds = after.time - before.time
    frames = max(after.frames_in - before.frames_in, 1)
    client_s = after.client_cpu_s - before.client_cpu_s
    received = _tally(logs, "receiver-", before.time, after.time)
    fps: dict[str, dict[int, float]] = {f"receiver-{r}": dict.fromkeys(range(senders), 0.0) for r in range(receivers)}
    for (viewer, sender), count in received.frames.items():
        fps[viewer][sender] = round(count / seconds, 2)
    self_view = _tally(logs, "self-", before.time, after.time)
    per_receiver = {
        viewer: _receiver_numbers(logs, viewer, by_sender, before.time, after.time, full_height)
        for viewer, by_sender in fps.items()
    }
    result = PathResult(
        path=path,
        senders=senders,
        receivers=receivers,
        codec=codec,
        seconds=round(seconds, 2),
        input_fps=round(frames / seconds / senders, 2),
        outgoing_streams=outgoing_streams,
        delivered_fps=fps,
        latency_ms=Distribution.of(received.latencies_ms),
        self_view_latency_ms=Distribution.of(self_view.latencies_ms) if self_view.frames else None,
        stamps_read=received.stamped,
        unstamped=received.unstamped,
        misrouted=received.misrouted,
        unmatched=received.unmatched,
        client_cpu_ms_per_frame=round(client_s * 1000 / frames, 2),
        client_cores=round(client_s / seconds, 3),
        machine_load=round(after.load, 2),
        per_receiver=per_receiver,
    )
    if before.server_cpu_s is None or after.server_cpu_s is None:
        return result
    server_s = after.server_cpu_s - before.server_cpu_s
    threads = _delta(before.server_threads_s, after.server_threads_s)
    threads_ms = {k: round(v * 1000 / frames, 2) for k, v in sorted(threads.items(), key=lambda kv: -kv[1])}
    rest = server_s - sum(threads.values())
    if rest > 0.005:
        threads_ms["other (ended threads, tick rounding)"] = round(rest * 1000 / frames, 2)
    return replace(
        result,
        server_cpu_ms_per_frame=round(server_s * 1000 / frames, 2),
        server_cores=round(server_s / seconds, 3),
        server_threads_ms_per_frame=threads_ms,
        server_outcomes=_delta(before.server_outcomes, after.server_outcomes),
    )
