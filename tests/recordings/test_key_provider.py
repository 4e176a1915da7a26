"""Key-encryption keys: files only the owner may read, kept apart from the data, never printed."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from recordings.errors import KeyProviderError, UnknownKek
from recordings.key_provider import FileKeyProvider, Kek, StaticKeyProvider, create_kek_file, kek_id_for


def kek_file(path: Path, content: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(content)
    os.chmod(path, mode)
    return path


def test_a_created_kek_file_is_owner_only_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "recordings.kek"
    path.parent.mkdir()
    kek = create_kek_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    provider = FileKeyProvider(path)
    assert provider.current() == kek
    assert provider.lookup(kek.kek_id) == kek
    with pytest.raises(KeyProviderError):
        create_kek_file(path)  # never over an existing key


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_kek_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = kek_file(tmp_path / "k", base64.b64encode(os.urandom(32)), mode)
    with pytest.raises(KeyProviderError, match="0600"):
        FileKeyProvider(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"not base64!", base64.b64encode(os.urandom(16)), base64.b64encode(os.urandom(33)), b"\xff\xfe" * 10],
)
def test_a_malformed_kek_file_is_refused(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(KeyProviderError):
        FileKeyProvider(kek_file(tmp_path / "k", content))


def test_a_symlinked_kek_file_is_refused(tmp_path: Path) -> None:
    target = kek_file(tmp_path / "k", base64.b64encode(os.urandom(32)))
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(KeyProviderError):
        FileKeyProvider(link)


def test_a_kek_beside_the_data_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "recordings").mkdir(parents=True)
    inside = kek_file(data_dir / "recordings.kek", base64.b64encode(os.urandom(32)))
    with pytest.raises(KeyProviderError, match="datamappen"):
        FileKeyProvider(inside, not_inside=[data_dir])
    outside = kek_file(tmp_path / "recordings.kek", base64.b64encode(os.urandom(32)))
    assert FileKeyProvider(outside, not_inside=[data_dir]).current().kek_id == kek_id_for(
        base64.b64decode(outside.read_bytes())
    )


def test_the_key_never_appears_in_a_repr() -> None:
    key = os.urandom(32)
    assert key.hex() not in repr(Kek(key))
    assert repr(key) not in repr(Kek(key))


def test_static_provider_from_base64_and_rotation() -> None:
    old, new = os.urandom(32), os.urandom(32)
    provider = StaticKeyProvider.from_base64(base64.b64encode(new).decode(), base64.b64encode(old).decode())
    assert provider.current().key == new
    assert provider.lookup(kek_id_for(old)).key == old
    with pytest.raises(UnknownKek):
        provider.lookup(kek_id_for(os.urandom(32)))
    with pytest.raises(KeyProviderError):
        StaticKeyProvider.from_base64("c2hvcnQ=")
