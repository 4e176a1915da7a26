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
    media_events: Counter

    def count_frame(self, outcome: str) -> None:
        self.frames.labels(outcome=outcome).inc()

    def count_media_event(self, event: str) -> None:
        self.media_events.labels(event=event).inc()


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
        media_events=Counter(
            "samhandling_media_feedback",
            "Receivers' RTCP feedback handled by the relay: keyframe_request, keyframe, retransmission,"
            " retransmission_refused (over budget), keyframe_request_coalesced, subscriber_resync",
            ["event"],
            registry=registry,
        ),
    )
