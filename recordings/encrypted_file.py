"""Append-only encrypted recording files: a writer that encrypts as it is written, a reader that decrypts on the
fly (whole, by chunk, or by plaintext byte range for HTTP Range playback), and key destruction in place.

The format is in ``container_format``. Plaintext exists only in memory: the writer holds at most one chunk of it
and writes sealed chunks only, straight into the final file (no temporary file, no rename).

Durability. With ``sync_every_chunk`` (the default) every sealed chunk is followed by an fsync, so after a
crash (SIGKILL, power loss) the file holds every chunk completed before it, and at most the chunk being filled
(64 KiB by default, about one second of 500 kbit/s video) plus what the muxer still buffered is lost. The cost
is one fsync per chunk, done on the encoding thread, never on the event loop. Without it the operating system
writes back when it likes (tens of seconds may be lost on power failure, nothing on a process kill); in either
case only ciphertext ever reaches the disk. A file cut off mid-chunk is read up to its last whole chunk and
reported as ``TailState.TORN``; one cut at a chunk boundary (or never finished) as ``UNFINISHED``.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from recordings import container_format as fmt
from recordings.errors import ChunkTampered, RecordingTruncated
from recordings.key_provider import KeyProvider

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_HASH_BLOCK = 1024 * 1024


def fsync_directory(folder: Path) -> None:
    """Make a created or removed directory entry durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class FinishedFile:
    """What closing a writer reports: SHA-256 of every byte written (header included) and the sizes."""

    sha256: str
    size: int
    plaintext_size: int
    chunks: int


class EncryptedWriter:
    """Encrypts what is written to it into a new file at ``path`` (created exclusively, mode 0600).

    Not seekable by design (``seekable()`` is False and there is no ``seek``): muxers then write in streaming
    mode. Use from one thread at a time. ``close()`` seals the final chunk; ``abort()`` closes without it,
    leaving a file that reads as UNFINISHED.
    """

    def __init__(
        self,
        path: Path,
        recording_id: uuid.UUID,
        provider: KeyProvider,
        *,
        chunk_size: int = fmt.DEFAULT_CHUNK_SIZE,
        sync_every_chunk: bool = True,
    ) -> None:
        self.path = path
        header, data_key = fmt.new_header(recording_id, provider.current(), chunk_size)
        self._header = header
        self._aead: AESGCM | None = AESGCM(data_key)
        del data_key
        self._sync = sync_every_chunk
        self._buffer = bytearray()
        self._index = 0
        self._plaintext = 0
        self._hash = hashlib.sha256()
        self._size = 0
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o600)
        try:
            self._write_out(header.pack())
            os.fsync(self._fd)
            fsync_directory(path.parent)
        except BaseException:
            os.close(self._fd)
            raise

    @property
    def header(self) -> fmt.Header:
        return self._header

    @property
    def closed(self) -> bool:
        return self._aead is None

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        """Plaintext bytes accepted so far."""
        return self._plaintext

    def write(self, data: bytes | bytearray | memoryview) -> int:
        aead = self._require_open()
        view = memoryview(data).cast("B")
        self._buffer += view
        self._plaintext += len(view)
        size = self._header.chunk_size
        while len(self._buffer) >= size:
            self._emit(aead, bytes(self._buffer[:size]), final=False)
            del self._buffer[:size]
        return len(view)

    def flush(self) -> None:
        """Nothing to do: a partial chunk cannot be sealed before the stream ends (see the module docstring)."""

    def close(self) -> FinishedFile:
        """Seal the final chunk, fsync the file and its directory, and forget the data key."""
        aead = self._require_open()
        try:
            self._emit(aead, bytes(self._buffer), final=True, sync=False)
            os.fsync(self._fd)
        finally:
            self._release()
        fsync_directory(self.path.parent)
        return FinishedFile(self._hash.hexdigest(), self._size, self._plaintext, self._index)

    def abort(self) -> None:
        """Close without a final chunk (the file reads as unfinished); idempotent."""
        if self._aead is not None:
            self._release()

    def __enter__(self) -> EncryptedWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is None and not self.closed:
            self.close()
        else:
            self.abort()

    def _require_open(self) -> AESGCM:
        if self._aead is None:
            raise ValueError("write to a closed recording file")
        return self._aead

    def _emit(self, aead: AESGCM, plaintext: bytes, *, final: bool, sync: bool | None = None) -> None:
        sealed = fmt.seal_chunk(aead, self._header, self._index, final, plaintext)
        self._write_out(sealed)
        self._index += 1
        if self._sync if sync is None else sync:
            os.fsync(self._fd)

    def _write_out(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._hash.update(data)
        self._size += len(data)

    def _release(self) -> None:
        self._aead = None
        self._buffer.clear()
        os.close(self._fd)


class TailState(StrEnum):
    COMPLETE = "complete"
    """The final chunk is present and authentic: the file is whole."""
    UNFINISHED = "unfinished"
    """Every chunk present is authentic but there is no final chunk (writing stopped at a chunk boundary)."""
    TORN = "torn"
    """The file ends in a partial or damaged chunk; the chunks before it are readable."""


class EncryptedReader:
    """Decrypts a recording file on the fly. Opening checks the header, unwraps the data key and classifies the
    tail; chunks in between are authenticated as they are read (ChunkTampered for one that does not verify).

    ``require_complete`` refuses a file that is not COMPLETE (a finished recording that was cut off since).
    """

    def __init__(self, path: Path, provider: KeyProvider, *, require_complete: bool = False) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW)
        self._cache: tuple[int, bytes] | None = None
        try:
            self._open(provider, require_complete)
        except BaseException:
            os.close(self._fd)
            raise

    def _open(self, provider: KeyProvider, require_complete: bool) -> None:
        header = fmt.parse_header(os.pread(self._fd, fmt.HEADER_BYTES, 0))
        self.header = header
        self._aead = AESGCM(fmt.unwrap_data_key(header, provider))
        body = os.fstat(self._fd).st_size - fmt.HEADER_BYTES
        full, rem = divmod(body, header.sealed_chunk_size)
        self.chunk_count, self.tail, self.plaintext_size = 0, TailState.UNFINISHED, 0
        if body > 0:
            last = full if rem else full - 1
            sealed = os.pread(self._fd, rem or header.sealed_chunk_size, fmt.chunk_offset(header, last))
            plain = fmt.open_chunk(self._aead, header, last, True, sealed)
            if plain is not None:
                self.chunk_count, self.tail = last + 1, TailState.COMPLETE
                self.plaintext_size = last * header.chunk_size + len(plain)
                self._cache = (last, plain)
            else:
                plain = None if rem else fmt.open_chunk(self._aead, header, last, False, sealed)
                if plain is None:
                    self.tail, last = TailState.TORN, last - 1
                    if last >= 0:
                        self._cache = (last, self._read_sealed_chunk(last, final=False))
                else:
                    self._cache = (last, plain)
                self.chunk_count = last + 1
                self.plaintext_size = self.chunk_count * header.chunk_size
        if require_complete and self.tail is not TailState.COMPLETE:
            raise RecordingTruncated()

    @property
    def recording_id(self) -> uuid.UUID:
        return self.header.recording_id

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._cache = None

    def __enter__(self) -> EncryptedReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _read_sealed_chunk(self, index: int, *, final: bool) -> bytes:
        length = self.header.sealed_chunk_size
        sealed = os.pread(self._fd, length, fmt.chunk_offset(self.header, index))
        plain = fmt.open_chunk(self._aead, self.header, index, final, sealed)
        if plain is None:
            raise ChunkTampered(index)
        return plain

    def read_chunk(self, index: int) -> bytes:
        """The plaintext of chunk ``index`` (0 .. chunk_count - 1), authenticated."""
        if not 0 <= index < self.chunk_count:
            raise IndexError("chunk index out of range")
        if self._fd < 0:
            raise ValueError("read from a closed recording file")
        if self._cache is not None and self._cache[0] == index:
            return self._cache[1]
        final = self.tail is TailState.COMPLETE and index == self.chunk_count - 1
        plain = self._read_sealed_chunk(index, final=final)
        self._cache = (index, plain)
        return plain

    def iter_chunks(self) -> Iterator[bytes]:
        for index in range(self.chunk_count):
            yield self.read_chunk(index)

    def iter_range(self, start: int, end: int | None = None) -> Iterator[bytes]:
        """Plaintext bytes ``[start, end)`` (end clipped to the readable size), piece by piece."""
        end = self.plaintext_size if end is None else min(end, self.plaintext_size)
        if start < 0 or start > end:
            raise ValueError("invalid range")
        size = self.header.chunk_size
        position = start
        while position < end:
            index, offset = divmod(position, size)
            piece = self.read_chunk(index)[offset : offset + (end - position)]
            if not piece:
                raise ChunkTampered(index)  # a short chunk before the end: never expected from the writer
            yield piece
            position += len(piece)

    def read_at(self, offset: int, length: int) -> bytes:
        return b"".join(self.iter_range(offset, offset + max(0, length)))

    def stream(self) -> PlaintextStream:
        return PlaintextStream(self)


