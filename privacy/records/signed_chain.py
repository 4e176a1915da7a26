"""An append-only chain of entries, each hashed over its predecessor's hash and signed with Ed25519.

The consent ledger and the audit log are both such chains. Changing, removing or reordering an entry breaks
the hash of that entry or the link of the next, and an entry cannot be re-hashed without the server's private
key, so anyone with the public key can check a copy offline. Pure: no I/O, time and key are passed in.

Hashing. ``entry_hash`` is the SHA-256 of the canonical JSON (keys sorted, no whitespace, UTF-8, no ASCII
escaping) of ``{"chain", "created_at", "payload", "prev_hash", "seq", "v"}``, with the payload embedded as its
own canonical text. Floats are refused in payloads because their text differs between JSON libraries; so are
integers beyond 2**53, which JavaScript cannot hold exactly. The chain name is inside the hash, so an entry cannot
be moved from one chain to another. The signature is Ed25519 over the 32 raw bytes of the hash; both are
stored as lower-case hex.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64
_MAX_SAFE_INT = 2**53 - 1


class NotCanonical(ValueError):
    """A payload holds something canonical JSON cannot express unambiguously (floats, non-string keys...)."""


def _check_json(value: object, depth: int = 0) -> None:
    if depth > 32:
        raise NotCanonical("payload nested too deeply")
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise NotCanonical("integer outside the interoperable range")
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_json(item, depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical("object keys must be strings")
            _check_json(item, depth + 1)
        return
    raise NotCanonical(f"{type(value).__name__} is not allowed in a payload")


def canonical_json(value: object) -> str:
    """The one text form of a JSON value: sorted keys, no whitespace, non-ASCII kept as is (UTF-8 on hashing)."""
    _check_json(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise NotCanonical("text is not valid Unicode") from exc
    return text


def format_time(moment: datetime) -> str:
    """``moment`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``; naive times are refused, never guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("time must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last entry's sequence number and hash: all that is needed to seal the next entry."""

    seq: int
    entry_hash: str


GENESIS = ChainHead(seq=0, entry_hash=GENESIS_HASH)


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One sealed entry. ``payload_json`` is the canonical text that was hashed; ``payload()`` parses it."""

    chain: str
    seq: int
    prev_hash: str
    created_at: str
    payload_json: str
    entry_hash: str
    signature: str

    @property
    def head(self) -> ChainHead:
        return ChainHead(self.seq, self.entry_hash)

    def payload(self) -> dict[str, Any]:
        return parse_payload(self.payload_json)

    def to_json_dict(self) -> dict[str, Any]:
        """The entry as one JSON object, the payload as a nested object (the export format)."""
        return {
            "chain": self.chain,
            "seq": self.seq,
            "prev_hash": self.prev_hash,
            "created_at": self.created_at,
            "payload": self.payload(),
            "entry_hash": self.entry_hash,
            "signature": self.signature,
        }


def parse_payload(payload_json: str) -> dict[str, Any]:
    """A stored payload text as a JSON object; NotCanonical when it is not an object."""
    value = json.loads(payload_json)
    if not isinstance(value, dict):
        raise NotCanonical("payload is not a JSON object")
    return value


def compute_hash(chain: str, seq: int, prev_hash: str, created_at: str, payload_json: str) -> str:
    """SHA-256 hex of the canonical header with ``payload_json`` embedded verbatim (see the module docstring)."""
    # Keys in sorted order: chain, created_at, payload, prev_hash, seq, v. Embedding the stored text (rather
    # than re-serialising a parsed object) makes any byte changed in storage a hash mismatch.
    text = (
        f'{{"chain":{json.dumps(chain, ensure_ascii=False)},'
        f'"created_at":{json.dumps(created_at, ensure_ascii=False)},'
        f'"payload":{payload_json},'
        f'"prev_hash":{json.dumps(prev_hash, ensure_ascii=False)},'
        f'"seq":{int(seq)},"v":{FORMAT_VERSION}}}'
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(
    head: ChainHead,
    *,
    chain: str,
    payload: Mapping[str, object],
    created_at: datetime,
    key: Ed25519PrivateKey,
) -> ChainEntry:
    """The entry that follows ``head`` (GENESIS for the first) in ``chain``, hashed and signed."""
    payload_json = canonical_json(payload)
    seq = head.seq + 1
    when = format_time(created_at)
    entry_hash = compute_hash(chain, seq, head.entry_hash, when, payload_json)
    signature = key.sign(bytes.fromhex(entry_hash)).hex()
    return ChainEntry(chain, seq, head.entry_hash, when, payload_json, entry_hash, signature)


class FailureReason(StrEnum):
    SEQUENCE_GAP = "sequence_gap"
    """The entry's seq is not the one after its predecessor (an entry removed, duplicated or reordered)."""
    BROKEN_LINK = "broken_link"
    """The entry's prev_hash is not its predecessor's entry_hash."""
    HASH_MISMATCH = "hash_mismatch"
    """The stored entry_hash is not the hash of the entry's contents (contents or hash changed)."""
    BAD_SIGNATURE = "bad_signature"
    """The signature does not verify with the public key (re-hashed by someone without the key)."""
    WRONG_CHAIN = "wrong_chain"
    """The entry names another chain."""
    MALFORMED = "malformed"
    """The entry cannot be read at all (bad hex, broken JSON)."""
    HEAD_MISMATCH = "head_mismatch"
    """A store's record of the last entry disagrees with the entries (entries cut off the end)."""
    INDEX_MISMATCH = "index_mismatch"
    """A store's query columns disagree with the signed payload they were derived from."""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of a verification: ``checked`` entries were read; on failure the first bad seq and why."""

    ok: bool
    checked: int
    head: ChainHead
    first_bad_seq: int | None = None
    reason: FailureReason | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"valid: {self.checked} entries, last seq {self.head.seq}, last hash {self.head.entry_hash}"
        reason = self.reason.value if self.reason else "unknown"
        return f"first bad entry seq={self.first_bad_seq} ({reason}): {self.detail}"


def failure(head: ChainHead, checked: int, seq: int, reason: FailureReason, detail: str) -> VerifyResult:
    return VerifyResult(False, checked, head, seq, reason, detail)


def check_entry(entry: ChainEntry, public_key: Ed25519PublicKey) -> tuple[FailureReason, str] | None:
    """Whether the entry is consistent in itself: its hash recomputes and its signature verifies."""
    try:
        expected = compute_hash(entry.chain, entry.seq, entry.prev_hash, entry.created_at, entry.payload_json)
    except (TypeError, ValueError) as exc:
        return FailureReason.MALFORMED, f"cannot hash entry: {exc}"
    if expected != entry.entry_hash:
        return FailureReason.HASH_MISMATCH, "stored entry_hash does not match the hash of the entry's contents"
    try:
        public_key.verify(bytes.fromhex(entry.signature), bytes.fromhex(entry.entry_hash))
    except (InvalidSignature, ValueError):
        return FailureReason.BAD_SIGNATURE, "signature does not verify with the given public key"
    return None


def verify_chain(
    entries: Iterable[ChainEntry],
    public_key: Ed25519PublicKey,
    *,
    chain: str | None = None,
    start: ChainHead | None = GENESIS,
) -> VerifyResult:
    """Check entries in order and name the first bad one.

    With ``start=GENESIS`` (the default) the entries must be a whole chain from seq 1. With another head they
    must continue it; with ``start=None`` they are a segment whose first link is taken on trust (a store checks
    its newest entries this way before appending). ``chain`` restricts every entry to that chain name.
    Entries are consumed lazily, so a long export is verified without loading it whole.
    """
    head = start
    checked = 0
    last = start or GENESIS
    for entry in entries:
        if chain is not None and entry.chain != chain:
            return failure(last, checked, entry.seq, FailureReason.WRONG_CHAIN, f"entry belongs to {entry.chain!r}")
        if head is not None:
            if entry.seq != head.seq + 1:
                detail = f"expected seq {head.seq + 1}, found {entry.seq}"
                return failure(last, checked, head.seq + 1, FailureReason.SEQUENCE_GAP, detail)
            if entry.prev_hash != head.entry_hash:
                detail = "prev_hash does not match the previous entry's hash"
                return failure(last, checked, entry.seq, FailureReason.BROKEN_LINK, detail)
        problem = check_entry(entry, public_key)
        if problem is not None:
            return failure(last, checked, entry.seq, *problem)
        head = last = entry.head
        checked += 1
    return VerifyResult(True, checked, last)
