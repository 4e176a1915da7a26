"""Prometheus metrics, one registry per app (no module globals). Counts only: no labels carry people."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    frames: Counter
    ws_errors: Counter
    participants: Gauge
    peer_connections: Gauge

    def count_frame(self, outcome: str) -> None:
        self.frames.labels(outcome=outcome).inc()


def create_metrics() -> Metrics:
    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        frames=Counter(
            "samhandling_video_frames",
            "Video frames by privacy outcome (obscured = fail-closed replacement)",
            ["outcome"],
            registry=registry,
        ),
        ws_errors=Counter("samhandling_ws_errors", "Refused signalling messages", ["code"], registry=registry),
        participants=Gauge("samhandling_participants", "Connected participants", registry=registry),
        peer_connections=Gauge("samhandling_peer_connections", "Open peer connections", registry=registry),
    )
