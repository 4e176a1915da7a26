"""Each receiver gets the quality its link carries: two layers from one shared encoder, chosen from RTCP.

Through the real server on 127.0.0.1 with real aiortc peers: a receiver whose browser reports a weak link (REMB,
sent as real RTCP on its own connection, its own estimator switched off so that loopback's estimate does not
overwrite it) gets the low layer while another keeps the high one; a collapsed link (that estimate, and packets
lost on the way in, which its own receiver reports tell) gets no video and everyone is told; «Bare lyd» chosen
by the user stops video to them and is shown to the others.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
import numpy as np
import pytest
from aiortc import RTCRtpReceiver
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci

from session.media.link_policy import Layer
from session.media.shared_encoder import SharedEncoder
from tests.aiortc_client import ArrayVideoTrack, CallClient, frames_from, host_client
from tests.live_server import LiveServer, create_meeting, staff_client
from tests.media import clip_frames
from web.keys import RELAY

pytestmark = pytest.mark.timeout(120)


class Camera(ArrayVideoTrack):
    pass


def decoded_sizes(packets: list[Any]) -> list[tuple[int, int]]:
    codec = av.CodecContext.create("libvpx", "r")
    sizes: list[tuple[int, int]] = []
    for packet in packets:
        for frame in codec.decode(packet):
            sizes.append((frame.width, frame.height))
    return sizes


async def packets_of(track: Any, count: int) -> list[Any]:
    return [await asyncio.wait_for(track.recv(), 10) for _ in range(count)]


async def test_one_encoder_serves_two_layers_and_switches_a_receiver_at_a_keyframe() -> None:
    frames = [np.ascontiguousarray(f) for f in clip_frames()[:30]]
    with ThreadPoolExecutor(1) as pool:
        encoder = SharedEncoder(Camera(frames), pool)
        high, low, none = encoder.subscribe(), encoder.subscribe(layer=Layer.LOW), encoder.subscribe(layer=Layer.NONE)
        high_packets, low_packets = await asyncio.gather(packets_of(high, 10), packets_of(low, 10))
        assert high_packets[0].is_keyframe and low_packets[0].is_keyframe
        assert set(decoded_sizes(high_packets)) == {(640, 480)}
        assert set(decoded_sizes(low_packets)) == {(320, 240)}
        assert none.bytes_sent == 0
        with pytest.raises(TimeoutError):  # the audio-only receiver is sent nothing at all
            await asyncio.wait_for(none.recv(), 0.5)

        # The low receiver's link recovers: from the high layer's next keyframe on it gets the high layer.
        low.set_layer(Layer.HIGH)
        switched = await packets_of(low, 40)
        firsts = [i for i, p in enumerate(switched) if p.is_keyframe and p.size > 0]
        assert firsts, "no keyframe after the switch"
        after = switched[firsts[-1] :]
        assert set(decoded_sizes(after)) == {(640, 480)}
        # Nobody wants the low layer any more: its encoder stops (and costs nothing).
        low_count = encoder.layer_frames[Layer.LOW]
        await packets_of(high, 5)
        assert encoder.layer_frames[Layer.LOW] == low_count
        for track in (high, low, none):
            track.stop()
        await encoder.stop()


# -- through the server -----------------------------------------------------------------------------------------


def remote_ssrcs(client: CallClient) -> list[int]:
    assert client.pc is not None and client.pc.remoteDescription is not None
    return sorted({int(s) for s in re.findall(r"^a=ssrc:(\d+) ", client.pc.remoteDescription.sdp, re.M)})


def silence_estimators(client: CallClient) -> list[RTCRtpReceiver]:
    """This client's own REMB would say «loopback carries everything»: it reports what the test says instead."""
    assert client.pc is not None
    receivers = [t.receiver for t in client.pc.getTransceivers()]
    for receiver in receivers:
        receiver._RTCRtpReceiver__remote_bitrate_estimator = None  # type: ignore[attr-defined]
    return receivers


def reporting(client: CallClient, bitrate: Callable[[], int]) -> asyncio.Task[None]:
    """Report ``bitrate()`` as this client's link estimate twice a second, as a browser's REMB does."""
    receivers = silence_estimators(client)
    ssrcs = remote_ssrcs(client)

    async def report() -> None:
        while True:
            receiver = next(r for r in receivers if getattr(r, "_RTCRtpReceiver__rtcp_ssrc", None) is not None)
            packet = RtcpPsfbPacket(
                fmt=RTCP_PSFB_APP,
                ssrc=receiver._RTCRtpReceiver__rtcp_ssrc,  # type: ignore[attr-defined]
                media_ssrc=0,
                fci=pack_remb_fci(bitrate(), ssrcs),
            )
            await receiver._send_rtcp(packet)
            await asyncio.sleep(0.5)

    return asyncio.create_task(report())


def falling(before: int, after: int) -> Callable[[], int]:
    """A link that gets worse: the first reports say ``before``; then the estimator sees a queue and settles
    into the saw-tooth of a capped link around ``after`` (down on each queue it sees, up again slowly)."""
    sent = [0]

    def bitrate() -> int:
        sent[0] += 1
        return before if sent[0] <= 2 else (after if sent[0] % 2 else int(after * 0.9))

    return bitrate


