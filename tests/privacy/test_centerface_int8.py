"""The int8 CenterFace that ``scripts/setup`` builds: it finds the faces the float model finds, on the project's
stills (which its calibration never saw), at any input size; its calibration scenes are made the same way every
run from the pictures of a scikit-image wheel."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.ground_truth import load_stills
from privacy.vision.centerface import CenterFaceConfig, CenterFaceDetector
from privacy.vision.centerface_int8 import (
    CALIBRATION_SIZE,
    WHEEL_FACES,
    WHEEL_PHOTOS,
    calibration_scenes,
    main,
    read_pictures,
)
from tests.privacy.conftest import read_image


def test_int8_finds_the_faces_the_float_model_finds_on_unseen_stills(test_data: Path) -> None:
    """Faces the float model is sure of (score 0.5, 20 px or more at the input scale) on the project's stills are
    found by the int8 model at the live threshold, in about the same place; and it adds few boxes of its own."""
    config = CenterFaceConfig(threshold=0.12, max_side=320)
    fp32 = CenterFaceDetector(config)
    int8 = CenterFaceDetector(CenterFaceConfig(threshold=0.12, max_side=320, int8=True))
    stills = load_stills(test_data)
    sure = found = float_boxes = int8_boxes = 0
    for still in stills:
        image = read_image(still.path)
        scale = 320 / max(image.shape[:2])
        reference = fp32.detect(image)
        quantised = int8.detect(image)
        float_boxes += len(reference)
        int8_boxes += len(quantised)
        for face in reference:
            if face.score >= 0.5 and face.h * scale >= 20:
                sure += 1
                found += any(face.iou(b) >= 0.5 for b in quantised)
    assert sure >= 100
    assert found / sure >= 0.97, (found, sure)
    assert int8_boxes <= 1.2 * float_boxes


@pytest.mark.parametrize("shape", [(480, 640), (720, 1280), (237, 301), (640, 360)])
def test_int8_runs_at_any_input_size(portrait: np.ndarray, shape: tuple[int, int]) -> None:
    detector = CenterFaceDetector(CenterFaceConfig(max_side=0, int8=True))
    resized = cv2.resize(portrait, (shape[1], shape[0]))
    boxes = detector.detect(resized)
    assert boxes, "the portrait's face"
    best = max(boxes, key=lambda b: b.score)
    assert abs(best.cx / shape[1] - 0.5) < 0.2


def _wheel(path: Path, photos: int = len(WHEEL_PHOTOS), faces: np.ndarray | None = None) -> Path:
    rng = np.random.default_rng(1)
    with zipfile.ZipFile(path, "w") as archive:
        for name in WHEEL_PHOTOS[:photos]:
            image = rng.integers(0, 255, (300, 400, 3), np.uint8)
            archive.writestr(f"skimage/data/{name}", cv2.imencode(Path(name).suffix, image)[1].tobytes())
        crops = rng.random((10, 25, 25)) if faces is None else faces
        buffer = io.BytesIO()
        np.save(buffer, crops)
        archive.writestr(f"skimage/data/{WHEEL_FACES}", buffer.getvalue())
    return path


def test_calibration_scenes_are_the_same_every_run_and_varied(tmp_path: Path) -> None:
    photos, faces = read_pictures(_wheel(tmp_path / "sk.whl"))
    assert len(photos) == len(WHEEL_PHOTOS)
    assert faces.shape == (5, 25, 25, 3)  # the first half of the crops are faces
    first = calibration_scenes(photos, faces, count=12)
    second = calibration_scenes(photos, faces, count=12)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert {s.shape for s in first} == {(CALIBRATION_SIZE[1], CALIBRATION_SIZE[0], 3)}
    means = [float(s.mean()) for s in first]
    assert max(means) - min(means) > 20  # dim and bright lights among them


def test_a_wheel_without_the_pictures_is_refused_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = _wheel(tmp_path / "sk.whl", photos=2)
    out = tmp_path / "model.onnx"
    assert main([str(out), str(broken)]) == 1
    assert "cannot read the calibration pictures" in capsys.readouterr().err
    assert not out.exists()
    assert main([str(out)]) == 2
