"""Which quality of video one receiver's link carries: high, low, or none (audio only).

The signals are the receiver's own RTCP feedback: its estimate of what the link carries (REMB, one number for
the whole connection), and for each stream the round-trip time and the share of packets lost (receiver
reports). A link that cannot carry what it is sent queues first (the round trip grows), then drops (loss
above what radio links lose at random), and its receiver's estimate falls below the rate it is sent. Any of
these for a second means congestion, and the receiver is moved down a layer at once: queued video is late
video. Going up is a probe: a receiver estimates at most about 1.5 times what it gets, so the room a layer
needs cannot show before the layer is sent. After a quiet while the next layer up is tried; a probe that
congests the link is undone and the wait before the next one doubles. Audio is never part of the decision.

The room is measured first, without a keyframe: a switch to the high layer starts with one keyframe per stream,
which into an 800 kbit/s link alone queue 140 ms. The low layer goes on, and padding (resends of its newest
packets, :mod:`session.media.padding`) raises what the link is sent to the high layer's rate over
:data:`PAD_RAMP_S`, then holds it for :data:`PAD_HOLD_S`. Pings on the receiver's ICE pair
(:mod:`session.media.probe_ping`) see the queue the padding starts at a few tens of milliseconds; that, a fall
of an estimate, loss or NACKs end the padding, and the layer never changed. Only padding that went through clean
switches the layer, still as a probe.

A probe must fail fast: while it lasts the link is sent more than it may carry (2 x 900 kbit/s and two
keyframes into an 800 kbit/s link), and each of its seconds was seen to cost the capped receiver a second of
late or lost frames. So during a probe every report is decided on at once (a receiver report with the loss
waited up to half a second for the next tick), and the packets NACKed count too: NACKs come within a round
trip of the loss, receiver reports about once a second. So does any fall of the receiver's estimate (of the
whole link, or of one stream where the receiver estimates each on its own): its estimator lowers it as soon as
it sees a queue start, before the queue overflows. More than :data:`PROBE_NACKED` of the probed layer's
packets NACKed over :data:`PROBE_NACK_WINDOW_S` undoes the probe.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


class Layer(StrEnum):
    HIGH = "high"
    LOW = "low"
    NONE = "none"


HIGH_BPS = 900_000
"""The high layer's encoder rate (640x480 at 15 fps)."""
LOW_BPS = 200_000
"""The low layer's encoder rate (320x240)."""
AUDIO_ONLY_BELOW_BPS = 150_000
"""A link estimated below this that also loses packets carries no video: it stops both ways, audio continues."""
BELOW_SENT = 0.7
"""An estimate that fell below this share of the rate actually sent: the link does not carry it. Estimators
set about 0.85 of what arrives when they see a queue, and cap at 1.5 times what arrives: margin for both."""
MIN_SENT_BPS = 100_000
"""Below this the rate sent says little (a still picture, a keyframe's burst): only round trip and loss count."""
QUEUE_DELAY_S = 0.25
"""Round trip above the connection's lowest by this much: packets wait in a queue somewhere."""
CONGESTED_LOSS = 0.10
"""Loss above random radio loss (the call must shrug off 5 %): a queue that overflows."""
DOWN_AFTER_S = 1.0
"""Congestion must last this long (one report can be noise); during a probe it is undone at once."""
DRAIN_S = 2.0
"""After a step down the queue that built up still drains: reports in this time do not count against the new layer."""
PACKET_BYTES = 1200
"""About the size of a full video RTP packet: what a layer's rate is in packets, to weigh NACKs against."""
PROBE_NACKED = 0.25
"""Share of a probed layer's packets NACKed that undoes the probe: a probe into a link that carries less than
half of it loses far more; random loss of 5 % exceeds it over a window by chance about once in 10^4."""
PROBE_NACK_WINDOW_S = 0.25
"""NACKs are weighed over at least this long (fewer packets would make random loss look like a queue)."""
NACK_LOG = 256
"""Decisions with NACKs remembered (bounds a hostile receiver's flood; a window holds a few dozen)."""
PAD_RAMP_S = 2.0
"""Padding raises what the link is sent from the low layer's rate to the high one's over this long: past what the
link carries the queue then grows slowly enough for the pings to see it at a few tens of milliseconds."""
PAD_HOLD_S = 0.5
"""Then the high layer's rate is held this long before the layer is switched to."""
FIRST_PROBE_S = 8.0
MAX_PROBE_WAIT_S = 64.0
PROBE_SETTLE_S = 20.0
"""A probed layer held this long without congestion counts as carried: the next probe waits the first interval."""


_ORDER = (Layer.NONE, Layer.LOW, Layer.HIGH)


def _below(layer: Layer) -> Layer:
    return _ORDER[max(0, _ORDER.index(layer) - 1)]


def _above(layer: Layer) -> Layer:
    return _ORDER[min(len(_ORDER) - 1, _ORDER.index(layer) + 1)]


