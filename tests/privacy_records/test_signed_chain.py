from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from privacy.records.signed_chain import (
    GENESIS,
    GENESIS_HASH,
    ChainEntry,
    FailureReason,
    NotCanonical,
    canonical_json,
    format_time,
    seal,
    verify_chain,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def build(n: int, chain: str = "audit") -> list[ChainEntry]:
    entries: list[ChainEntry] = []
    head = GENESIS
    for i in range(n):
        entry = seal(
            head, chain=chain, payload={"action": "pause", "n": i}, created_at=T0 + timedelta(seconds=i), key=KEY
        )
        entries.append(entry)
        head = entry.head
    return entries


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": [1, True, None], "a": "blå"}) == '{"a":"blå","b":[1,true,null]}'


@pytest.mark.parametrize(
    "bad", [{"x": 1.5}, {"x": float("nan")}, {1: "a"}, {"x": 2**60}, {"x": b"raw"}, {"x": "\ud800"}]
)
def test_canonical_json_refuses_ambiguous_values(bad: dict[object, object]) -> None:
    with pytest.raises(NotCanonical):
        canonical_json(bad)


def test_times_are_utc_iso_and_must_be_aware() -> None:
    oslo = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).astimezone()
    assert format_time(oslo).endswith("+00:00")
    with pytest.raises(ValueError, match="timezone"):
        format_time(datetime(2026, 3, 2, 10, 0))


def test_seal_links_hashes_and_signs() -> None:
    first, second = build(2)
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.entry_hash)
    preimage = {
        "chain": "audit",
        "created_at": first.created_at,
        "payload": {"action": "pause", "n": 0},
        "prev_hash": GENESIS_HASH,
        "seq": 1,
        "v": 1,
    }
    # An outside verifier needs nothing but a JSON library with sorted keys and compact separators.
    expected = hashlib.sha256(json.dumps(preimage, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert first.entry_hash == expected
    KEY.public_key().verify(bytes.fromhex(first.signature), bytes.fromhex(first.entry_hash))


def test_valid_chain_verifies() -> None:
    entries = build(5)
    result = verify_chain(entries, KEY.public_key(), chain="audit")
    assert result.ok and result.checked == 5 and result.head == entries[-1].head
    assert verify_chain([], KEY.public_key()).ok


def test_payload_change_is_a_hash_mismatch_at_that_entry() -> None:
    entries = build(5)
    entries[2] = dataclasses.replace(entries[2], payload_json='{"action":"resume","n":2}')
    result = verify_chain(entries, KEY.public_key())
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 3, FailureReason.HASH_MISMATCH)
    assert result.checked == 2 and "seq=3" in result.describe()


def test_rehashed_entry_without_the_key_is_a_bad_signature() -> None:
    entries = build(5)
    forged = seal(
        entries[1].head, chain="audit", payload={"action": "resume"}, created_at=T0, key=Ed25519PrivateKey.generate()
    )
    entries[2] = forged
    result = verify_chain(entries, KEY.public_key())
    assert (result.first_bad_seq, result.reason) == (3, FailureReason.BAD_SIGNATURE)


def test_changed_signature_is_a_bad_signature() -> None:
    entries = build(3)
    sig = entries[1].signature
    entries[1] = dataclasses.replace(entries[1], signature=("0" if sig[0] != "0" else "1") + sig[1:])
    assert verify_chain(entries, KEY.public_key()).first_bad_seq == 2
    entries[1] = dataclasses.replace(entries[1], signature="not hex")
    assert verify_chain(entries, KEY.public_key()).reason is FailureReason.BAD_SIGNATURE


def test_removed_entry_is_a_sequence_gap() -> None:
    entries = build(5)
    del entries[2]
    result = verify_chain(entries, KEY.public_key())
    assert (result.first_bad_seq, result.reason) == (3, FailureReason.SEQUENCE_GAP)


def test_broken_link_is_named() -> None:
    entries = build(4)
    # An entry sealed on another head with the right key and seq still breaks the link.
    relinked = seal(
        dataclasses.replace(entries[1].head, entry_hash="ab" * 32), chain="audit", payload={}, created_at=T0, key=KEY
    )
    entries[2] = relinked
    result = verify_chain(entries, KEY.public_key())
    assert (result.first_bad_seq, result.reason) == (3, FailureReason.BROKEN_LINK)


def test_entries_cannot_move_between_chains() -> None:
    consent = build(2, chain="consent")
    moved = dataclasses.replace(consent[1], chain="audit")
    assert verify_chain([consent[0], moved], KEY.public_key()).reason is FailureReason.HASH_MISMATCH
    assert verify_chain(consent, KEY.public_key(), chain="audit").reason is FailureReason.WRONG_CHAIN


def test_wrong_public_key_fails_at_the_first_entry() -> None:
    result = verify_chain(build(3), Ed25519PrivateKey.generate().public_key())
    assert (result.first_bad_seq, result.reason) == (1, FailureReason.BAD_SIGNATURE)


def test_segment_and_continuation() -> None:
    entries = build(6)
    assert verify_chain(entries[3:], KEY.public_key(), start=None).ok
    assert verify_chain(entries[3:], KEY.public_key(), start=entries[2].head).ok
    assert verify_chain(entries[3:], KEY.public_key()).reason is FailureReason.SEQUENCE_GAP
