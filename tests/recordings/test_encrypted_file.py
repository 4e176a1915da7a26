"""The encrypted container: round trips, random access, and refusal of every kind of tampering."""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path

import pytest

from recordings import container_format as fmt
from recordings.encrypted_file import EncryptedReader, EncryptedWriter, TailState, destroy_key, file_sha256
from recordings.errors import (
    ChunkTampered,
    ContainerError,
    HeaderTampered,
    KeyDestroyed,
    NotARecording,
    RecordingTruncated,
    UnknownKek,
    UnsupportedFormat,
)
from tests.recordings.fakes import FakeKeyProvider

CHUNK = fmt.MIN_CHUNK_SIZE
SEALED = CHUNK + fmt.TAG_BYTES


def write(path: Path, data: bytes, keys: FakeKeyProvider, *, pieces: int = 7, seed: int = 1) -> None:
    rng = random.Random(seed)
    with EncryptedWriter(path, uuid.uuid4(), keys, chunk_size=CHUNK) as writer:
        position = 0
        while position < len(data):
            step = rng.randint(1, max(1, len(data) // pieces))
            writer.write(data[position : position + step])
            position += step


def plaintext(size: int) -> bytes:
    return random.Random(size).randbytes(size)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 123])
def test_round_trip(tmp_path: Path, keys: FakeKeyProvider, size: int) -> None:
    data = plaintext(size)
    path = tmp_path / "r.rec"
    write(path, data, keys)
    with EncryptedReader(path, keys, require_complete=True) as reader:
        assert reader.tail is TailState.COMPLETE
        assert reader.plaintext_size == size
        assert b"".join(reader.iter_chunks()) == data
    assert path.stat().st_size == fmt.HEADER_BYTES + size + (size // CHUNK + 1) * fmt.TAG_BYTES
    assert path.stat().st_mode & 0o777 == 0o600


def test_close_reports_the_hash_of_the_file(tmp_path: Path, keys: FakeKeyProvider) -> None:
    path = tmp_path / "r.rec"
    writer = EncryptedWriter(path, uuid.uuid4(), keys, chunk_size=CHUNK)
    writer.write(plaintext(2 * CHUNK + 5))
    finished = writer.close()
    assert finished.sha256 == file_sha256(path)
    assert (finished.size, finished.plaintext_size, finished.chunks) == (path.stat().st_size, 2 * CHUNK + 5, 3)
    with pytest.raises(ValueError):
        writer.write(b"more")


def test_random_access_by_plaintext_offset(tmp_path: Path, keys: FakeKeyProvider) -> None:
    data = plaintext(4 * CHUNK + 777)
    path = tmp_path / "r.rec"
    write(path, data, keys)
    rng = random.Random(5)
    with EncryptedReader(path, keys) as reader:
        for _ in range(200):
            start = rng.randrange(0, len(data) + 1)
            end = rng.randrange(start, len(data) + 1)
            assert b"".join(reader.iter_range(start, end)) == data[start:end]
        assert reader.read_at(len(data) - 10, 1000) == data[-10:]
        stream = reader.stream()
        stream.seek(CHUNK - 3)
        assert stream.read(6) == data[CHUNK - 3 : CHUNK + 3]
        stream.seek(-5, os.SEEK_END)
        assert stream.read() == data[-5:]


def test_existing_file_is_never_overwritten(tmp_path: Path, keys: FakeKeyProvider) -> None:
    path = tmp_path / "r.rec"
    path.write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        EncryptedWriter(path, uuid.uuid4(), keys)
    assert path.read_bytes() == b"someone else's"


def flip(path: Path, offset: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ 0x01]))


@pytest.fixture
def finished(tmp_path: Path, keys: FakeKeyProvider) -> tuple[Path, bytes]:
    data = plaintext(3 * CHUNK + 100)
    path = tmp_path / "r.rec"
    write(path, data, keys)
    return path, data


def read_all(path: Path, keys: FakeKeyProvider) -> bytes:
    with EncryptedReader(path, keys, require_complete=True) as reader:
        return b"".join(reader.iter_chunks())


@pytest.mark.parametrize("offset", range(fmt.HEADER_BYTES))
def test_any_header_byte_changed_is_refused(finished: tuple[Path, bytes], keys: FakeKeyProvider, offset: int) -> None:
    path, _ = finished
    flip(path, offset)
    with pytest.raises(ContainerError):
        read_all(path, keys)


@pytest.mark.parametrize(
    ("offset", "error"),
    [
        (0, NotARecording),  # magic
        (9, UnsupportedFormat),  # version
        (11, UnsupportedFormat),  # flags
        (15, HeaderTampered),  # chunk size (still in range): the wrapped key no longer authenticates
        (20, HeaderTampered),  # recording id
        (40, UnknownKek),  # KEK id
        (50, HeaderTampered),  # nonce prefix
        (60, HeaderTampered),  # wrap nonce
        (100, HeaderTampered),  # wrapped key
    ],
)
def test_header_fields_are_refused_for_the_right_reason(
    finished: tuple[Path, bytes], keys: FakeKeyProvider, offset: int, error: type[ContainerError]
) -> None:
    path, _ = finished
    flip(path, offset)
    with pytest.raises(error):
        read_all(path, keys)


