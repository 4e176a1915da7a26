"""Key-encryption keys (KEKs): where the key that wraps every recording's data key comes from.

A recording's data key is wrapped by a KEK that is configured apart from the data directory, so that a copy of
the recordings (a backup, a stolen disk) is useless without it. The ``KeyProvider`` protocol is the seam: the
writer asks for the current KEK, the reader for the KEK a file names by its id (which allows rotation: keep the
old KEK readable until its recordings are gone). ``FileKeyProvider`` reads a KEK file (base64 of 32 random
bytes) that only its owner may read; ``StaticKeyProvider`` takes the bytes from elsewhere (an environment
variable read by the settings, a secrets manager). A KEK's id is an HMAC of a fixed label under the key, so it
names the key without revealing anything about it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from privacy.records.keys import KeyFileError, read_owner_only
from recordings.errors import KeyProviderError, UnknownKek

KEK_BYTES = 32
KEK_ID_BYTES = 16
_MAX_KEK_FILE_BYTES = 256
_ID_LABEL = b"samhandling recordings kek id v1"


def kek_id_for(key: bytes) -> bytes:
    """The 16-byte id of a KEK: HMAC-SHA256(key, label), truncated."""
    return hmac.new(key, _ID_LABEL, hashlib.sha256).digest()[:KEK_ID_BYTES]


@dataclass(frozen=True, slots=True)
class Kek:
    """A 256-bit key-encryption key and its id; the key never appears in a repr."""

    key: bytes = field(repr=False)
    kek_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEK_BYTES:
            raise KeyProviderError("Nøkkelkrypteringsnøkkelen må være 32 byte (256 bit).")
        object.__setattr__(self, "kek_id", kek_id_for(self.key))


class KeyProvider(Protocol):
    """Where KEKs come from. Implementations must be safe to call from a worker thread."""

    def current(self) -> Kek:
        """The KEK new recordings are wrapped with."""
        ...

    def lookup(self, kek_id: bytes) -> Kek:
        """The KEK with this id; UnknownKek when there is none (a wrong or retired key)."""
        ...


class StaticKeyProvider:
    """KEKs given as bytes: the first is current, the rest are older ones kept readable during a rotation."""

    def __init__(self, current: bytes, *older: bytes) -> None:
        self._current = Kek(current)
        self._by_id = {kek.kek_id: kek for kek in (self._current, *(Kek(k) for k in older))}

    @classmethod
    def from_base64(cls, text: str, *older: str) -> StaticKeyProvider:
        """From base64 text, as a KEK is written in an environment variable or a secrets store."""
        return cls(decode_kek(text), *(decode_kek(t) for t in older))

    def current(self) -> Kek:
        return self._current

    def lookup(self, kek_id: bytes) -> Kek:
        try:
            return self._by_id[kek_id]
        except KeyError:
            raise UnknownKek() from None


def decode_kek(text: str) -> bytes:
    """32 bytes from base64 text (surrounding whitespace allowed); KeyProviderError otherwise."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyProviderError("Nøkkelkrypteringsnøkkelen må være 32 byte skrevet som base64.") from None
    if len(key) != KEK_BYTES:
        raise KeyProviderError("Nøkkelkrypteringsnøkkelen må være 32 byte skrevet som base64.")
    return key


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def read_kek_file(path: Path) -> bytes:
    """The KEK in ``path``, refusing a file that is not regular, is a symlink, or that group/others may access."""
    try:
        data = read_owner_only(path, what="Nøkkelkrypteringsnøkkelen", max_bytes=_MAX_KEK_FILE_BYTES)
    except KeyFileError as exc:
        raise KeyProviderError(str(exc)) from exc
    try:
        return decode_kek(data.decode("ascii"))
    except UnicodeDecodeError:
        raise KeyProviderError("Nøkkelkrypteringsnøkkelen har feil format.") from None


class FileKeyProvider(StaticKeyProvider):
    """KEKs read once from files: ``path`` is current, ``older`` stay readable. ``not_inside`` lists folders the
    key files must not be in (the data and recordings directories), so that the key never sits beside the data."""

    def __init__(self, path: Path, *, older: Sequence[Path] = (), not_inside: Iterable[Path] = ()) -> None:
        folders = list(not_inside)
        for candidate in (path, *older):
            if any(_is_within(candidate, folder) for folder in folders):
                raise KeyProviderError(
                    "Nøkkelkrypteringsnøkkelen ligger i datamappen. Den skal oppbevares et annet sted enn opptakene."
                )
        super().__init__(read_kek_file(path), *(read_kek_file(p) for p in older))


def create_kek_file(path: Path) -> Kek:
    """Write a new random KEK to ``path`` (mode 0600, never over an existing file) and return it."""
    key = secrets.token_bytes(KEK_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise KeyProviderError("Nøkkelfilen kan ikke opprettes (finnes den fra før?).") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.b64encode(key) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o600)
    return Kek(key)
