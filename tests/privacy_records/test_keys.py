from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from privacy.records.errors import SigningKeyError
from privacy.records.keys import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    load_or_create_signing_key,
    load_public_key_pem,
    load_signing_key,
    public_key_pem,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_creates_owner_only_key_then_loads_the_same(tmp_path: Path) -> None:
    key_dir = tmp_path / "data" / "keys"
    old_umask = os.umask(0o022)
    try:
        key = load_or_create_signing_key(key_dir)
    finally:
        os.umask(old_umask)
    assert mode(key_dir) == 0o700
    assert mode(key_dir / PRIVATE_KEY_FILE) == 0o600
    assert (key_dir / PUBLIC_KEY_FILE).read_bytes() == public_key_pem(key)
    again = load_or_create_signing_key(key_dir)
    assert public_key_pem(again) == public_key_pem(key)
    assert [p.name for p in key_dir.iterdir() if p.name.endswith(".tmp")] == []


def test_public_key_round_trips_through_pem(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path)
    public = load_public_key_pem(public_key_pem(key))
    public.verify(key.sign(b"x"), b"x")


@pytest.mark.parametrize("bits", [0o640, 0o604, 0o660])
def test_key_readable_by_others_is_refused(tmp_path: Path, bits: int) -> None:
    load_or_create_signing_key(tmp_path)
    os.chmod(tmp_path / PRIVATE_KEY_FILE, bits)
    with pytest.raises(SigningKeyError, match="0600"):
        load_or_create_signing_key(tmp_path)


def test_garbage_or_wrong_algorithm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / PRIVATE_KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not a key")
    os.close(fd)
    with pytest.raises(SigningKeyError):
        load_signing_key(path)
    with pytest.raises(SigningKeyError):
        load_public_key_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_missing_key_file_and_symlink_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError):
        load_signing_key(tmp_path / "absent.pem")
    load_or_create_signing_key(tmp_path / "real")
    link = tmp_path / "link.pem"
    link.symlink_to(tmp_path / "real" / PRIVATE_KEY_FILE)
    with pytest.raises(SigningKeyError):
        load_signing_key(link)


def test_missing_public_file_is_written_again(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path)
    (tmp_path / PUBLIC_KEY_FILE).unlink()
    load_or_create_signing_key(tmp_path)
    assert (tmp_path / PUBLIC_KEY_FILE).read_bytes() == public_key_pem(key)


def test_unusable_key_directory_is_a_signing_key_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SigningKeyError):
        load_or_create_signing_key(blocker / "keys")


def test_existing_key_is_never_replaced(tmp_path: Path) -> None:
    first = load_or_create_signing_key(tmp_path)
    for _ in range(3):
        assert public_key_pem(load_or_create_signing_key(tmp_path)) == public_key_pem(first)
    assert isinstance(first, Ed25519PrivateKey)
