"""The ``samhandling`` command: serve, migrate, seed the demo, and the offline tools."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from collections.abc import Sequence

from aiohttp import web

from privacy.records.audit_cli import add_audit_parser
from privacy.vision import anonymize_cli
from recordings.verify_cli import add_recordings_parser
from web.access_log import RouteAccessLogger
from web.auth import SessionKeyError
from web.database import create_engine, migrate
from web.logging_setup import configure_logging
from web.settings import Settings, SettingsError, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    changes: dict[str, object] = {}
    if getattr(args, "host", None):
        changes["host"] = args.host
    if getattr(args, "port", None) is not None:
        changes["port"] = args.port
    return dataclasses.replace(settings, **changes) if changes else settings  # type: ignore[arg-type]


async def _seed(settings: Settings) -> bool:
    from web.seed import seed_demo

    engine = create_engine(settings.database_url)
    try:
        return await seed_demo(engine)
    finally:
        await engine.dispose()


def cmd_serve(args: argparse.Namespace) -> int:
    from web.app import create_app

    settings = _settings(args)
    configure_logging(settings.log_level)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        print("--workers må være minst 1.", file=sys.stderr)
        return 2
    migrate(settings.database_url)
    if args.demo:
        if not settings.dev_mode:
            print("--demo krever utviklingsmodus (SAMHANDLING_DEV_MODE=true).", file=sys.stderr)
            return 2
        asyncio.run(_seed(settings))
    if workers > 1:
        from privacy.records.keys import load_or_create_signing_key
        from web.auth import load_or_create_secret
        from web.workers import run_workers

        # Created once here, so the workers do not race to create different ones.
        load_or_create_secret(settings.data_dir, settings.session_secret.value)
        load_or_create_signing_key(settings.data_dir / "keys")
        print(f"Samhandling kjører. Åpne {settings.base_url}/ i nettleseren (Ctrl+C for å stoppe).", flush=True)
        return asyncio.run(run_workers(settings, workers))
    app = create_app(settings)
    print(f"Samhandling kjører. Åpne {settings.base_url}/ i nettleseren (Ctrl+C for å stoppe).", flush=True)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        shutdown_timeout=10,
        access_log_class=RouteAccessLogger,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    migrate(settings.database_url)
    print("Databasen er oppdatert.")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    settings = _settings(args)
    migrate(settings.database_url)
    print("Demodata lagt inn." if asyncio.run(_seed(settings)) else "Databasen har allerede data; ingenting endret.")
    return 0


def _default_db_url() -> str | None:
    try:
        return load_settings().database_url
    except SettingsError:
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samhandling", description="Samhandling: videomøter med personvern.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--demo", action="store_true", help="seed the demo organisations first (development mode)")
    serve.add_argument(
        "--workers",
        type=int,
        help="media worker processes behind this address, each room in one of them (default: the number of cores)",
    )
    serve.set_defaults(func=cmd_serve)
    migrate_cmd = sub.add_parser(
        "migrate", help="bring the database schema up to date", description="Bring the database schema up to date."
    )
    migrate_cmd.set_defaults(func=cmd_migrate)
    seed = sub.add_parser(
        "seed-demo",
        help="insert the demo organisations and staff",
        description="Insert the demo organisations and staff into an empty database (development mode).",
    )
    seed.set_defaults(func=cmd_seed)
    add_audit_parser(sub, default_db_url=_default_db_url())
    add_recordings_parser(sub)
    anonymize = sub.add_parser(
        "anonymize",
        help="anonymize every face in an image, a folder of images or a video",
        description=anonymize_cli.DESCRIPTION,
    )
    anonymize_cli.add_arguments(anonymize)
    anonymize.set_defaults(func=anonymize_cli.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) and usage errors (2) end here; callers get a status, not an exception
        return exc.code if isinstance(exc.code, int) else 2
    try:
        code: int = args.func(args)
    except SettingsError as exc:
        print(f"Feil i innstillingene: {exc}", file=sys.stderr)
        return 2
    except SessionKeyError as exc:
        print(f"Kan ikke starte: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
