"""Offline anonymization of images, folders and videos: same kind out, same size and frame count, clean errors."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from privacy.vision.anonymize_cli import main
from privacy.vision.anonymizer import Anonymizer, AnonymizerOptions
from privacy.vision.boxes import Box
from privacy.vision.centerface import CenterFaceConfig, CenterFaceDetector
from privacy.vision.errors import MediaInputError, MediaOutputError
from privacy.vision.media_files import MediaAnonymizer
from privacy.vision.options import StrongMode
from privacy.vision.video_io import VideoInfo, VideoWriter, probe, read_frames
from tests.fakes import FakeClock, FixedBoxesDetector


@pytest.fixture(scope="module")
def job() -> Iterator[MediaAnonymizer]:
    media = MediaAnonymizer()
    yield media
    media.close()


@pytest.fixture(scope="module")
def strong() -> CenterFaceDetector:
    return CenterFaceDetector(CenterFaceConfig(threshold=0.3, max_side=640))


def _clip(test_data: Path, target: Path, frames: int, step: int = 20) -> Path:
    """The first frames (every ``step``-th) of the shared video, re-encoded to ``target`` (.y4m or .mp4)."""
    source = test_data / "video" / "short_hamilton_clip.mp4"
    picked = [f for i, f in enumerate(read_frames(source)) if i % step == 0][:frames]
    info = probe(source)
    with VideoWriter(target, VideoInfo(info.width, info.height, info.rate), target.suffix) as writer:
        for frame in picked:
            writer.write(frame)
    return target


def test_an_image_comes_back_anonymized(
    test_data: Path, tmp_path: Path, job: MediaAnonymizer, strong: CenterFaceDetector
) -> None:
    source = test_data / "faces" / "misc" / "two_people.jpg"
    target = tmp_path / "out.png"
    report = job.run(source, target)
    assert report.kind == "image" and report.counters.anonymized == 1
    original = cv2.imread(str(source))
    out = cv2.imread(str(target))
    assert out is not None and original is not None and out.shape == original.shape
    assert [b for b in strong.detect(original) if b.score > 0.5]
    assert [b for b in strong.detect(out) if b.score > 0.5] == []
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_a_folder_keeps_its_file_names(test_data: Path, tmp_path: Path, job: MediaAnonymizer) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("obama-240p.jpg", "foreman_frame0.png"):
        shutil.copy(test_data / "faces" / "misc" / name, folder / name)
    (folder / "notes.txt").write_text("not an image")
    report = job.run(folder, tmp_path / "out")
    assert report.files == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["foreman_frame0.png", "obama-240p.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


@pytest.mark.parametrize("suffix", [".y4m", ".mp4"])
def test_a_video_keeps_frame_count_and_size(test_data: Path, tmp_path: Path, job: MediaAnonymizer, suffix: str) -> None:
    source = _clip(test_data, tmp_path / f"in{suffix}", frames=4)
    target = tmp_path / f"out{suffix}"
    report = job.run(source, target)
    assert report.frames == 4 and report.counters.anonymized == 4
    info_in, info_out = probe(source), probe(target)
    assert (info_out.width, info_out.height, info_out.rate) == (info_in.width, info_in.height, info_in.rate)
    assert sum(1 for _ in read_frames(target)) == 4


def test_realtime_applies_the_live_deadline(portrait: np.ndarray, tmp_path: Path) -> None:
    clock = FakeClock()

    class Slow(FixedBoxesDetector):
        def detect(self, image: np.ndarray) -> list[Box]:
            clock.advance(0.25)  # each detection takes two and a half frame intervals
            return super().detect(image)

    options = replace(AnonymizerOptions(), strong_mode=StrongMode.OFF, deadline_s=0.1)
    anonymizer = Anonymizer(options, Slow([Box(250, 150, 120, 140)]), clock=clock)
    media = MediaAnonymizer(anonymizer, realtime_fps=10, clock=clock, sleep=clock.advance)
    source = tmp_path / "in.y4m"
    with VideoWriter(source, VideoInfo(640, 480, Fraction(10)), ".y4m") as w:
        for _ in range(6):
            w.write(portrait)
    report = media.run(source, tmp_path / "out.y4m")
    c = report.counters
    assert report.frames == 6
    assert c.late == 2 and c.dropped == 4 and c.anonymized == 0 and c.obscured == 2


def test_bad_inputs_are_refused_cleanly(tmp_path: Path, job: MediaAnonymizer, test_data: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    (tmp_path / "doc.pdf").write_bytes(b"%PDF")
    image = test_data / "faces" / "misc" / "obama-240p.jpg"
    cases: list[tuple[Path, Path, type[Exception]]] = [
        (tmp_path / "missing.jpg", tmp_path / "o.jpg", MediaInputError),
        (tmp_path / "empty", tmp_path / "o", MediaInputError),
        (tmp_path / "broken.jpg", tmp_path / "o.jpg", MediaInputError),
        (tmp_path / "broken.mp4", tmp_path / "o.mp4", MediaInputError),
        (tmp_path / "doc.pdf", tmp_path / "o.pdf", MediaInputError),
        (image, tmp_path / "o.mp4", MediaOutputError),
        (image, tmp_path / "empty", MediaOutputError),
        (image, tmp_path / "nowhere" / "o.jpg", MediaOutputError),
    ]
    before = sorted(p.name for p in tmp_path.iterdir())
    for source, target, error in cases:
        with pytest.raises(error):
            job.run(source, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing half-written left behind


def test_the_command_exits_2_with_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    assert "no images" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