@pytest.mark.parametrize("chunk", [0, 1, 2, 3])
@pytest.mark.parametrize("where", [0, CHUNK // 2, "tag"])
def test_a_changed_chunk_is_refused(
    finished: tuple[Path, bytes], keys: FakeKeyProvider, chunk: int, where: int | str
) -> None:
    path, _ = finished
    length = SEALED if chunk < 3 else 100 + fmt.TAG_BYTES
    inside = length - 1 if where == "tag" else int(where) % length
    flip(path, fmt.HEADER_BYTES + chunk * SEALED + inside)
    with pytest.raises((ChunkTampered, RecordingTruncated)):
        read_all(path, keys)


def test_swapped_chunks_are_refused(finished: tuple[Path, bytes], keys: FakeKeyProvider) -> None:
    path, _ = finished
    raw = bytearray(path.read_bytes())
    first = slice(fmt.HEADER_BYTES, fmt.HEADER_BYTES + SEALED)
    second = slice(fmt.HEADER_BYTES + SEALED, fmt.HEADER_BYTES + 2 * SEALED)
    raw[first], raw[second] = raw[second], raw[first]
    path.write_bytes(bytes(raw))
    with pytest.raises(ChunkTampered) as caught:
        read_all(path, keys)
    assert caught.value.index == 0


def test_a_removed_middle_chunk_is_refused(finished: tuple[Path, bytes], keys: FakeKeyProvider) -> None:
    path, _ = finished
    raw = path.read_bytes()
    cut = fmt.HEADER_BYTES + SEALED
    path.write_bytes(raw[:cut] + raw[cut + SEALED :])
    with pytest.raises((ChunkTampered, RecordingTruncated)):
        read_all(path, keys)


def test_a_chunk_from_another_recording_is_refused(tmp_path: Path, keys: FakeKeyProvider) -> None:
    data = plaintext(3 * CHUNK)
    a, b = tmp_path / "a.rec", tmp_path / "b.rec"
    write(a, data, keys)
    write(b, data, keys)
    raw_a, raw_b = a.read_bytes(), bytearray(b.read_bytes())
    raw_b[fmt.HEADER_BYTES : fmt.HEADER_BYTES + SEALED] = raw_a[fmt.HEADER_BYTES : fmt.HEADER_BYTES + SEALED]
    b.write_bytes(bytes(raw_b))
    with pytest.raises(ChunkTampered):
        read_all(b, keys)


def test_truncated_mid_chunk_is_a_torn_tail(finished: tuple[Path, bytes], keys: FakeKeyProvider) -> None:
    path, data = finished
    os.truncate(path, fmt.HEADER_BYTES + 2 * SEALED + 100)
    with pytest.raises(RecordingTruncated):
        read_all(path, keys)
    with EncryptedReader(path, keys) as reader:
        assert reader.tail is TailState.TORN
        assert reader.plaintext_size == 2 * CHUNK
        assert b"".join(reader.iter_chunks()) == data[: 2 * CHUNK]


def test_the_final_chunk_cut_off_at_a_boundary_is_unfinished(
    finished: tuple[Path, bytes], keys: FakeKeyProvider
) -> None:
    path, data = finished
    os.truncate(path, fmt.HEADER_BYTES + 3 * SEALED)
    with pytest.raises(RecordingTruncated):
        read_all(path, keys)
    with EncryptedReader(path, keys) as reader:
        assert reader.tail is TailState.UNFINISHED
        assert b"".join(reader.iter_chunks()) == data[: 3 * CHUNK]


def test_a_file_cut_inside_its_header_is_refused(finished: tuple[Path, bytes], keys: FakeKeyProvider) -> None:
    path, _ = finished
    os.truncate(path, fmt.HEADER_BYTES - 1)
    with pytest.raises(HeaderTampered):
        EncryptedReader(path, keys)


def test_an_aborted_writer_leaves_a_readable_unfinished_prefix(tmp_path: Path, keys: FakeKeyProvider) -> None:
    path = tmp_path / "r.rec"
    data = plaintext(2 * CHUNK + 50)
    writer = EncryptedWriter(path, uuid.uuid4(), keys, chunk_size=CHUNK)
    writer.write(data)
    writer.abort()
    with EncryptedReader(path, keys) as reader:
        assert (reader.tail, reader.plaintext_size) == (TailState.UNFINISHED, 2 * CHUNK)
        assert b"".join(reader.iter_chunks()) == data[: 2 * CHUNK]


def test_wrong_kek_is_refused(finished: tuple[Path, bytes]) -> None:
    path, _ = finished
    with pytest.raises(UnknownKek):
        EncryptedReader(path, FakeKeyProvider())


def test_an_older_kek_still_reads_after_rotation(finished: tuple[Path, bytes], keys: FakeKeyProvider) -> None:
    path, data = finished
    rotated = FakeKeyProvider(os.urandom(32), keys.current().key)
    with EncryptedReader(path, rotated) as reader:
        assert b"".join(reader.iter_chunks()) == data


def test_destroying_the_key_makes_the_file_unreadable(finished: tuple[Path, bytes], keys: FakeKeyProvider) -> None:
    path, _ = finished
    before = path.read_bytes()
    assert destroy_key(path) is True
    after = path.read_bytes()
    assert len(after) == len(before)
    assert after[fmt.KEY_FIELD_OFFSET : fmt.HEADER_BYTES] == bytes(fmt.KEY_FIELD_BYTES)
    assert after[fmt.HEADER_BYTES :] == before[fmt.HEADER_BYTES :]
    with pytest.raises(KeyDestroyed):
        EncryptedReader(path, keys)
    assert destroy_key(path) is False
