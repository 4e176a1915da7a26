"""The server's Ed25519 signing key for the consent ledger and the audit log.

Generated on first start in a key directory (mode 0700) as an unencrypted PKCS#8 PEM file (mode 0600), loaded
after that. Whoever can read the file can forge ledger entries, so a key file that group or others may read is
refused rather than used: the operator must fix the permissions (or restore the key) knowingly. The public key
is written beside it and can be exported as PEM for verifying a chain offline. Protecting the directory (backup,
disk encryption, a secrets store) is the operator's job; see THREAT_MODEL.md.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from privacy.records.errors import SigningKeyError

PRIVATE_KEY_FILE = "ledger-ed25519.pem"
PUBLIC_KEY_FILE = "ledger-ed25519.pub.pem"
_MAX_KEY_FILE_BYTES = 4096


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public half as SubjectPublicKeyInfo PEM, the form ``samhandling audit verify`` takes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key_pem(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; SigningKeyError for anything else (another algorithm, garbage)."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise SigningKeyError("Den offentlige nøkkelen kan ikke leses (forventet PEM).") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("Den offentlige nøkkelen er ikke en Ed25519-nøkkel.")
    return key


def load_or_create_signing_key(key_dir: Path) -> Ed25519PrivateKey:
    """The signing key in ``key_dir``, generated there first if the directory holds none.

    Creation is safe against a second process starting at the same moment: the key is written to a temporary
    file and hard-linked into place, which fails if a key already exists, so the loser loads the winner's key
    and no half-written file is ever read.
    """
    path = key_dir / PRIVATE_KEY_FILE
    try:
        key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(key_dir, 0o700)  # mkdir's mode is reduced by the umask and ignored for an existing directory
        if not path.exists():
            _create(key_dir, path)
    except OSError as exc:
        raise SigningKeyError("Nøkkelmappen kan ikke opprettes eller brukes.") from exc
    key = load_signing_key(path)
    if not (key_dir / PUBLIC_KEY_FILE).exists():
        _write_public(key_dir, key)
    return key


class KeyFileError(Exception):
    """A key file that must not be used; the message (Norwegian) names the key and why."""


def read_owner_only(path: Path, *, what: str, max_bytes: int) -> bytes:
    """The bytes of a key file that is a regular file (no symlink) only its owner may access.

    Shared by every secret the server keeps on disk (the ledger's signing key, the recordings' KEK).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise KeyFileError(f"{what} kan ikke åpnes.") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"{what} er ikke en vanlig fil.")
        if info.st_mode & 0o077:
            raise KeyFileError(f"{what} kan leses av andre enn eieren. Sett filrettighetene til 0600 før oppstart.")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise KeyFileError(f"{what} har feil format.")
    return data


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load a PEM private key file, refusing one that is not a regular file or that group/others may access."""
    try:
        data = read_owner_only(path, what="Signeringsnøkkelen", max_bytes=_MAX_KEY_FILE_BYTES)
    except KeyFileError as exc:
        raise SigningKeyError(str(exc)) from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError("Signeringsnøkkelen har feil format.") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError("Signeringsnøkkelen er ikke en Ed25519-nøkkel.")
    return key


def _create(key_dir: Path, path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    temp = key_dir / f".{PRIVATE_KEY_FILE}.{os.getpid()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        try:
            os.link(temp, path)
        except FileExistsError:
            return  # another process won the race; its key is the key
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    _write_public(key_dir, key)
    _fsync_dir(key_dir)


def _write_public(key_dir: Path, key: Ed25519PrivateKey) -> None:
    public = key_dir / PUBLIC_KEY_FILE
    temp = key_dir / f".{PUBLIC_KEY_FILE}.{os.getpid()}.tmp"
    temp.write_bytes(public_key_pem(key))
    os.chmod(temp, 0o644)
    os.replace(temp, public)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
