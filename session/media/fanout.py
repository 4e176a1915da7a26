"""Fan-out of one processed track to many senders without queues.

aiortc's ``MediaRelay`` buffers every frame for every subscriber without limit. Here each video subscriber
receives the newest frame it has not seen yet (a slow encoder skips frames instead of falling behind) and
each audio subscriber has a short bounded buffer (audio must not skip, but must not grow either).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any, Protocol

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = logging.getLogger(__name__)

AUDIO_BUFFER_FRAMES = 10  # 200 ms of 20 ms Opus frames


class Sink(Protocol):
    def offer(self, item: Any) -> None: ...

    def end(self) -> None: ...


class Broadcast:
    """One task pulls ``source``; each frame becomes items (``_produce``) offered to every subscriber.

    Shared by the frame fan-out and the shared encoder, so both stop, unsubscribe and end alike.
    """

    name = "broadcast"

    def __init__(self, source: MediaStreamTrack) -> None:
        self.source = source
        self._subscribers: set[Sink] = set()
        self._pump = asyncio.ensure_future(self._run())

    async def _produce(self, frame: Any) -> list[Any]:
        return [frame]

    async def _run(self) -> None:
        try:
            while True:
                for item in await self._produce(await self.source.recv()):
                    for sub in list(self._subscribers):
                        sub.offer(item)
        except MediaStreamError:
            pass
        except Exception:
            log.exception("broadcast stopped", extra={"kind": self.name})
        finally:
            for sub in list(self._subscribers):
                sub.end()

    def unsubscribe(self, track: Sink) -> None:
        self._subscribers.discard(track)

    async def stop(self) -> None:
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        for sub in list(self._subscribers):
            sub.end()
        self._subscribers.clear()
        self.source.stop()


class Fanout(Broadcast):
    """Offers each frame of ``source`` to every live subscriber (newest frame for video, short buffer for audio)."""

    name = "fanout"

    def __init__(self, source: MediaStreamTrack) -> None:
        self.kind = source.kind
        self.enabled = True
        """When False, frames are read and dropped: subscribers receive nothing (silence for audio)."""
        super().__init__(source)

    def subscribe(self) -> MediaStreamTrack:
        sub = _Subscriber(self)
        self._subscribers.add(sub)
        return sub

    async def _produce(self, frame: Any) -> list[Any]:
        return [frame] if self.enabled else []


class _Subscriber(MediaStreamTrack):
    def __init__(self, fanout: Fanout) -> None:
        super().__init__()
        self.kind = fanout.kind
        self._fanout = fanout
        depth = AUDIO_BUFFER_FRAMES if fanout.kind == "audio" else 1
        self._frames: collections.deque[Any] = collections.deque(maxlen=depth)
        self._ready = asyncio.Event()
        self.skipped = 0

    def offer(self, frame: Any) -> None:
        if len(self._frames) == self._frames.maxlen:
            self.skipped += 1
        self._frames.append(frame)
        self._ready.set()

    def end(self) -> None:
        super().stop()
        self._ready.set()

    def stop(self) -> None:
        self._fanout.unsubscribe(self)
        self.end()

    async def recv(self) -> Any:
        while not self._frames:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        return self._frames.popleft()
