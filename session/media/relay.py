"""The media relay: one aiortc peer connection per participant, fixed receive slots, no renegotiation.

The browser offers, in this order: audio (send), video (send, and receive its own processed view back), then
``slots`` pairs of audio+video receive-only transceivers. The server answers once; afterwards who appears in
which slot is changed by switching the slot's permanent :class:`SlotTrack` and announced over signalling, so
people joining, leaving and rejoining never
renegotiate. Inbound video is reachable only through the participant's :class:`PrivacyTrack`: the fan-outs
are built from it, and the raw track object is never handed to a sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from privacy.user_text import Text
from privacy.vision.privacy_track import CLOSED, FrameProcessor, PrivacyTrack, utc_now
from session.media.fanout import Fanout
from session.media.ice import rtc_configuration
from session.media.ice_consent import install as install_consent_check
from session.media.link_feedback import ReceiverLink, watch_sender_feedback
from session.media.padding import send_padding
from session.media.probe_ping import ping_while_probing
from session.media.rtcp_guard import guard_video_sender
from session.media.rtp_receive import install as install_receive_layer
from session.media.shared_encoder import EncodedTrack, SenderTimeline, SharedEncoder
from session.media.slot_track import SlotTrack

log = logging.getLogger(__name__)

LINK_TICK_S = 0.5
"""How often each receiver's link is measured and its layer decided."""


class OfferRejected(Exception):
    """The browser's offer cannot be used; the message is for people, the SDP is never logged."""


@dataclass(slots=True)
class _Media:
    pc: RTCPeerConnection
    privacy: PrivacyTrack | None = None
    video: Fanout | None = None
    audio: Fanout | None = None
    encoder: SharedEncoder | None = None
    """One VP8 encoding of the processed stream for every receiver (None when a receiver needs another codec)."""
    self_view: MediaStreamTrack | None = None
    self_sender: RTCRtpSender | None = None
    slot_senders: list[tuple[RTCRtpSender, RTCRtpSender]] = field(default_factory=list)
    slot_switches: list[tuple[SlotTrack, SlotTrack]] = field(default_factory=list)
    """Each slot's audio and video sender reads one SlotTrack for the connection's life; only its source changes."""
    slot_tracks: dict[int, tuple[MediaStreamTrack | None, MediaStreamTrack | None]] = field(default_factory=dict)
    timelines: dict[int, SenderTimeline] = field(default_factory=dict)
    """Per video sender (by id): the timestamps it has sent, continued by whichever stream it carries next."""
    tracks_ready: asyncio.Event = field(default_factory=asyncio.Event)
    link: ReceiverLink | None = None
    """What this participant's link carries: the layer of every shared-encoder stream sent to them."""

    async def pad(self, budget: int) -> int:
        """About ``budget`` bytes of padding on the video streams sent to this participant (to measure the link)."""
        return await send_padding([sender for sender, _ in self._encoded_senders()], budget)

    def encoded_streams(self) -> list[tuple[int, EncodedTrack]]:
        """(sender SSRC, shared-encoder track) of every video stream sent to this participant."""
        return [(sender._ssrc, track) for sender, track in self._encoded_senders()]

    def _encoded_senders(self) -> list[tuple[RTCRtpSender, EncodedTrack]]:
        pairs: list[tuple[RTCRtpSender | None, MediaStreamTrack | None]] = [(self.self_sender, self.self_view)]
        pairs += [(self.slot_senders[slot][1], video) for slot, (_, video) in self.slot_tracks.items()]
        return [(sender, t) for sender, t in pairs if sender is not None and isinstance(t, EncodedTrack)]


def _nothing(*_args: object) -> None:
    return None


@dataclass(frozen=True, slots=True)
class MediaEvents:
    """What one participant's connection tells the meeting (each called from the event loop, never awaited)."""

    lost: Callable[[], object] = _nothing
    """It failed or closed by itself (ICE consent lapsed, DTLS failed): the browser should reconnect at once."""
    connected: Callable[[], object] = _nothing
    """It carries media (first connection or a reconnection)."""
    link: Callable[[bool], object] = _nothing
    """True: the link cannot carry video (none is sent to them; they should send none); False: it can again."""


@dataclass(frozen=True, slots=True)
class RelayConfig:
    slots: int
    deadline_s: float
    ice_servers: tuple[dict[str, object], ...] = ()
    ice_servers_now: Callable[[], Sequence[Mapping[str, object]]] | None = None
    """When given, called per connection instead of ``ice_servers`` (fresh time-limited TURN credentials)."""
    ice_transport_policy: str = "all"
    encode_once: bool = True


