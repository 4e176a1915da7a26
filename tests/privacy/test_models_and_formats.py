"""Model files are found without importing their carrier packages, and the format fixes load in the runtimes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from privacy.vision.centerface import decode, load_session
from privacy.vision.errors import ModelMissing
from privacy.vision.models import BLAZEFACE_SHORT, CENTERFACE, CENTERFACE_INT8, MODEL_DIR_ENV, model_path, read_model
from privacy.vision.tflite_metadata import has_metadata, with_image_metadata


def test_models_are_found_in_the_installed_packages() -> None:
    assert model_path(BLAZEFACE_SHORT, env={}).name == BLAZEFACE_SHORT
    assert model_path(CENTERFACE, env={}).stat().st_size > 1_000_000
    assert model_path(CENTERFACE_INT8, env={}).stat().st_size > 500_000


def test_the_model_dir_override_wins_and_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / CENTERFACE).write_bytes(b"x")
    assert model_path(CENTERFACE, env={MODEL_DIR_ENV: str(tmp_path)}) == tmp_path / CENTERFACE
    with pytest.raises(ModelMissing, match=BLAZEFACE_SHORT):
        model_path(BLAZEFACE_SHORT, env={MODEL_DIR_ENV: str(tmp_path)})


def test_unknown_models_are_refused() -> None:
    with pytest.raises(ModelMissing):
        model_path("nope.tflite", env={})


def test_tflite_metadata_is_added_once() -> None:
    raw = read_model(BLAZEFACE_SHORT, env={})
    assert not has_metadata(raw)
    fixed = with_image_metadata(raw)
    assert has_metadata(fixed)
    assert with_image_metadata(fixed) is fixed


@pytest.mark.parametrize("int8", [False, True])
def test_centerface_accepts_any_multiple_of_32(int8: bool) -> None:
    session = load_session(int8=int8)
    for h, w in [(256, 320), (96, 128)]:
        blob = np.zeros((1, 3, h, w), dtype=np.float32)
        heat = session.run(["537"], {"input.1": blob})[0]  # type: ignore[attr-defined]
        assert heat.shape == (1, 1, h // 4, w // 4)


def test_centerface_decoding_maps_a_peak_to_a_box() -> None:
    heat = np.zeros((1, 1, 10, 10), dtype=np.float32)
    heat[0, 0, 5, 3] = 0.9
    size = np.zeros((1, 2, 10, 10), dtype=np.float32)
    size[0, :, 5, 3] = np.log(4.0)  # 4 * e^log(4) = 16 px
    offset = np.zeros((1, 2, 10, 10), dtype=np.float32)
    (box,) = decode(heat, size, offset, threshold=0.5)
    assert (box.cx, box.cy, box.w, box.h) == pytest.approx((14.0, 22.0, 16.0, 16.0))
    assert box.score == pytest.approx(0.9)


def test_centerface_detector_rounds_odd_sizes_up() -> None:
    from privacy.vision.centerface import CenterFaceDetector

    detector = CenterFaceDetector()
    assert detector.detect(np.zeros((237, 301, 3), dtype=np.uint8)) == []
