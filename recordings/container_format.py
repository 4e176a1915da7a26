"""The encrypted recording file format, version 1: header layout, key wrapping and chunk sealing. Pure.

A file is a fixed 116-byte header followed by chunks::

    offset size  field
         0    8  magic b"SMHREC\\r\\n"
         8    2  format version (1), big-endian
        10    2  flags (0; reserved)
        12    4  chunk size C: plaintext bytes in every chunk but the last (4 KiB .. 16 MiB)
        16   16  recording id (a UUID's 16 bytes)
        32   16  KEK id (see key_provider.kek_id_for)
        48    8  nonce prefix (random per file)
       --- the 56 bytes above are the "bound header" ---
        56   12  wrap nonce (random)
        68   48  wrapped data key: AES-256-GCM(KEK, wrap nonce, data key, AAD = label || bound header)
       116       chunk 0, chunk 1, ...

Chunk ``i`` is AES-256-GCM(data key, nonce = nonce prefix || i as u32, plaintext, AAD = label || bound header
|| i as u64 || final flag as u8), i.e. C + 16 bytes for every chunk but the last, whose plaintext is shorter
than C (possibly empty) and whose final flag is 1. The index in nonce and AAD refuses reordered and swapped
chunks, the final flag refuses a file cut at a chunk boundary as "complete", the bound header ties every chunk
and the wrapped key to this file's id, key id, chunk size and version. A fresh data key per file means nonces
never repeat under one key. Crypto-shredding overwrites the 60 bytes of wrap nonce and wrapped key with zeros.
"""

from __future__ import annotations

import secrets
import struct
import uuid
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from recordings.errors import HeaderTampered, KeyDestroyed, NotARecording, UnsupportedFormat
from recordings.key_provider import KEK_ID_BYTES, Kek, KeyProvider

MAGIC = b"SMHREC\r\n"
VERSION = 1
DEFAULT_CHUNK_SIZE = 64 * 1024
MIN_CHUNK_SIZE = 4 * 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
MAX_CHUNKS = 2**32
TAG_BYTES = 16
DATA_KEY_BYTES = 32
NONCE_PREFIX_BYTES = 8
WRAP_NONCE_BYTES = 12
WRAPPED_KEY_BYTES = DATA_KEY_BYTES + TAG_BYTES

_BOUND = struct.Struct(f">8sHHI16s{KEK_ID_BYTES}s{NONCE_PREFIX_BYTES}s")
BOUND_HEADER_BYTES = _BOUND.size
KEY_FIELD_OFFSET = BOUND_HEADER_BYTES
KEY_FIELD_BYTES = WRAP_NONCE_BYTES + WRAPPED_KEY_BYTES
HEADER_BYTES = KEY_FIELD_OFFSET + KEY_FIELD_BYTES
_WRAP_LABEL = b"samhandling recording data key v1\x00"
_CHUNK_LABEL = b"samhandling recording chunk v1\x00"
_CHUNK_POSITION = struct.Struct(">QB")


@dataclass(frozen=True, slots=True)
class Header:
    """A parsed header. ``key_field`` is wrap nonce + wrapped key (all zeros once the key is destroyed)."""

    chunk_size: int
    recording_id: uuid.UUID
    kek_id: bytes
    nonce_prefix: bytes
    key_field: bytes = field(repr=False)
    version: int = VERSION

    def bound(self) -> bytes:
        """The header fields every chunk and the wrapped key are bound to (everything but the key field)."""
        return _BOUND.pack(
            MAGIC, self.version, 0, self.chunk_size, self.recording_id.bytes, self.kek_id, self.nonce_prefix
        )

    def pack(self) -> bytes:
        return self.bound() + self.key_field

    @property
    def key_destroyed(self) -> bool:
        return self.key_field == bytes(KEY_FIELD_BYTES)

    @property
    def sealed_chunk_size(self) -> int:
        return self.chunk_size + TAG_BYTES


def new_header(recording_id: uuid.UUID, kek: Kek, chunk_size: int = DEFAULT_CHUNK_SIZE) -> tuple[Header, bytes]:
    """A header for a new file and its fresh random data key (returned once, never stored in the clear)."""
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError("chunk size out of range")
    data_key = AESGCM.generate_key(bit_length=256)
    unwrapped = Header(chunk_size, recording_id, kek.kek_id, secrets.token_bytes(NONCE_PREFIX_BYTES), b"")
    wrap_nonce = secrets.token_bytes(WRAP_NONCE_BYTES)
    wrapped = AESGCM(kek.key).encrypt(wrap_nonce, data_key, _WRAP_LABEL + unwrapped.bound())
    header = Header(chunk_size, recording_id, kek.kek_id, unwrapped.nonce_prefix, wrap_nonce + wrapped)
    return header, data_key


def parse_header(data: bytes) -> Header:
    """Parse the first HEADER_BYTES of a file; NotARecording or UnsupportedFormat when it is not ours."""
    if len(data) < len(MAGIC) or not data.startswith(MAGIC):
        raise NotARecording()
    if len(data) < HEADER_BYTES:
        raise HeaderTampered()
    _magic, version, flags, chunk_size, rid, kek_id, prefix = _BOUND.unpack_from(data)
    if version != VERSION or flags != 0:
        raise UnsupportedFormat()
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise HeaderTampered()
    key_field = bytes(data[KEY_FIELD_OFFSET:HEADER_BYTES])
    return Header(chunk_size, uuid.UUID(bytes=rid), kek_id, prefix, key_field, version)


def unwrap_data_key(header: Header, provider: KeyProvider) -> bytes:
    """The data key; KeyDestroyed after shredding, UnknownKek for a KEK the provider lacks, HeaderTampered when
    the wrapped key does not authenticate (a header field or the wrapped key itself was changed)."""
    if header.key_destroyed:
        raise KeyDestroyed()
    kek = provider.lookup(header.kek_id)
    wrap_nonce, wrapped = header.key_field[:WRAP_NONCE_BYTES], header.key_field[WRAP_NONCE_BYTES:]
    try:
        return AESGCM(kek.key).decrypt(wrap_nonce, wrapped, _WRAP_LABEL + header.bound())
    except InvalidTag:
        raise HeaderTampered() from None


def chunk_nonce(header: Header, index: int) -> bytes:
    if not 0 <= index < MAX_CHUNKS:
        raise ValueError("chunk index out of range")
    return header.nonce_prefix + index.to_bytes(4, "big")


def chunk_aad(header: Header, index: int, final: bool) -> bytes:
    return _CHUNK_LABEL + header.bound() + _CHUNK_POSITION.pack(index, 1 if final else 0)


def seal_chunk(aead: AESGCM, header: Header, index: int, final: bool, plaintext: bytes) -> bytes:
    if len(plaintext) > header.chunk_size or (not final and len(plaintext) != header.chunk_size):
        raise ValueError("only the final chunk may be shorter than the chunk size")
    return aead.encrypt(chunk_nonce(header, index), plaintext, chunk_aad(header, index, final))


def open_chunk(aead: AESGCM, header: Header, index: int, final: bool, sealed: bytes) -> bytes | None:
    """The plaintext, or None when the chunk does not authenticate at this index with this final flag."""
    try:
        return aead.decrypt(chunk_nonce(header, index), sealed, chunk_aad(header, index, final))
    except InvalidTag:
        return None


def chunk_offset(header: Header, index: int) -> int:
    return HEADER_BYTES + index * header.sealed_chunk_size