class MediaRelay:
    """Owns every peer connection of one server process."""

    def __init__(
        self,
        config: RelayConfig,
        processor: FrameProcessor,
        executor: Executor,
        card: Callable[[int, int, str], np.ndarray],
        *,
        wall_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        install_receive_layer()  # complete frames leave at once; lost packets are asked for again or skipped
        install_consent_check()  # a late answer to an ICE consent check still counts; 30 s of silence ends it
        self.config = config
        self.processor = processor
        self._executor = executor
        self._card = card
        self._wall_clock = wall_clock
        """The clock a face-visible gate's end is read on (the app's, so the consent ledger and the gate agree)."""
        self._media: dict[str, _Media] = {}
        self._gates: dict[str, tuple[str, bool, datetime | None]] = {}
        self._audio_only: set[str] = set()
        """Participants who chose «Bare lyd»: kept across reconnections, like the gates."""
        self._ticker: asyncio.Task[None] | None = None
        self.on_counter: Callable[[str], None] | None = None
        self.on_media_event: Callable[[str], None] | None = None
        """Counts feedback handling (keyframe requests, retransmissions, refusals, subscriber resyncs)."""

    def peer_connection(self, pid: str) -> RTCPeerConnection | None:
        media = self._media.get(pid)
        return media.pc if media else None

    def privacy_track(self, pid: str) -> PrivacyTrack | None:
        media = self._media.get(pid)
        return media.privacy if media else None

    async def negotiate(
        self,
        pid: str,
        offer_sdp: str,
        events: MediaEvents | None = None,
    ) -> str:
        """Answer the browser's offer; OfferRejected when it does not have the agreed layout.

        A second offer from the same participant is a reconnection (the browser's network changed, or its
        connection failed): the old connection is closed and replaced, the gates stay. ``events`` hears of
        this connection's life (see :class:`MediaEvents`)."""
        old = self._media.pop(pid, None)
        try:
            answer = await self._negotiate(pid, offer_sdp, events or MediaEvents())
        except BaseException:  # refused, timed out or cancelled: a working connection stays as it was
            await self._close_media(pid)
            if old is not None:
                self._media[pid] = old
            raise
        if old is not None:
            await self._shutdown(old)
        return answer

    async def _negotiate(
        self,
        pid: str,
        offer_sdp: str,
        events: MediaEvents,
    ) -> str:
        servers = self.config.ice_servers_now() if self.config.ice_servers_now else self.config.ice_servers
        pc = RTCPeerConnection(rtc_configuration(servers, self.config.ice_transport_policy))
        media = _Media(pc)
        media.link = ReceiverLink(
            media.encoded_streams,
            on_audio_only=events.link,
            pad=media.pad,
            ping=functools.partial(ping_while_probing, pc),
        )
        if pid in self._audio_only:
            media.link.choose_audio_only(True)
        self._media[pid] = media
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.ensure_future(self._tick_links())

        def state_changed() -> None:
            if self._media.get(pid) is not media:
                return
            if pc.connectionState == "connected":
                events.connected()
            elif pc.connectionState in ("failed", "closed"):
                pc.remove_listener("connectionstatechange", state_changed)
                self._media_event("connection_lost")
                events.lost()

        pc.on("connectionstatechange", state_changed)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception:
            raise OfferRejected(Text("err.offer.sdp")) from None
        transceivers = pc.getTransceivers()
        expected = ["audio", "video"] + ["audio", "video"] * self.config.slots
        if [t.kind for t in transceivers] != expected:
            raise OfferRejected(Text("err.offer.layout"))

        audio_in, video_in = transceivers[0].receiver.track, transceivers[1].receiver.track
        media.privacy = PrivacyTrack(
            video_in,
            self.processor,
            executor=self._executor,
            deadline_s=self.config.deadline_s,
            card=self._card,
            wall_clock=self._wall_clock,
        )
        media.privacy.on_counters = self.on_counter
        media.video = Fanout(media.privacy)
        media.audio = Fanout(audio_in)
        self._apply_gates(pid)
        video_transceivers = [t for t in transceivers if t.kind == "video"]
        if self.config.encode_once and all(_vp8(t) for t in video_transceivers):
            media.encoder = SharedEncoder(media.video.subscribe(), self._executor)
            media.encoder.on_event = self._media_event
        # The participant's own processed view comes back on the video transceiver they send on.
        transceivers[0].direction = "recvonly"
        transceivers[1].direction = "sendrecv"
        media.self_sender = transceivers[1].sender
        media.self_view = self._video_for(media, media, transceivers[1].sender)
        transceivers[1].sender.replaceTrack(media.self_view)
        for i in range(self.config.slots):
            a, v = transceivers[2 + 2 * i], transceivers[3 + 2 * i]
            a.direction = v.direction = "sendonly"
            media.slot_senders.append((a.sender, v.sender))
            switches = (SlotTrack("audio"), SlotTrack("video"))
            a.sender.replaceTrack(switches[0])
            v.sender.replaceTrack(switches[1])
            media.slot_switches.append(switches)
        try:
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            raise OfferRejected(Text("err.offer.answer")) from None
        return pc.localDescription.sdp

    def set_audio_only(self, pid: str, on: bool) -> None:
        """The participant's «Bare lyd»: no video is sent to them (they send none either; their browser stops it)."""
        (self._audio_only.add if on else self._audio_only.discard)(pid)
        media = self._media.get(pid)
        if media is not None and media.link is not None:
            media.link.choose_audio_only(on)

    def link_layer(self, pid: str) -> str | None:
        media = self._media.get(pid)
        return media.link.layer.value if media is not None and media.link is not None else None

    async def _tick_links(self) -> None:
        while self._media:
            await asyncio.sleep(LINK_TICK_S)
            for media in list(self._media.values()):
                if media.link is not None:
                    try:
                        media.link.tick()
                    except Exception:  # one receiver's feedback must not stop the others' adaptation
                        log.exception("link adaptation failed")

    def set_gates(self, pid: str, video: str, audio: bool, until: datetime | None = None) -> None:
        """What of this participant may leave the server; remembered for a connection not negotiated yet.
        ``until`` is the end of a face-visible gate, enforced by the PrivacyTrack on every frame."""
        self._gates[pid] = (video, audio, until)
        self._apply_gates(pid)

    def _apply_gates(self, pid: str) -> None:
        media = self._media.get(pid)
        video, audio, until = self._gates.get(pid, (CLOSED, False, None))
        if media is not None and media.privacy is not None and media.audio is not None:
            media.privacy.set_gate(video, until=until)
            media.audio.enabled = audio

    def recording_tracks(self, pid: str) -> tuple[MediaStreamTrack, MediaStreamTrack] | None:
        """New subscriptions to a participant's processed video and audio, for the recorder (never the raw input)."""
        media = self._media.get(pid)
        if media is None or media.video is None or media.audio is None:
            return None
        return media.video.subscribe(), media.audio.subscribe()

    def attach(self, viewer: str, slot: int, source: str) -> None:
        v, s = self._media.get(viewer), self._media.get(source)
        if v is None or s is None or s.video is None or s.audio is None or slot >= len(v.slot_senders):
            return
        self.detach(viewer, slot)
        _, v_sender = v.slot_senders[slot]
        audio, video = s.audio.subscribe(), self._video_for(s, v, v_sender)
        v.slot_tracks[slot] = (audio, video)
        a_switch, v_switch = v.slot_switches[slot]
        a_switch.switch(audio)
        v_switch.switch(video)

    def _video_for(self, source: _Media, viewer: _Media, sender: RTCRtpSender) -> MediaStreamTrack:
        """Wire ``source``'s processed video into ``sender``: shared VP8 packets, or frames to encode."""
        assert source.video is not None
        track: MediaStreamTrack
        if source.encoder is not None:
            assert viewer.link is not None
            timeline = viewer.timelines.setdefault(id(sender), SenderTimeline())
            encoded = source.encoder.subscribe(timeline, viewer.link.layer)
            # aiortc's sender only forces keyframes on its own encoder; route the receiver's PLI/FIR here.
            guard_video_sender(sender, encoded.request_keyframe, self._media_event)
            watch_sender_feedback(sender, viewer.link.report)
            track = encoded
        else:
            guard_video_sender(sender, None, self._media_event)
            track = source.video.subscribe()
        return track

    def _media_event(self, event: str) -> None:
        if self.on_media_event is not None:
            self.on_media_event(event)

    def detach(self, viewer: str, slot: int) -> None:
        v = self._media.get(viewer)
        if v is None or slot not in v.slot_tracks:
            return
        for switch in v.slot_switches[slot]:
            switch.switch(None)
        for track in v.slot_tracks.pop(slot):
            if track is not None:
                track.stop()

    async def close(self, pid: str) -> None:
        self._gates.pop(pid, None)
        self._audio_only.discard(pid)
        await self._close_media(pid)

    async def _close_media(self, pid: str) -> None:
        media = self._media.pop(pid, None)
        if media is not None:
            await self._shutdown(media)

    async def _shutdown(self, media: _Media) -> None:
        if media.link is not None:
            media.link.close()
        for slot in list(media.slot_tracks):
            for track in media.slot_tracks.pop(slot):
                if track is not None:
                    track.stop()
        if media.encoder is not None:
            await media.encoder.stop()
        for fan in (media.video, media.audio):
            if fan is not None:
                await fan.stop()
        with contextlib.suppress(Exception):
            await media.pc.close()

    async def close_all(self) -> None:
        for pid in list(self._media):
            await self.close(pid)
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker

    def __len__(self) -> int:
        return len(self._media)


def _vp8(transceiver: Any) -> bool:
    codecs = getattr(transceiver, "_codecs", None) or []
    return bool(codecs) and str(codecs[0].mimeType).lower() == "video/vp8"