def losing(client: CallClient, share: float) -> None:
    """The client's link drops ``share`` of the video packets on the way in (its receiver reports say so)."""
    assert client.pc is not None
    chance = random.Random(7)
    for transceiver in client.pc.getTransceivers():
        if transceiver.kind != "video":
            continue
        receiver = transceiver.receiver
        handle = receiver._handle_rtp_packet

        async def lossy(packet: Any, arrival_time_ms: int, handle: Any = handle) -> None:
            if chance.random() >= share:
                await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = lossy  # type: ignore[method-assign]


async def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    for _ in range(int(timeout * 10)):
        if check():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"not within {timeout} s: {what}")


async def shape_of(track: Any) -> tuple[int, ...]:
    return (await frames_from(track, 1))[0].shape


async def until_shape(track: Any, shape: tuple[int, int, int], timeout: float) -> None:
    async def loop() -> None:
        while await shape_of(track) != shape:
            pass

    await asyncio.wait_for(loop(), timeout)


async def in_call(server: LiveServer, roles: list[str]) -> tuple[CallClient, dict[str, CallClient]]:
    staff = await staff_client(server)
    try:
        links = await create_meeting(staff, server, roles)
    finally:
        await staff.close()
    source = clip_frames()[:45]
    host = await host_client(server.url, links["host"], ArrayVideoTrack(source))
    await host.connect()
    await host.enter()
    others: dict[str, CallClient] = {}
    for role in roles:
        others[role] = CallClient(links[role], None)  # receivers: cameras off, as the bench's receivers
        await others[role].connect()
        await others[role].enter(host=host)
    await host.confirm_roster()
    return host, others


async def closing(clients: list[CallClient], body: Callable[[], Awaitable[None]]) -> None:
    try:
        await body()
    finally:
        for c in clients:
            await c.close()


async def test_a_weak_receiver_gets_the_low_layer_while_another_keeps_the_high_one(server: LiveServer) -> None:
    host, others = await in_call(server, ["radgiver", "tekniker"])
    weak, strong = others["radgiver"], others["tekniker"]
    relay = server.app[RELAY]

    async def body() -> None:
        weak_slot = (await weak.wait_for("slot", participant=host.pid))["slot"]
        strong_slot = (await strong.wait_for("slot", participant=host.pid))["slot"]
        await until_shape(weak.slot_video[weak_slot], (480, 640, 3), 20)
        task = reporting(weak, falling(1_000_000, 180_000))  # less than the high layer, more than the low
        # The strong link says so, as a browser on a good link does: aiortc's own estimator on a loaded machine
        # takes the CPU's delays for a queue, and this test is about the weak receiver not moving the other.
        steady = reporting(strong, lambda: 5_000_000)
        try:
            await wait_until(lambda: relay.link_layer(weak.pid) == "low", 20, "the weak receiver moved down")
            await until_shape(weak.slot_video[weak_slot], (240, 320, 3), 15)
            assert await shape_of(strong.slot_video[strong_slot]) == (480, 640, 3)
            assert relay.link_layer(strong.pid) == "high"
            assert not [m for m in weak.messages if m["type"] == "link"]  # low video is still video
        finally:
            task.cancel()
            steady.cancel()

    await closing([host, *others.values()], body)


async def test_a_collapsed_link_gets_audio_only_and_everyone_is_told(server: LiveServer) -> None:
    host, others = await in_call(server, ["radgiver"])
    weak = others["radgiver"]
    relay = server.app[RELAY]

    async def body() -> None:
        slot = (await weak.wait_for("slot", participant=host.pid))["slot"]
        await frames_from(weak.slot_video[slot], 3)
        losing(weak, 0.3)
        task = reporting(weak, falling(600_000, 80_000))
        try:
            await weak.wait_for("link", timeout=20, participant=weak.pid, weak_link=True)
            await host.wait_for("link", participant=weak.pid, weak_link=True)
            assert relay.link_layer(weak.pid) == "none"
            state = [m for m in host.messages if m["type"] == "state"][-1]
            assert next(p for p in state["roster"]["participants"] if p["id"] == weak.pid)["weak_link"] is True
        finally:
            task.cancel()
        assert host.pc is not None  # the host's own link is untouched
        assert relay.link_layer(host.pid) == "high"

    await closing([host, weak], body)


async def test_audio_only_chosen_stops_video_to_the_user_and_the_others_see_it(server: LiveServer) -> None:
    host, others = await in_call(server, ["tekniker"])
    tech = others["tekniker"]
    relay = server.app[RELAY]

    async def body() -> None:
        slot = (await tech.wait_for("slot", participant=host.pid))["slot"]
        # A good link says so, as a browser's does (aiortc's own estimator takes a loaded machine's delays for a
        # queue): this test is about the user's choice, not the link's.
        steady = reporting(tech, lambda: 5_000_000)
        try:
            await frames_from(tech.slot_video[slot], 3)
            await tech.send({"type": "audio-only", "on": True})
            await host.wait_for("link", participant=tech.pid, audio_only=True)
            await wait_until(lambda: relay.link_layer(tech.pid) == "none", 5, "no video to the audio-only user")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(frames_from(tech.slot_video[slot], 30), 4)  # a few queued ones at most
            await tech.send({"type": "audio-only", "on": False})
            await host.wait_for("link", participant=tech.pid, audio_only=False)
            assert relay.link_layer(tech.pid) == "high"
            await frames_from(tech.slot_video[slot], 5)
            await tech.send({"type": "audio-only", "on": "yes"})
            error = await tech.wait_for("error")
            assert error["field"] == "on"
        finally:
            steady.cancel()

    await closing([host, tech], body)
