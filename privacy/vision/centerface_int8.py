"""Build the int8 CenterFace the live anonymizer runs: a set-up step, never run by the service.

CenterFace is most of the privacy core's cost per frame. Quantised statically to int8 (weights per channel,
activations per tensor, QDQ) onnxruntime runs it with integer kernels about 1.6x faster at 320x256 on a CPU with
VNNI. Dynamic quantisation is no use here: its ConvInteger kernels were 3x slower than float.

Static quantisation needs the ranges of the activations, measured on pictures like those the model will see.
They come from the pictures the scikit-image wheel ships (its test photos and LFW face crops; the wheel is only
downloaded, never installed), composed into scenes with faces at the sizes a call shows and lit the ways calls are
lit. The project's test media are never used: the bench measures recall on them and must stay unseen.

``onnx`` (for the quantiser) is not a dependency of the service: ``scripts/setup`` installs it into a throw-away
directory for this step only. Run as ``python -m privacy.vision.centerface_int8 OUT.onnx SCIKIT_IMAGE.whl``.
"""

from __future__ import annotations

import io
import logging
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from privacy.vision.centerface import INPUT, input_blob, symbolic_shapes
from privacy.vision.models import CENTERFACE, read_model

CALIBRATION_SIZE = (320, 256)
"""The network input of the live pipeline (a 4:3 frame scaled to 320 px wide, rounded up to 32)."""
CALIBRATION_SCENES = 96
SEED = 7


def _lit(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The picture under one of the lights a call meets: as it is, dim, bright, flat, tinted or grey."""
    kind = int(rng.integers(0, 6))
    img = image.astype(np.float32)
    if kind == 1:
        img = 255.0 * (img / 255.0) ** rng.uniform(1.6, 2.6)
    elif kind == 2:
        img = 255.0 * (img / 255.0) ** rng.uniform(0.45, 0.7)
    elif kind == 3:
        img = 128.0 + (img - 128.0) * rng.uniform(0.35, 0.6)
    elif kind == 4:
        img = img * rng.uniform(0.7, 1.25, size=3).astype(np.float32)
    elif kind == 5:
        grey = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    return np.clip(img, 0, 255).astype(np.uint8)


def _crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random window of ``image`` at the calibration aspect, from the whole picture down to a fifth of it."""
    w, h = CALIBRATION_SIZE
    ih, iw = image.shape[:2]
    scale = rng.uniform(0.2, 1.0)
    cw = max(16, min(iw, int(min(iw, ih * w / h) * scale)))
    ch = max(16, min(ih, int(cw * h / w)))
    x = int(rng.integers(0, iw - cw + 1))
    y = int(rng.integers(0, ih - ch + 1))
    out = cv2.resize(image[y : y + ch, x : x + cw], CALIBRATION_SIZE, interpolation=cv2.INTER_AREA)
    return cv2.flip(out, 1) if rng.random() < 0.5 else out


def _paste_faces(scene: np.ndarray, faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small faces (a room seen from afar) laid on a scene at 20-60 px."""
    out = scene.copy()
    h, w = out.shape[:2]
    for _ in range(int(rng.integers(2, 9))):
        face = faces[int(rng.integers(0, len(faces)))]
        side = int(rng.integers(20, 61))
        patch = cv2.resize(face, (side, side), interpolation=cv2.INTER_LINEAR)
        x = int(rng.integers(0, w - side))
        y = int(rng.integers(0, h - side))
        out[y : y + side, x : x + side] = patch
    return out


def calibration_scenes(
    photos: Sequence[np.ndarray], faces: np.ndarray, count: int = CALIBRATION_SCENES
) -> list[np.ndarray]:
    """``count`` BGR scenes at :data:`CALIBRATION_SIZE`: crops of ``photos`` (large and mid-sized faces), a third
    with small ``faces`` (BGR crops) laid on them, each under a random light; the same every run (fixed seed)."""
    rng = np.random.default_rng(SEED)
    scenes = []
    for k in range(count):
        scene = _crop(photos[k % len(photos)], rng)
        if len(faces) and k % 3 == 2:
            scene = _paste_faces(scene, faces, rng)
        scenes.append(_lit(scene, rng))
    return scenes


WHEEL_PHOTOS = ("astronaut.png", "camera.png", "coffee.png", "chelsea.png", "motorcycle_left.png", "rocket.jpg")
"""scikit-image's test photos used: two portraits, a face in profile, and scenes without faces."""
WHEEL_FACES = "lfw_subset.npy"
"""200 grey 25x25 crops from Labeled Faces in the Wild, the first 100 faces."""


def read_pictures(wheel: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """The photos (BGR) and face crops (BGR) in the scikit-image wheel at ``wheel``."""
    photos: list[np.ndarray] = []
    with zipfile.ZipFile(wheel) as archive:
        for name in WHEEL_PHOTOS:
            photo = cv2.imdecode(np.frombuffer(archive.read(f"skimage/data/{name}"), np.uint8), cv2.IMREAD_COLOR)
            if photo is None:
                raise ValueError(f"{name} could not be decoded")
            photos.append(photo)
        crops = np.load(io.BytesIO(archive.read(f"skimage/data/{WHEEL_FACES}")))
    faces = [
        cv2.cvtColor(np.clip(crop * 255.0 if crop.max() <= 1.0 else crop, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        for crop in crops[: len(crops) // 2]
    ]
    return photos, np.array(faces)


def quantize(out: Path, scenes: Sequence[np.ndarray]) -> None:
    """Write the int8 CenterFace to ``out`` (via a temporary file, so a failed run leaves no half model)."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._blobs: Iterator[np.ndarray] = iter([input_blob(s) for s in scenes])

        def get_next(self) -> dict[str, np.ndarray] | None:
            item = next(self._blobs, None)
            return None if item is None else {INPUT: item}

    model = onnx.load_from_string(symbolic_shapes(read_model(CENTERFACE)))
    # Per-channel weights need QuantizeLinear's axis, which came with opset 13; the shipped graph is older.
    model = version_converter.convert_version(model, 13)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "centerface_opset13.onnx"
        onnx.save(model, str(source))
        part = out.with_name(out.name + ".part")
        quantize_static(
            str(source),
            str(part),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        part.replace(out)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m privacy.vision.centerface_int8 OUT.onnx SCIKIT_IMAGE.whl", file=sys.stderr)
        return 2
    import onnxruntime

    # The quantiser's advice (pre-processing, batch-norm axes) and onnxruntime's notes on unused initialisers are
    # about the shipped graph, not about this run; errors still show.
    logging.getLogger().setLevel(logging.ERROR)
    onnxruntime.set_default_logger_severity(3)
    try:
        photos, faces = read_pictures(Path(argv[1]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        print(f"{argv[1]}: cannot read the calibration pictures ({error})", file=sys.stderr)
        return 1
    quantize(Path(argv[0]), calibration_scenes(photos, faces))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
