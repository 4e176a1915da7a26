"""The `samhandling` command's offline tools, called as an operator would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.media import shared_data_dir
from web.cli import main


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
