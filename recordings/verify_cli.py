"""``samhandling recordings verify CERTIFICATE --public-key PEM`` and ``samhandling recordings new-kek PATH``.

Verification needs nothing but the certificate file and the server's public key (the same PEM that
``samhandling audit verify`` takes). Exit codes: 0 the certificate is valid, 1 it is not (the reason is printed),
2 bad usage (a file that cannot be read, a key that is not an Ed25519 public key). ``new-kek`` writes a fresh
key-encryption key (mode 0600, never over an existing file) for the operator to keep apart from the data.
The wiring into the ``samhandling`` command lives in ``web/cli.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from privacy.records.errors import SigningKeyError
from privacy.records.keys import load_public_key_pem
from recordings.certificates import verify
from recordings.errors import CertificateInvalid, KeyProviderError
from recordings.key_provider import create_kek_file

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_MAX_CERTIFICATE_BYTES = 64 * 1024


class UsageError(Exception):
    """Something the operator must fix before anything can be verified (exit code 2)."""


def add_recordings_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``recordings verify`` and ``recordings new-kek`` to a ``samhandling`` parser; each sets ``func=run``."""
    parser = subparsers.add_parser("recordings", help="verify deletion certificates, create a recordings KEK")
    commands = parser.add_subparsers(dest="recordings_command", required=True)
    check = commands.add_parser("verify", help="verify a deletion certificate offline with the public key")
    check.add_argument("certificate", type=Path, help="the certificate (JSON) to check")
    check.add_argument("--public-key", type=Path, required=True, help="the server's public key (PEM)")
    check.set_defaults(func=run)
    kek = commands.add_parser("new-kek", help="write a new key-encryption key for recordings (mode 0600)")
    kek.add_argument("path", type=Path, help="file to create, outside the data directory")
    kek.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Carry out a parsed ``recordings`` command; returns the exit code (0 valid, 1 invalid, 2 bad usage)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if args.recordings_command == "verify":
            return _verify(args.certificate, args.public_key, out)
        if args.recordings_command == "new-kek":
            create_kek_file(args.path)
            print(
                "Ny nøkkelkrypteringsnøkkel skrevet (filrettigheter 0600). Oppbevar den utenfor datamappen.", file=out
            )
            return EXIT_VALID
        raise UsageError("Ukjent kommando.")
    except (UsageError, SigningKeyError, KeyProviderError) as exc:
        print(f"Feil: {exc}", file=err)
        return EXIT_USAGE


def _read(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_CERTIFICATE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{what} kan ikke leses.") from exc
    if len(data) > _MAX_CERTIFICATE_BYTES:
        raise UsageError(f"{what} er for stor.")
    return data


def _verify(certificate: Path, public_key_path: Path, out: TextIO) -> int:
    public_key = load_public_key_pem(_read(public_key_path, "Den offentlige nøkkelen"))
    try:
        text = _read(certificate, "Sertifikatet").decode("utf-8")
    except UnicodeDecodeError:
        print("UGYLDIG – Slettesertifikatet er ugyldig: det er ikke UTF-8-tekst. (malformed)", file=out)
        return EXIT_INVALID
    try:
        verified = verify(text, public_key)
    except CertificateInvalid as exc:
        print(f"UGYLDIG – {exc} ({exc.reason})", file=out)
        return EXIT_INVALID
    print(f"gyldig – {verified.describe()}", file=out)
    if not verified.hashes_agree:
        print(
            "merk: filen ble endret mellom avsluttet opptak og sletting "
            "(SHA-256 ved avslutning og ved sletting er ulike).",
            file=out,
        )
    return EXIT_VALID
