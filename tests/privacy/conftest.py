"""Shared fixtures of the privacy-core tests: the test media (never copied into the repository) and models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from privacy.vision.anonymizer import Anonymizer, AnonymizerOptions
from privacy.vision.centerface import CenterFaceConfig, CenterFaceDetector

DATA_ENV = "SAMHANDLING_TEST_DATA"


def data_dir() -> Path:
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def test_data() -> Path:
    path = data_dir()
    if not (path / "faces").is_dir():
        pytest.skip(f"test media not found at {path} (set {DATA_ENV})")
    return path


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image


@pytest.fixture(scope="session")
def portrait(test_data: Path) -> np.ndarray:
    """One frontal face, 640x480 (the middle of obama-480p.jpg)."""
    image = read_image(test_data / "faces" / "misc" / "obama-480p.jpg")
    left = (image.shape[1] - 640) // 2
    return np.ascontiguousarray(image[:480, left : left + 640])


@pytest.fixture(scope="session")
def two_people(test_data: Path) -> np.ndarray:
    """Two faces side by side, 640x480."""
    return cv2.resize(read_image(test_data / "faces" / "misc" / "two_people.jpg"), (640, 480))


@pytest.fixture(scope="module")
def live() -> Iterator[Anonymizer]:
    """The live anonymizer as a call runs it (one per test module: it loads every model)."""
    anonymizer = Anonymizer(AnonymizerOptions())
    yield anonymizer
    anonymizer.close()


@pytest.fixture(scope="module")
def checker() -> CenterFaceDetector:
    """An independent check of the output: CenterFace at full resolution and a low threshold."""
    return CenterFaceDetector(CenterFaceConfig(threshold=0.2, max_side=0))