class PlaintextStream:
    """A read-only, seekable file-like view of a reader's plaintext (for demuxers such as PyAV)."""

    def __init__(self, reader: EncryptedReader) -> None:
        self._reader = reader
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        total = self._reader.plaintext_size
        end = total if size is None or size < 0 else min(total, self._position + size)
        data = self._reader.read_at(self._position, end - self._position) if end > self._position else b""
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._reader.plaintext_size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position


def destroy_key(path: Path) -> bool:
    """Crypto-shred: overwrite the wrapped data key in the header with zeros, in place, and fsync.

    Returns False when it was already destroyed. On copy-on-write file systems and flash storage the old
    bytes may survive physically; they are still wrapped by the KEK, so retiring a KEK (see THREAT_MODEL.md)
    is the way to make old copies of headers, including backups, useless as well.
    """
    fd = os.open(path, os.O_RDWR | _O_NOFOLLOW)
    try:
        header = fmt.parse_header(os.pread(fd, fmt.HEADER_BYTES, 0))
        if header.key_destroyed:
            return False
        zeros = bytes(fmt.KEY_FIELD_BYTES)
        if os.pwrite(fd, zeros, fmt.KEY_FIELD_OFFSET) != len(zeros):
            raise OSError("short write while destroying the key")
        os.fsync(fd)
        return True
    finally:
        os.close(fd)


def key_destroyed(path: Path) -> bool:
    """Whether the file's wrapped key has been overwritten (ContainerError when it is not a recording)."""
    with path.open("rb") as handle:
        return fmt.parse_header(handle.read(fmt.HEADER_BYTES)).key_destroyed


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()
