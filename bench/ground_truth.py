"""The labelled stills of the shared test data, read into one simple shape.

Two sets are used: 100 WIDER FACE validation images (``faces/wider_val100/gt.json``, boxes x,y,w,h with
WIDER's attribute labels, of which only ``invalid`` is used here) and 9 PASCAL VOC photos hand-boxed for dlib
(``faces/dlib_voc/gt.json``). The data directory comes from ``SAMHANDLING_TEST_DATA`` or defaults to
``<repo>/../shared/data``; nothing is copied into the repository.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from privacy.vision.boxes import Box

DATA_ENV = "SAMHANDLING_TEST_DATA"


def data_dir() -> Path:
    """The shared test-data directory."""
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@dataclass(frozen=True, slots=True)
class GtFace:
    """One labelled face; ``invalid`` faces (WIDER's label for unrecognisable ones) are not scored."""

    box: Box
    invalid: bool = False


@dataclass(frozen=True, slots=True)
class Still:
    """A labelled image: its path, the set it belongs to and its faces."""

    path: Path
    dataset: str
    faces: tuple[GtFace, ...]


def _load(dataset: str, folder: Path, has_invalid: bool) -> list[Still]:
    with (folder / "gt.json").open(encoding="utf-8") as fh:
        doc = json.load(fh)
    stills = []
    for entry in doc["images"]:
        faces = tuple(
            GtFace(Box(*(float(v) for v in face["box"])), bool(face.get("invalid", 0)) if has_invalid else False)
            for face in entry["faces"]
        )
        stills.append(Still(folder / entry["file"], dataset, faces))
    return stills


def load_stills(root: Path | None = None) -> list[Still]:
    """All labelled stills: WIDER first, then dlib's VOC photos (photos without boxes are skipped)."""
    base = root or data_dir()
    wider = _load("wider_val100", base / "faces" / "wider_val100", has_invalid=True)
    voc = [s for s in _load("dlib_voc", base / "faces" / "dlib_voc", has_invalid=False) if s.faces]
    return wider + voc


def scored(face: GtFace, min_height: float) -> bool:
    """Whether ``face`` counts for the recall at ``min_height`` pixels."""
    return not face.invalid and face.box.h >= min_height
