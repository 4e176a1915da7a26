"""``samhandling audit verify`` and ``samhandling audit export``: check the signed chains offline.

A compliance officer or auditor verifies a chain with nothing but the public key PEM: straight from the
database, or from a JSON Lines export (one entry per line, as ``ChainEntry.to_json_dict``). Exit codes: 0 the
chain is valid, 1 it is not (the first bad entry is printed with its seq and reason), 2 bad usage (missing or
unreadable file, key or database). The wiring into the ``samhandling`` command lives in ``web/cli.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from privacy.records.errors import SigningKeyError
from privacy.records.keys import load_public_key_pem
from privacy.records.ledger_store import TABLES, ChainName, iter_entries, verify_stored
from privacy.records.signed_chain import (
    GENESIS,
    ChainEntry,
    FailureReason,
    NotCanonical,
    VerifyResult,
    canonical_json,
    failure,
    verify_chain,
)

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Something the operator must fix before anything can be verified (exit code 2)."""


# --- JSON Lines --------------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers may keep different copies of a repeated key; a signed record must mean one thing.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def entry_to_json_line(entry: ChainEntry) -> str:
    return json.dumps(entry.to_json_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_from_json_line(line: str) -> ChainEntry:
    """Parse one export line strictly: exact types, no duplicate keys, no NaN, payload re-canonicalised."""
    data = json.loads(line, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    if not isinstance(data, dict):
        raise ValueError("line is not a JSON object")
    texts = ("chain", "prev_hash", "created_at", "entry_hash", "signature")
    if not all(isinstance(data.get(name), str) for name in texts):
        raise ValueError("missing or non-text field")
    seq, payload = data.get("seq"), data.get("payload")
    if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(payload, dict):
        raise ValueError("seq must be an integer and payload an object")
    return ChainEntry(
        chain=data["chain"],
        seq=seq,
        prev_hash=data["prev_hash"],
        created_at=data["created_at"],
        payload_json=canonical_json(payload),
        entry_hash=data["entry_hash"],
        signature=data["signature"],
    )


def _seq_hint(line: str) -> int | None:
    try:
        seq = json.loads(line).get("seq")
    except (ValueError, AttributeError):
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def verify_jsonl(lines: Iterable[str], public_key: Ed25519PublicKey, *, chain: str | None = None) -> VerifyResult:
    """Verify an export line by line (streaming); a line that cannot be read is the first bad entry."""
    head, checked = GENESIS, 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = entry_from_json_line(line)
        except (ValueError, NotCanonical) as exc:
            seq = _seq_hint(line) or head.seq + 1
            return failure(head, checked, seq, FailureReason.MALFORMED, f"line {number}: {exc}")
        chain = chain or entry.chain
        result = verify_chain([entry], public_key, chain=chain, start=head)
        if not result.ok:
            detail = f"line {number}: {result.detail}"
            return VerifyResult(False, checked, head, result.first_bad_seq, result.reason, detail)
        head, checked = result.head, checked + 1
    return VerifyResult(True, checked, head)


async def export_jsonl(conn: AsyncConnection, chain: ChainName, out: TextIO) -> int:
    """Write every entry of ``chain`` to ``out`` as JSON Lines, unverified (a damaged chain is exported as it
    is, so that it can be examined); returns the number of entries."""
    written = 0
    async for entry in iter_entries(conn, chain):
        out.write(entry_to_json_line(entry) + "\n")
        written += 1
    return written


# --- database access ---------------------------------------------------------------------------------------


def _check_database_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UsageError("Databaseadressen kan ikke leses.") from exc
    local = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
    if local and not Path(parsed.database or "").is_file():
        raise UsageError("Databasefilen finnes ikke.")  # never let a typo create an empty database


@asynccontextmanager
async def open_database(url: str, chains: Sequence[ChainName]) -> AsyncIterator[AsyncConnection]:
    """A read connection to a database that holds the chains' tables; UsageError when it cannot be used."""
    _check_database_url(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            names = [TABLES[chain].name for chain in chains]
            present = await conn.run_sync(lambda sync: [inspect(sync).has_table(name) for name in names])
            if not all(present):
                raise UsageError("Databasen har ikke tabellene for personvernloggene (kjør «samhandling migrate»).")
            yield conn
    except (SQLAlchemyError, OSError) as exc:
        raise UsageError(f"Databasen kan ikke leses ({type(exc).__name__}).") from exc
    finally:
        await engine.dispose()


async def _verify_database(
    url: str, chains: Sequence[ChainName], public_key: Ed25519PublicKey
) -> list[tuple[ChainName, VerifyResult]]:
    async with open_database(url, chains) as conn:
        return [(chain, await verify_stored(conn, chain, public_key)) for chain in chains]


async def _export_database(url: str, chain: ChainName, out: TextIO) -> int:
    async with open_database(url, [chain]) as conn:
        return await export_jsonl(conn, chain, out)


# --- argparse ----------------------------------------------------------------------------------------------


def add_audit_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], *, default_db_url: str | None = None
) -> argparse.ArgumentParser:
    """Add ``audit verify`` and ``audit export`` to a ``samhandling`` parser; each sets ``func=run``."""
    audit = subparsers.add_parser("audit", help="verify or export the signed consent ledger and audit log")
    commands = audit.add_subparsers(dest="audit_command", required=True)

    verify = commands.add_parser("verify", help="verify a chain offline with the public key")
    source = verify.add_mutually_exclusive_group()
    source.add_argument("--db", dest="db_url", default=default_db_url, help="database URL (SQLAlchemy async)")
    source.add_argument("--file", type=Path, help="a JSON Lines export to verify instead of the database")
    verify.add_argument("--public-key", type=Path, required=True, help="the server's public key (PEM)")
    verify.add_argument("--chain", choices=[c.value for c in ChainName], help="one chain (default: both)")
    verify.set_defaults(func=run)

    export = commands.add_parser("export", help="write a chain as JSON Lines")
    export.add_argument("--db", dest="db_url", default=default_db_url, help="database URL (SQLAlchemy async)")
    export.add_argument("--chain", choices=[c.value for c in ChainName], required=True)
    export.add_argument("--out", type=Path, help="file to create (not overwritten); default: standard output")
    export.set_defaults(func=run)
    return audit


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Carry out a parsed ``audit`` command; returns the exit code (0 valid, 1 invalid, 2 bad usage)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if args.audit_command == "verify":
            return _verify(args, out)
        if args.audit_command == "export":
            return _export(args, out, err)
        raise UsageError("Ukjent kommando.")
    except (UsageError, SigningKeyError) as exc:
        print(f"Feil: {exc}", file=err)
        return EXIT_USAGE


def _report(chain: str, result: VerifyResult, out: TextIO) -> None:
    if result.ok:
        print(f"{chain}: gyldig – {result.describe()}", file=out)
    else:
        print(f"{chain}: UGYLDIG – {result.describe()}", file=out)


def _read_public_key(path: Path) -> Ed25519PublicKey:
    try:
        return load_public_key_pem(path.read_bytes())
    except OSError as exc:
        raise UsageError("Den offentlige nøkkelen kan ikke leses.") from exc


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    public_key = _read_public_key(args.public_key)
    if args.file is not None:
        try:
            with args.file.open(encoding="utf-8") as lines:
                result = verify_jsonl(lines, public_key, chain=args.chain)
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError("Eksportfilen kan ikke leses.") from exc
        _report(args.chain or "fil", result, out)
        return EXIT_VALID if result.ok else EXIT_INVALID
    if not args.db_url:
        raise UsageError("Oppgi --db eller --file.")
    chains = [ChainName(args.chain)] if args.chain else list(ChainName)
    valid = True
    for chain, result in asyncio.run(_verify_database(args.db_url, chains, public_key)):
        _report(chain.value, result, out)
        valid = valid and result.ok
    return EXIT_VALID if valid else EXIT_INVALID


def _export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not args.db_url:
        raise UsageError("Oppgi --db.")
    chain = ChainName(args.chain)
    if args.out is None:
        asyncio.run(_export_database(args.db_url, chain, out))
        return EXIT_VALID
    try:
        # Owner-only, and never over an existing file: an export holds staff ids and meeting ids.
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise UsageError("Eksportfilen kan ikke opprettes (finnes den fra før?).") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            count = asyncio.run(_export_database(args.db_url, chain, handle))
    except UsageError:
        args.out.unlink(missing_ok=True)
        raise
    print(f"{chain.value}: {count} oppføringer skrevet.", file=err)
    return EXIT_VALID
