"""The `samhandling` command's offline tools, called as an operator would."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media import shared_data_dir
from web.cli import build_parser, main


def test_anonymize_a_folder_keeps_names_and_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    for name in ("obama-240p.jpg", "two_people.jpg"):
        shutil.copy(shared_data_dir() / "faces" / "misc" / name, source / name)
    assert main(["anonymize", str(source), str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["obama-240p.jpg", "two_people.jpg"]
    assert "2 file(s)" in capsys.readouterr().out

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["anonymize", str(empty), str(tmp_path / "out2")]) == 2
    assert not (tmp_path / "out2").exists()  # nothing left behind as if it were complete
    assert main(["anonymize", str(source / "obama-240p.jpg"), str(tmp_path / "x.mp4")]) == 2
    assert capsys.readouterr().err


def test_settings_errors_are_clear(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SAMHANDLING_PORT", "not-a-port")
    monkeypatch.setenv("SAMHANDLING_DEV_MODE", "true")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "SAMHANDLING_PORT" in err and "not-a-port" not in err


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path in the parser tree: (), ("audit",), ("audit", "verify"), …"""
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                paths.extend(_command_paths(child, (*prefix, name)))
    return paths


def test_every_subcommand_answers_help_with_its_usage(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _command_paths(build_parser())
    assert ("anonymize",) in paths and ("audit", "verify") in paths and ("recordings", "new-kek") in paths
    for path in paths:
        for flag in ("--help", "-h"):
            assert main([*path, flag]) == 0, path
            captured = capsys.readouterr()
            assert captured.out.startswith("usage: " + " ".join(("samhandling", *path))), (path, captured.out)
            assert captured.err == ""
    # Bad usage still says so and exits 2.
    assert main(["anonymize", "--no-such-flag"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_the_installed_command_answers_help() -> None:
    """The console script as an operator runs it (the bug was `samhandling anonymize --help` refused)."""
    done = subprocess.run(
        [sys.executable, "-m", "web.cli", "anonymize", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--realtime" in done.stdout
