"""Bad input to the real detector stack: odd frame sizes, flat frames, missing or corrupt model files.

A model problem is found when the anonymizer is built (server start-up) and named clearly; a frame the stack
cannot handle is sent fully obscured (fail closed); nothing raises out of :meth:`Anonymizer.process`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from privacy.vision.anonymizer import Anonymizer, AnonymizerOptions
from privacy.vision.errors import ModelMissing, ModelUnusable
from privacy.vision.models import (
    BLAZEFACE_SHORT,
    CENTERFACE,
    CENTERFACE_INT8,
    MODEL_DIR_ENV,
    SELFIE_SEGMENTATION,
    model_path,
)

STARTUP_MODELS = (BLAZEFACE_SHORT, CENTERFACE, CENTERFACE_INT8, SELFIE_SEGMENTATION)
"""The models the live anonymizer loads (the float CenterFace for a track's first frame, the int8 one for the rest)."""


def _model_dir(tmp_path: Path, broken: str, content: bytes | None) -> Path:
    """A model directory with links to the installed models, except ``broken`` (absent, or ``content``)."""
    for name in STARTUP_MODELS:
        target = tmp_path / name
        if name != broken:
            target.symlink_to(model_path(name))
        elif content is not None:
            target.write_bytes(content)
    return tmp_path


@pytest.mark.parametrize("name", STARTUP_MODELS)
def test_a_missing_model_file_fails_at_start_up_naming_it(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODEL_DIR_ENV, str(_model_dir(tmp_path, name, None)))
    with pytest.raises(ModelMissing, match=name):
        Anonymizer(AnonymizerOptions())


@pytest.mark.parametrize("name", STARTUP_MODELS)
@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty"])
def test_a_corrupt_model_file_fails_at_start_up_naming_it(
    name: str, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = model_path(name).read_bytes()
    content = {"garbage": b"\x00\x01not a model" * 64, "truncated": real[: len(real) // 3], "empty": b""}[kind]
    monkeypatch.setenv(MODEL_DIR_ENV, str(_model_dir(tmp_path, name, content)))
    with pytest.raises((ModelUnusable, ModelMissing), match=name):
        Anonymizer(AnonymizerOptions())


@pytest.mark.parametrize(
    "shape", [(1, 1, 3), (2, 3, 3), (7, 5, 3), (481, 641, 3), (479, 639, 3), (360, 641, 3), (2160, 3840, 3)]
)
def test_odd_sizes_and_flat_frames_never_raise(live: Anonymizer, shape: tuple[int, int, int]) -> None:
    for value in (0, 128, 255):
        frame = np.full(shape, value, np.uint8)
        state = live.new_track()
        for i in range(3):
            out = live.process(frame, state, i / 15)
            assert out.shape == frame.shape and out.dtype == np.uint8
        live.wait_idle(state)
        assert state.snapshot().detector_errors == 0 or state.snapshot().obscured > 0


def test_size_changes_mid_track_never_raise(live: Anonymizer) -> None:
    state = live.new_track()
    rng = np.random.default_rng(3)
    for i, shape in enumerate([(480, 640, 3), (1, 1, 3), (481, 641, 3), (2160, 3840, 3), (480, 640, 3)]):
        frame = rng.integers(0, 255, size=shape, dtype=np.uint8)
        out = live.process(frame, state, i / 15)
        assert out.shape == frame.shape
    live.wait_idle(state)


def test_a_frame_the_detectors_cannot_read_is_sent_fully_obscured(live: Anonymizer) -> None:
    state = live.new_track()
    grey_2d = np.full((48, 64), 200, np.uint8)  # not BGR: the detectors raise, the frame must not leave as is
    out = live.process(grey_2d, state, 0.0)
    assert out.shape[:2] == grey_2d.shape
    assert state.snapshot().obscured == 1