@dataclass(slots=True)
class LinkSignals:
    """The latest feedback of one receiver; None where it has not said."""

    estimate_bps: float | None = None
    fell: bool = False
    """The estimate went down since the last layer change: estimators lower it only when they see a queue."""
    sending_bps: float = 0.0
    rtts: tuple[float, ...] = ()
    """The last three round trips: one late report (a busy receiver) is not a queue, three in a row are."""
    min_rtt_s: float | None = None
    loss: float = 0.0
    nacked: int = 0
    """Packets NACKed (each once) since the last decision."""
    nacked_from: float | None = None
    """When NACKs began to count (a probe's start)."""
    nack_log: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=NACK_LOG))
    """(when decided, packets NACKed) over the last :data:`PROBE_NACK_WINDOW_S`."""
    queued: bool = False
    """Pings during a probe waited in a queue (:mod:`session.media.probe_ping`)."""

    def add_estimate(self, bps: float) -> None:
        if self.estimate_bps is not None and bps < 0.95 * self.estimate_bps:
            self.fell = True
        self.estimate_bps = bps

    def add_fall(self) -> None:
        """An estimate of part of the link fell (aiortc's receivers estimate each stream on its own): its
        estimator saw a queue, though its number says nothing about the whole link."""
        self.fell = True

    def add_rtt(self, rtt_s: float) -> None:
        self.rtts = (*self.rtts[-2:], rtt_s)
        self.min_rtt_s = rtt_s if self.min_rtt_s is None else min(self.min_rtt_s, rtt_s)

    def forget(self) -> None:
        """Loss, round trip and the estimate's fall were measured on the old rate; new reports will tell."""
        self.loss, self.rtts, self.fell, self.nacked, self.nacked_from = 0.0, (), False, 0, None
        self.nack_log.clear()
        self.queued = False

    def congested(self) -> bool:
        if len(self.rtts) == 3 and self.min_rtt_s is not None and min(self.rtts) - self.min_rtt_s >= QUEUE_DELAY_S:
            return True
        if self.loss >= CONGESTED_LOSS:
            return True
        # A low estimate counts only once it has fallen: a receiver's estimator starts low and ramps up (at the
        # start, after a step up), and a ramp is not congestion.
        if not self.fell or self.estimate_bps is None or self.sending_bps < MIN_SENT_BPS:
            return False
        return self.estimate_bps < BELOW_SENT * self.sending_bps


