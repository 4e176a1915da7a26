"""The session key is the root of every cookie and HMAC key: owner-only, never a symlink; dev mode only on request."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from web.auth import SessionKeyError, load_or_create_secret
from web.cli import main
from web.settings import SettingsError, load_settings


def test_the_session_key_is_created_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        secret = load_or_create_secret(tmp_path / "data", "")
    finally:
        os.umask(old)
    path = tmp_path / "data" / "session.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(secret) == 32
    assert load_or_create_secret(tmp_path / "data", "") == secret  # read back, not replaced


def test_a_readable_or_linked_session_key_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    load_or_create_secret(data, "")
    key = data / "session.key"
    key.chmod(0o644)
    with pytest.raises(SessionKeyError, match="0600"):
        load_or_create_secret(data, "")
    key.chmod(0o600)
    elsewhere = tmp_path / "elsewhere.key"
    elsewhere.write_bytes(os.urandom(32))
    elsewhere.chmod(0o600)
    key.unlink()
    key.symlink_to(elsewhere)
    with pytest.raises(SessionKeyError):
        load_or_create_secret(data, "")


def test_dev_mode_is_off_unless_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SettingsError, match="SAMHANDLING_OIDC_ISSUER"):
        load_settings({"SAMHANDLING_DATA_DIR": str(tmp_path)})
    assert load_settings({"SAMHANDLING_DATA_DIR": str(tmp_path), "SAMHANDLING_DEV_MODE": "true"}).dev_mode
    production = {"SAMHANDLING_DATA_DIR": str(tmp_path), "SAMHANDLING_OIDC_ISSUER": "https://idp.example"}
    assert not load_settings(production).dev_mode


def test_serve_refuses_to_start_without_an_identity_provider_or_dev_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("SAMHANDLING_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SAMHANDLING_DATA_DIR", str(tmp_path))
    assert main(["serve", "--port", "1"]) == 2
    assert "SAMHANDLING_OIDC_ISSUER" in capsys.readouterr().err
