"""Deletion certificates and ``samhandling recordings verify``: valid, altered (exit 1 naming why), usage (2)."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from privacy.records.keys import public_key_pem
from privacy.records.signed_chain import canonical_json
from recordings.certificates import DeletionFacts, issue, verify
from recordings.errors import CertificateInvalid
from recordings.key_provider import FileKeyProvider
from recordings.retention import DeletionTrigger
from recordings.verify_cli import add_recordings_parser, run

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FACTS = DeletionFacts(
    recording_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    meeting_id="meeting-1",
    org_ids=(22, 11),
    ciphertext_sha256="ab" * 32,
    ciphertext_sha256_at_deletion="ab" * 32,
    created_at=T0,
    deadline=T0 + timedelta(days=30),
    deletion_requested_at=T0 + timedelta(days=30),
    key_destroyed_at=T0 + timedelta(days=30, seconds=1),
    file_removed_at=T0 + timedelta(days=30, seconds=2),
    trigger=DeletionTrigger.DEADLINE,
    actor_kind="system",
    actor_ref="retention",
)
ISSUED = T0 + timedelta(days=30, seconds=3)


def cli(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="samhandling")
    add_recordings_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["recordings", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = run(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def files(tmp_path: Path, signing_key: Ed25519PrivateKey) -> tuple[Path, Path]:
    certificate = tmp_path / "certificate.json"
    certificate.write_text(issue(FACTS, signing_key, ISSUED), encoding="utf-8")
    pem = tmp_path / "public.pem"
    pem.write_bytes(public_key_pem(signing_key))
    return certificate, pem


def test_a_certificate_verifies_and_says_what_it_proves(signing_key: Ed25519PrivateKey) -> None:
    document = issue(FACTS, signing_key, ISSUED)
    assert document == canonical_json(json.loads(document))  # stored and shown in canonical form
    payload = verify(document, signing_key.public_key()).payload
    assert payload["org_ids"] == [11, 22]
    assert payload["key_destroyed_at"] == "2026-04-01T09:00:01.000000+00:00"
    assert payload["triggered_by"] == {"kind": "system", "ref": "retention"}


def test_cli_valid_certificate_exits_0(files: tuple[Path, Path]) -> None:
    certificate, pem = files
    code, out, _ = cli("verify", str(certificate), "--public-key", str(pem))
    assert code == 0
    assert out.startswith("gyldig") and FACTS.recording_id in out and "merk" not in out


def altered(document: str, change: Any) -> str:
    data = json.loads(document)
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d["certificate"].update(deadline="2026-06-01T09:00:00.000000+00:00"), "bad_signature"),
        (lambda d: d["certificate"].update(ciphertext_sha256="cd" * 32), "bad_signature"),
        (lambda d: d["certificate"].update(org_ids=[11]), "bad_signature"),
        (lambda d: d["certificate"]["triggered_by"].update(ref="staff-9"), "bad_signature"),
        (lambda d: d["signature"].update(value="00" * 64), "bad_signature"),
        (lambda d: d["signature"].update(key_sha256="00" * 32), "wrong_key"),
        (lambda d: d["certificate"].pop("key_destroyed_at"), "malformed"),
        (lambda d: d["certificate"].update(type="something else"), "wrong_type"),
        (lambda d: d.update(extra=1), "malformed"),
    ],
)
def test_cli_altered_certificate_exits_1_naming_the_reason(files: tuple[Path, Path], change: Any, reason: str) -> None:
    certificate, pem = files
    certificate.write_text(altered(certificate.read_text(encoding="utf-8"), change), encoding="utf-8")
    code, out, _ = cli("verify", str(certificate), "--public-key", str(pem))
    assert code == 1
    assert out.startswith("UGYLDIG") and f"({reason})" in out


def test_duplicate_keys_and_garbage_are_refused(files: tuple[Path, Path], signing_key: Ed25519PrivateKey) -> None:
    certificate, pem = files
    text = certificate.read_text(encoding="utf-8")
    duplicated = text.replace('{"certificate":{', '{"certificate":{"meeting_id":"other",', 1)
    with pytest.raises(CertificateInvalid) as caught:
        verify(duplicated, signing_key.public_key())
    assert caught.value.reason == "malformed"
    certificate.write_bytes(b"\xff\xfe not json")
    assert cli("verify", str(certificate), "--public-key", str(pem))[0] == 1


def test_another_servers_key_is_named(files: tuple[Path, Path], tmp_path: Path) -> None:
    certificate, _ = files
    other = tmp_path / "other.pem"
    other.write_bytes(public_key_pem(Ed25519PrivateKey.generate()))
    code, out, _ = cli("verify", str(certificate), "--public-key", str(other))
    assert code == 1 and "(wrong_key)" in out


def test_times_out_of_order_are_inconsistent(signing_key: Ed25519PrivateKey) -> None:
    early = issue(FACTS, signing_key, T0)  # issued before the key was destroyed
    with pytest.raises(CertificateInvalid) as caught:
        verify(early, signing_key.public_key())
    assert caught.value.reason == "inconsistent"


def test_a_changed_file_is_remarked_on(
    tmp_path: Path, signing_key: Ed25519PrivateKey, files: tuple[Path, Path]
) -> None:
    _, pem = files
    changed = tmp_path / "changed.json"
    facts = dataclasses.replace(FACTS, ciphertext_sha256="cd" * 32)
    changed.write_text(issue(facts, signing_key, ISSUED), encoding="utf-8")
    code, out, _ = cli("verify", str(changed), "--public-key", str(pem))
    assert code == 0 and "merk" in out


@pytest.mark.parametrize("problem", ["missing certificate", "missing key", "not a key"])
def test_usage_errors_exit_2(files: tuple[Path, Path], tmp_path: Path, problem: str) -> None:
    certificate, pem = files
    if problem == "missing certificate":
        certificate = tmp_path / "nope.json"
    elif problem == "missing key":
        pem = tmp_path / "nope.pem"
    else:
        pem.write_text("not a key", encoding="utf-8")
    code, out, err = cli("verify", str(certificate), "--public-key", str(pem))
    assert code == 2 and out == "" and err.startswith("Feil:")


def test_new_kek_writes_an_owner_only_key_once(tmp_path: Path) -> None:
    path = tmp_path / "recordings.kek"
    code, out, _ = cli("new-kek", str(path))
    assert code == 0 and "0600" in out
    assert path.stat().st_mode & 0o777 == 0o600
    assert FileKeyProvider(path).current().key != os.urandom(32)
    assert cli("new-kek", str(path))[0] == 2