@dataclass(slots=True)
class LinkPolicy:
    """Pure state for one receiver: feed it signals, call ``decide(streams, now)`` on each report and about once
    a second; it returns the new layer when the one to send changed, else None. ``chosen_audio_only`` (the
    user's «Bare lyd») wins over every signal."""

    layer: Layer = Layer.HIGH
    chosen_audio_only: bool = False
    signals: LinkSignals | None = None
    changed_at: float = 0.0
    congested_since: float | None = None
    probing: bool = False
    pads: bool = False
    """The room for the high layer can be measured with padding first (the relay can send it)."""
    padding_since: float | None = None
    """When padding began to measure the room for the high layer (None: not padding)."""
    probe_wait_s: float = FIRST_PROBE_S
    probes: int = 0
    failed_probes: int = 0
    changes: int = 0

    def __post_init__(self) -> None:
        self.signals = self.signals or LinkSignals()

    @property
    def effective(self) -> Layer:
        return Layer.NONE if self.chosen_audio_only else self.layer

    @property
    def measuring(self) -> bool:
        """Padding or probing: the link is sent more than it has shown it carries; every report counts at once."""
        return self.probing or self.padding_since is not None

    def padding_target_bps(self, streams: int, now: float) -> float | None:
        """What the link should be sent now, media and padding together (None: no padding)."""
        if self.padding_since is None or self.chosen_audio_only:
            return None
        share = min(1.0, (now - self.padding_since) / PAD_RAMP_S)
        return max(1, streams) * (LOW_BPS + share * (HIGH_BPS - LOW_BPS))

    def choose_audio_only(self, on: bool) -> Layer | None:
        before = self.effective
        self.chosen_audio_only = on
        if on:
            self.padding_since = None  # nothing is sent to measure with
        return self.effective if self.effective != before else None

    def report(
        self,
        *,
        estimate_bps: float | None = None,
        rtt_s: float | None = None,
        loss: float | None = None,
        sending_bps: float | None = None,
        nacked: float | None = None,
        estimate_fell: bool = False,
    ) -> None:
        s = self.signals
        assert s is not None
        if estimate_bps is not None:
            s.add_estimate(estimate_bps)
        if estimate_fell:
            s.add_fall()
        if rtt_s is not None:
            s.add_rtt(rtt_s)
        if loss is not None:
            s.loss = loss
        if sending_bps is not None:
            s.sending_bps = sending_bps
        if nacked is not None:
            s.nacked += int(nacked)

    def queue_seen(self) -> None:
        """Pings on the receiver's ICE pair waited in a queue (:mod:`session.media.probe_ping`)."""
        assert self.signals is not None
        self.signals.queued = True

    def decide(self, streams: int, now: float) -> Layer | None:
        before = self.effective
        self._decide(streams, now)
        return self.effective if self.effective != before else None

    def _probe_lost(self, streams: int, now: float) -> bool:
        """The receiver NACKed more than :data:`PROBE_NACKED` of the probed layer's packets (its rate in
        :data:`PACKET_BYTES` packets) in the last :data:`PROBE_NACK_WINDOW_S`, a window that slides with each
        decision: a queue that overflows is seen at the report after it does, not at the end of a fixed window
        (which missed an overflow that began late in one window and was cut in two)."""
        s = self.signals
        assert s is not None
        if not self.measuring:
            return False
        if s.nacked_from is None:
            s.nacked_from = now
        if s.nacked:
            s.nack_log.append((now, s.nacked))
            s.nacked = 0
        while s.nack_log and s.nack_log[0][0] <= now - PROBE_NACK_WINDOW_S:
            s.nack_log.popleft()
        if now - s.nacked_from < PROBE_NACK_WINDOW_S:
            return False
        rate = {Layer.HIGH: HIGH_BPS, Layer.LOW: LOW_BPS, Layer.NONE: 0}[self.layer]
        expected = max(1, streams) * rate / 8 / PACKET_BYTES * PROBE_NACK_WINDOW_S
        return sum(n for _, n in s.nack_log) >= PROBE_NACKED * expected

    def _decide(self, streams: int, now: float) -> None:
        s = self.signals
        assert s is not None
        if self.chosen_audio_only:
            return  # nothing is sent, so nothing is learnt; the policy resumes where it was when video is wanted
        if self.padding_since is not None:
            self._pad(streams, now)
            return
        draining = not self.probing and now - self.changed_at < DRAIN_S and self.changes > 0
        if self.layer is not Layer.NONE and not draining and self._queue_signs(streams, now):
            self.congested_since = now if self.congested_since is None else self.congested_since
            if self.probing or now - self.congested_since >= DOWN_AFTER_S:
                # Audio only needs two signals: the link's own estimate under the floor, and loss. A receiver
                # busy with its CPU makes its estimate fall too (late packets look like a queue), but loses nothing.
                collapsed = (
                    s.estimate_bps is not None
                    and s.fell
                    and s.estimate_bps < AUDIO_ONLY_BELOW_BPS
                    and s.loss >= CONGESTED_LOSS
                )
                if collapsed:
                    target = Layer.NONE
                elif self.probing or self.layer is Layer.HIGH:
                    target = _below(self.layer)
                else:
                    # Round trip and loss alone never take video away: an overloaded receiver or server looks
                    # the same from here. Audio only is for a link whose own estimate says it carries no video.
                    return
                if self.probing:
                    self._measurement_failed()
                self._set(target, now)
            return
        self.congested_since = None
        held = now - self.changed_at
        if self.probing and held >= PROBE_SETTLE_S:
            self.probing, self.probe_wait_s = False, FIRST_PROBE_S
        if self.layer is not Layer.HIGH and not self.probing and held >= self.probe_wait_s:
            if self.layer is Layer.LOW and self.pads:
                self.padding_since = now  # measure the room first: no keyframe goes out before it shows
                self._restart_signals(now)
                return
            self._probe(now)

    def _queue_signs(self, streams: int, now: float) -> bool:
        """Congestion; and during a measurement (padding or probe) any fall of an estimate, pings that waited, or
        NACKs: a delay-based estimator lowers its estimate only when it sees a queue start, which comes before
        the loss and long before the receiver reports, and the pings see it sooner still."""
        s = self.signals
        assert s is not None
        measured = self.measuring and (s.fell or s.queued)
        return s.congested() or measured or self._probe_lost(streams, now)

    def _measurement_failed(self) -> None:
        self.failed_probes += 1
        self.probe_wait_s = min(MAX_PROBE_WAIT_S, self.probe_wait_s * 2)

    def _restart_signals(self, now: float) -> None:
        """Signals measured on the old rate are forgotten; NACKs count from now."""
        assert self.signals is not None
        self.signals.forget()
        self.signals.nacked_from = now

    def _probe(self, now: float) -> None:
        self.probes += 1
        self._set(_above(self.layer), now)
        self.probing = True

    def _pad(self, streams: int, now: float) -> None:
        """Padding: any sign of a queue ends it where it is (the layer never changed, no keyframe went out);
        padding that went through clean switches the layer up, still as a probe."""
        assert self.padding_since is not None
        if self._queue_signs(streams, now):
            self.padding_since = None
            self._measurement_failed()
            self.changed_at = now  # the wait for the next try starts now; the small queue drains meanwhile
            self._restart_signals(now)
            return
        if now - self.padding_since >= PAD_RAMP_S + PAD_HOLD_S:
            self.padding_since = None
            self._probe(now)

    def _set(self, layer: Layer, now: float) -> None:
        self.layer, self.changed_at, self.congested_since, self.probing = layer, now, None, False
        self.changes += 1
        self._restart_signals(now)
