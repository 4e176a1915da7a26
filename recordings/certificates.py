"""Deletion certificates: a signed statement that a recording's key was destroyed and its file removed.

The document is canonical JSON (``privacy.records.signed_chain.canonical_json``: sorted keys, no whitespace, UTF-8)::

    {"certificate": {...facts...},
     "signature": {"alg": "Ed25519", "key_sha256": "<SHA-256 of the raw public key>", "value": "<hex>"}}

The signature is Ed25519 over ``b"samhandling recording deletion certificate v1\\n"`` followed by the canonical
JSON of the ``certificate`` object. The prefix keeps a certificate signature from ever being mistaken for a
signature in the consent or audit chains (those sign 32-byte hashes). The facts hold ids, hashes and times only:
recording and meeting id, organisation ids, the SHA-256 of the ciphertext when the recording was finished and
just before its key was destroyed, when it was created, its deadline, when deletion was requested, the key
destroyed and the file removed, when the certificate was issued, and what triggered the deletion (deadline,
host, consent withdrawn) by whom (a staff id or a part of the server). Anyone with the server's public key
checks one offline with ``samhandling recordings verify``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from privacy.records.signed_chain import NotCanonical, canonical_json, format_time
from recordings.errors import CertificateInvalid
from recordings.retention import DeletionTrigger

CERTIFICATE_TYPE = "samhandling.recording_deletion_certificate"
CERTIFICATE_VERSION = 1
_CONTEXT = b"samhandling recording deletion certificate v1\n"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME_FIELDS = (
    "created_at",
    "deadline",
    "deletion_requested_at",
    "key_destroyed_at",
    "file_removed_at",
    "issued_at",
)
_IN_ORDER = ("created_at", "deletion_requested_at", "key_destroyed_at", "file_removed_at", "issued_at")


def key_fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class DeletionFacts:
    """What a certificate states. ``actor_kind`` is ``staff`` (``actor_ref`` a staff id) or ``system``."""

    recording_id: str
    meeting_id: str
    org_ids: tuple[int, ...]
    ciphertext_sha256: str | None
    """Of the whole file when the recording was finished (None if it never finished and could not be read)."""
    ciphertext_sha256_at_deletion: str | None
    """Of the whole file just before its key was destroyed (None if the file was already gone)."""
    created_at: datetime
    deadline: datetime
    deletion_requested_at: datetime
    key_destroyed_at: datetime
    file_removed_at: datetime
    trigger: DeletionTrigger
    actor_kind: str
    actor_ref: str

    def to_payload(self, issued_at: datetime) -> dict[str, object]:
        return {
            "type": CERTIFICATE_TYPE,
            "v": CERTIFICATE_VERSION,
            "recording_id": self.recording_id,
            "meeting_id": self.meeting_id,
            "org_ids": sorted(set(self.org_ids)),
            "ciphertext_sha256": self.ciphertext_sha256,
            "ciphertext_sha256_at_deletion": self.ciphertext_sha256_at_deletion,
            "created_at": format_time(self.created_at),
            "deadline": format_time(self.deadline),
            "deletion_requested_at": format_time(self.deletion_requested_at),
            "key_destroyed_at": format_time(self.key_destroyed_at),
            "file_removed_at": format_time(self.file_removed_at),
            "issued_at": format_time(issued_at),
            "trigger": self.trigger.value,
            "triggered_by": {"kind": self.actor_kind, "ref": self.actor_ref},
        }


def issue(facts: DeletionFacts, key: Ed25519PrivateKey, issued_at: datetime) -> str:
    """The signed certificate document as canonical JSON text."""
    payload = facts.to_payload(issued_at)
    signature = key.sign(_CONTEXT + canonical_json(payload).encode("utf-8"))
    document = {
        "certificate": payload,
        "signature": {"alg": "Ed25519", "key_sha256": key_fingerprint(key), "value": signature.hex()},
    }
    return canonical_json(document)


def _invalid(reason: str, message: str) -> CertificateInvalid:
    return CertificateInvalid(reason, f"Slettesertifikatet er ugyldig: {message}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key")
        result[key] = value
    return result


def _no_constants(_name: str) -> Any:
    raise ValueError("not JSON")


def _parse(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except ValueError:
        raise _invalid("malformed", "det er ikke gyldig JSON (eller har doble nøkler).") from None
    if not isinstance(document, dict) or set(document) != {"certificate", "signature"}:
        raise _invalid("malformed", "det mangler «certificate» eller «signature», eller har ukjente felt.")
    payload, signature = document["certificate"], document["signature"]
    if not isinstance(payload, dict) or not isinstance(signature, dict):
        raise _invalid("malformed", "«certificate» og «signature» må være objekter.")
    return payload, signature


def _check_shape(payload: Mapping[str, Any]) -> None:
    if payload.get("type") != CERTIFICATE_TYPE or payload.get("v") != CERTIFICATE_VERSION:
        raise _invalid("wrong_type", "det er ikke et slettesertifikat for opptak av en kjent versjon.")
    texts = ("recording_id", "meeting_id", "trigger", *_TIME_FIELDS)
    if not all(isinstance(payload.get(name), str) for name in texts):
        raise _invalid("malformed", "et påkrevd felt mangler eller har feil type.")
    orgs = payload.get("org_ids")
    if not isinstance(orgs, list) or not all(isinstance(o, int) and not isinstance(o, bool) for o in orgs):
        raise _invalid("malformed", "«org_ids» må være en liste med organisasjons-id-er.")
    for name in ("ciphertext_sha256", "ciphertext_sha256_at_deletion"):
        value = payload.get(name)
        if value is not None and not (isinstance(value, str) and _HEX64.fullmatch(value)):
            raise _invalid("malformed", f"«{name}» er ikke en SHA-256-verdi.")
    actor = payload.get("triggered_by")
    if not isinstance(actor, dict) or not all(isinstance(actor.get(k), str) for k in ("kind", "ref")):
        raise _invalid("malformed", "«triggered_by» mangler eller har feil form.")
    if payload["trigger"] not in {t.value for t in DeletionTrigger}:
        raise _invalid("malformed", "ukjent årsak til slettingen.")


def _times(payload: Mapping[str, Any]) -> dict[str, datetime]:
    times: dict[str, datetime] = {}
    for name in _TIME_FIELDS:
        try:
            moment = datetime.fromisoformat(payload[name])
            if format_time(moment) != payload[name]:
                raise ValueError("not canonical")
        except ValueError:
            raise _invalid("malformed", f"tidspunktet «{name}» har feil form.") from None
        times[name] = moment
    return times


@dataclass(frozen=True, slots=True)
class VerifiedCertificate:
    payload: dict[str, Any]

    @property
    def recording_id(self) -> str:
        return str(self.payload["recording_id"])

    @property
    def hashes_agree(self) -> bool:
        """False when the file changed between finishing and deletion (both hashes known and different)."""
        finished, deleted = self.payload["ciphertext_sha256"], self.payload["ciphertext_sha256_at_deletion"]
        return finished is None or deleted is None or finished == deleted

    def describe(self) -> str:
        p = self.payload
        return (
            f"opptak {p['recording_id']} (møte {p['meeting_id']}, organisasjoner {p['org_ids']}): "
            f"nøkkel destruert {p['key_destroyed_at']}, fil fjernet {p['file_removed_at']}, "
            f"frist {p['deadline']}, opprettet {p['created_at']}, årsak {p['trigger']} "
            f"({p['triggered_by']['kind']} {p['triggered_by']['ref']}), "
            f"SHA-256 {p['ciphertext_sha256_at_deletion'] or p['ciphertext_sha256'] or 'ukjent'}"
        )


def verify(text: str, public_key: Ed25519PublicKey) -> VerifiedCertificate:
    """Check a certificate document; CertificateInvalid names why (``reason``: malformed, wrong_type, wrong_key,
    bad_signature, inconsistent)."""
    payload, signature = _parse(text)
    _check_shape(payload)
    if signature.get("alg") != "Ed25519" or not isinstance(signature.get("value"), str):
        raise _invalid("malformed", "signaturen mangler eller bruker en ukjent algoritme.")
    if signature.get("key_sha256") != key_fingerprint(public_key):
        raise _invalid("wrong_key", "det er signert med en annen nøkkel enn den oppgitte offentlige nøkkelen.")
    try:
        message = _CONTEXT + canonical_json(payload).encode("utf-8")
        public_key.verify(bytes.fromhex(signature["value"]), message)
    except (InvalidSignature, ValueError, NotCanonical):
        reason = "signaturen stemmer ikke; innholdet er endret etter at det ble signert."
        raise _invalid("bad_signature", reason) from None
    times = _times(payload)
    if any(times[a] > times[b] for a, b in itertools.pairwise(_IN_ORDER)):
        raise _invalid("inconsistent", "tidspunktene kommer i feil rekkefølge.")
    return VerifiedCertificate(dict(payload))
