"""A receive slot's permanent track: the sender keeps reading it while the stream behind it is switched.

aiortc's sender loop reads its track until the track ends; when a slot was emptied by ``replaceTrack(None)``
and its old subscription stopped while the loop was waiting on it, the loop ended for good, and the slot
stayed frozen whoever was put in it next (a participant who reloaded was never seen again by the others).
Here each slot sender is given one :class:`SlotTrack` for the life of the connection; joining, leaving and
rejoining only switch what it reads from, so the sender loop never sees an ended track.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack


class SlotTrack(MediaStreamTrack):
    """Reads from the current source; with none (or when the source ends) it waits for the next one."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._source: MediaStreamTrack | None = None
        self._switched = asyncio.Event()

    @property
    def source(self) -> MediaStreamTrack | None:
        return self._source

    def switch(self, source: MediaStreamTrack | None) -> None:
        self._source = source
        self._switched.set()

    async def recv(self) -> Any:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self._source
            if source is None:
                self._switched.clear()
                await self._switched.wait()
                continue
            try:
                return await source.recv()
            except MediaStreamError:  # the source ended (someone left): wait for the next, do not end
                if self._source is source:
                    self._source = None

    def stop(self) -> None:
        super().stop()
        self._switched.set()
