from __future__ import annotations

import argparse
import asyncio
import io
import json
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.audit_cli import add_audit_parser, run, verify_jsonl
from privacy.records.audit_record import Actor, ActorKind, AuditRecord
from privacy.records.keys import public_key_pem
from privacy.records.ledgers import AuditLog
from privacy.records.signed_chain import FailureReason
from privacy.records.tables import audit_log
from tests.privacy_records.fakes import FixedClock


@dataclass
class Setup:
    db_url: str
    public_key: Path
    tmp: Path
    engine: AsyncEngine


@pytest.fixture
async def setup(engine: AsyncEngine, key: Ed25519PrivateKey, db_url: str, tmp_path: Path) -> AsyncIterator[Setup]:
    clock = FixedClock()
    log = AuditLog(engine, key, clock)
    for action in ("lobby.admit", "pause", "resume", "roster.change"):
        clock.advance(1)
        await log.append(AuditRecord(action, Actor(ActorKind.STAFF, "staff-3"), (7,), "m1", {"role": "bruker"}))
    pem = tmp_path / "public.pem"
    pem.write_bytes(public_key_pem(key))
    yield Setup(db_url, pem, tmp_path, engine)


def cli(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="samhandling")
    add_audit_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    assert args.func is run
    out, err = io.StringIO(), io.StringIO()
    code = args.func(args, out=out, err=err)
    assert isinstance(code, int)
    return code, out.getvalue(), err.getvalue()


async def test_verify_database_and_export(setup: Setup) -> None:
    code, out, _ = await _in_thread("audit", "verify", "--db", setup.db_url, "--public-key", str(setup.public_key))
    assert code == 0, out
    assert "audit: gyldig" in out and "4 entries" in out and "consent: gyldig" in out

    export = setup.tmp / "audit.jsonl"
    code, _, err = await _in_thread("audit", "export", "--db", setup.db_url, "--chain", "audit", "--out", str(export))
    assert code == 0 and "4 oppføringer" in err
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    assert [json.loads(line)["seq"] for line in export.read_text().splitlines()] == [1, 2, 3, 4]

    code, out, _ = await _in_thread("audit", "verify", "--file", str(export), "--public-key", str(setup.public_key))
    assert code == 0 and "gyldig" in out
    # An existing export is never overwritten.
    code, _, err = await _in_thread("audit", "export", "--db", setup.db_url, "--chain", "audit", "--out", str(export))
    assert code == 2 and "Feil" in err


async def test_tampered_export_names_the_entry(setup: Setup) -> None:
    export = setup.tmp / "audit.jsonl"
    await _in_thread("audit", "export", "--db", setup.db_url, "--chain", "audit", "--out", str(export))
    lines = export.read_text().splitlines()
    entry = json.loads(lines[2])
    entry["payload"]["action"] = "lobby.deny"
    lines[2] = json.dumps(entry)
    tampered = setup.tmp / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n")
    code, out, _ = await _in_thread("audit", "verify", "--file", str(tampered), "--public-key", str(setup.public_key))
    assert code == 1
    assert "UGYLDIG" in out and "seq=3" in out and "hash_mismatch" in out and "line 3" in out


async def test_tampered_database_names_the_entry(setup: Setup) -> None:
    async with setup.engine.begin() as conn:
        await conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(signature="11" * 64))
    args = ("audit", "verify", "--db", setup.db_url, "--public-key", str(setup.public_key), "--chain", "audit")
    code, out, _ = await _in_thread(*args)
    assert code == 1 and "seq=2 (bad_signature)" in out


async def test_export_to_stdout(setup: Setup) -> None:
    code, out, _ = await _in_thread("audit", "export", "--db", setup.db_url, "--chain", "audit")
    assert code == 0 and len(out.splitlines()) == 4


async def test_bad_usage_exits_2(setup: Setup) -> None:
    missing_db = f"sqlite+aiosqlite:///{setup.tmp / 'absent.db'}"
    cases = [
        ("audit", "verify", "--db", missing_db, "--public-key", str(setup.public_key)),
        ("audit", "verify", "--db", setup.db_url, "--public-key", str(setup.tmp / "absent.pem")),
        ("audit", "verify", "--file", str(setup.tmp / "absent.jsonl"), "--public-key", str(setup.public_key)),
        ("audit", "verify", "--public-key", str(setup.public_key)),
    ]
    for argv in cases:
        code, _, err = await _in_thread(*argv)
        assert code == 2 and err.startswith("Feil:"), argv
    assert not (setup.tmp / "absent.db").exists()
    not_a_key = setup.tmp / "not-a-key.pem"
    not_a_key.write_text("hello")
    code, _, _ = await _in_thread("audit", "verify", "--db", setup.db_url, "--public-key", str(not_a_key))
    assert code == 2
    empty_db = setup.tmp / "empty.db"
    empty_db.write_bytes(b"")
    empty_url = f"sqlite+aiosqlite:///{empty_db}"
    code, _, err = await _in_thread("audit", "verify", "--db", empty_url, "--public-key", str(setup.public_key))
    assert code == 2 and "tabellene" in err


def test_argparse_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as caught:
        cli("audit", "verify", "--db", "x", "--file", "y", "--public-key", "k")
    assert caught.value.code == 2


def test_verify_jsonl_refuses_ambiguous_or_broken_lines() -> None:
    key = Ed25519PrivateKey.generate()
    duplicate = '{"seq":1,"seq":2}'
    for lines, seq in (([duplicate], 2), (["not json"], 1), (['{"seq":1,"payload":{"x":1.5}}'], 1)):
        result = verify_jsonl(lines, key.public_key())
        assert (result.ok, result.reason, result.first_bad_seq) == (False, FailureReason.MALFORMED, seq)
    assert verify_jsonl(["", "  "], key.public_key()).ok


async def _in_thread(*argv: str) -> tuple[int, str, str]:
    """The CLI runs its own event loop (asyncio.run), so async tests call it from a worker thread."""
    return await asyncio.to_thread(cli, *argv)
