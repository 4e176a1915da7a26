"""Privacy benchmark: recall on labelled stills and synthetic motion clips, re-detection, CPU and latency.

Run from the repository root::

    .venv/bin/python -m bench.privacy_bench            # full run (a few minutes on two cores)
    .venv/bin/python -m bench.privacy_bench --quick    # a small subset, for smoke tests

Everything is measured in one run beside a deface-style baseline (CenterFace at threshold 0.2 on every frame
at full resolution, masks 1.3x, box blur; :mod:`bench.baseline_deface`). Definitions:

* A face is *covered* when at least 0.8 of its labelled box lies under the masks actually applied
  (:mod:`bench.coverage`); a fully obscured frame covers every face. Faces marked invalid are not scored.
* *Stills*: the WIDER FACE val subset and dlib's VOC photos (``SAMHANDLING_TEST_DATA``). "ours, files" is
  :meth:`AnonymizerOptions.for_files`; "ours, live 1st frame" is the live default on the first frame of a new
  track (the hardest moment: no history yet).
* *Motion clips* (:mod:`bench.motion_clips`): a virtual 640x480 camera pans and zooms over a still with a dark
  and a backlit stretch; faces >= 32 px tall and >= 70 % inside the frame are scored per frame. The live
  pipeline is fed at 15 fps on the wall clock with the live rule: a frame that arrives while the previous one
  is still being processed is sent fully obscured. "Longest run" is the most consecutive frames any one face
  stayed uncovered.
* *Still found*: the share of covered faces in which CenterFace at threshold 0.2, full resolution, still finds
  that face in the output (stills, and every 5th clip frame).
* *CPU*: process CPU time per 640x480 clip frame with every library limited to one thread; ours is measured
  with the expensive detector run inline on its schedule, so all work of a frame is inside its call.
  *Latency*: wall time of the call in the live run (ours: CenterFace in its background thread).
* *Masked share*: the mean share of the frame that is masked (lower is better; not a target, shown so that
  recall cannot be bought silently by masking everything).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from bench.baseline_deface import DefaceBaseline  # noqa: E402
from bench.coverage import is_covered, mask_raster  # noqa: E402
from bench.ground_truth import Still, load_stills, scored  # noqa: E402
from bench.measures import Tally, mean, percentile, still_found  # noqa: E402
from bench.motion_clips import ClipFrame, make_clip, pick_stills  # noqa: E402
from privacy.anonymizer import Anonymizer, AnonymizerOptions, obscure_whole_frame  # noqa: E402
from privacy.boxes import Box  # noqa: E402
from privacy.centerface import CenterFaceConfig, CenterFaceDetector  # noqa: E402
from privacy.options import StrongMode  # noqa: E402

FPS = 15.0
CHECK_EVERY = 5


def _score_faces(
    tally: Tally, faces: list[tuple[Box, bool, bool]], masks: list[Box], shape: tuple[int, int]
) -> list[bool]:
    """Count coverage of ``faces`` (box, scored at 32, scored at 64); returns covered flags."""
    h, w = shape
    raster = mask_raster(masks, w, h)
    tally.masked_share.append(float(raster.mean()))
    flags = []
    for box, at32, at64 in faces:
        covered = is_covered(box, raster)
        flags.append(covered)
        if at32:
            tally.faces32 += 1
            tally.covered32 += covered
        if at64:
            tally.faces64 += 1
            tally.covered64 += covered
    return flags


def _check(tally: Tally, checker: CenterFaceDetector, out: np.ndarray, faces: list[Box]) -> None:
    if not faces:
        return
    found = checker.detect(out)
    for face in faces:
        tally.checked += 1
        tally.still_found += still_found(face, found)


def run_stills(
    stills: list[Still], live: Anonymizer, files: Anonymizer, base: DefaceBaseline, checker: CenterFaceDetector
) -> dict[str, Tally]:
    tallies = {name: Tally() for name in ("files", "live", "base")}
    for still in stills:
        image = cv2.imread(str(still.path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(still.path)
        faces = [(f.box, scored(f, 32), scored(f, 64)) for f in still.faces]
        for name, anonymizer in (("files", files), ("live", live)):
            state = anonymizer.new_track()
            out = anonymizer.process(image, state, 0.0)
            flags = _score_faces(tallies[name], faces, state.last_masks, image.shape[:2])
            _check(tallies[name], checker, out, [b for (b, s32, _), c in zip(faces, flags, strict=True) if s32 and c])
            anonymizer.wait_idle(state)
        out, masks = base.process(image)
        flags = _score_faces(tallies["base"], faces, masks, image.shape[:2])
        _check(tallies["base"], checker, out, [b for (b, s32, _), c in zip(faces, flags, strict=True) if s32 and c])
    return tallies


def _clip_faces(frame: ClipFrame) -> list[tuple[Box, bool, bool]]:
    return [(f.box, f.scored, f.scored and f.box.h >= 64) for f in frame.faces]


def _runs(runs: dict[int, int], frame: ClipFrame, flags: list[bool], tally: Tally) -> None:
    for index, (face, covered) in enumerate(zip(frame.faces, flags, strict=True)):
        if not face.scored or covered:
            runs[index] = 0
            continue
        runs[index] = runs.get(index, 0) + 1
        tally.longest_run = max(tally.longest_run, runs[index])


def run_clips_live(clips: list[tuple[Still, int]], frames: int, live: Anonymizer, checker: CenterFaceDetector) -> Tally:
    """The live pipeline at 15 fps on the wall clock, with the live drop rule.

    Each clip is rendered before it is played and scored after, so the benchmark's own work never delays
    a frame.
    """
    tally = Tally()
    interval = 1.0 / FPS
    for still, seed in clips:
        rendered = list(make_clip(still, frames, seed))
        state = live.new_track()
        results: list[tuple[np.ndarray | None, list[Box]]] = []
        start = time.perf_counter()
        busy_until = start
        for i, frame in enumerate(rendered):
            arrival = start + i * interval
            if busy_until > arrival:
                tally.obscured_frames += 1
                results.append(
                    (obscure_whole_frame(frame.image) if i % CHECK_EVERY == 0 else None, [Box(0.0, 0.0, 640.0, 480.0)])
                )
                continue
            wait = arrival - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            began = time.perf_counter()
            out = live.process(frame.image, state, i * interval)
            busy_until = time.perf_counter()
            tally.latency_ms.append((busy_until - began) * 1000)
            results.append((out if i % CHECK_EVERY == 0 else None, list(state.last_masks)))
        live.wait_idle(state)
        tally.obscured_frames += state.snapshot().obscured
        runs: dict[int, int] = {}
        for frame, (checked, masks) in zip(rendered, results, strict=True):
            tally.frames += 1
            faces = _clip_faces(frame)
            flags = _score_faces(tally, faces, masks, (480, 640))
            _runs(runs, frame, flags, tally)
            if checked is not None:
                _check(tally, checker, checked, [b for (b, s, _), c in zip(faces, flags, strict=True) if s and c])
    return tally


def run_clips_cpu(clips: list[tuple[Still, int]], frames: int, inline: Anonymizer) -> list[float]:
    """CPU ms per frame of the live schedule with the expensive detector inline (all work inside the call)."""
    cpu: list[float] = []
    for still, seed in clips:
        state = inline.new_track()
        for i, frame in enumerate(make_clip(still, frames, seed)):
            began = time.process_time()
            inline.process(frame.image, state, i / FPS)
            cpu.append((time.process_time() - began) * 1000)
    return cpu


def run_clips_baseline(
    clips: list[tuple[Still, int]], frames: int, base: DefaceBaseline, checker: CenterFaceDetector
) -> Tally:
    tally = Tally()
    for still, seed in clips:
        runs: dict[int, int] = {}
        for i, frame in enumerate(make_clip(still, frames, seed)):
            tally.frames += 1
            wall, cpu = time.perf_counter(), time.process_time()
            out, masks = base.process(frame.image)
            tally.cpu_ms.append((time.process_time() - cpu) * 1000)
            tally.latency_ms.append((time.perf_counter() - wall) * 1000)
            faces = _clip_faces(frame)
            flags = _score_faces(tally, faces, masks, (480, 640))
            _runs(runs, frame, flags, tally)
            if i % CHECK_EVERY == 0:
                _check(tally, checker, out, [b for (b, s, _), c in zip(faces, flags, strict=True) if s and c])
    return tally


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"


def print_table(stills: dict[str, Tally], live: Tally, cpu: list[float], base: Tally, info: str) -> None:
    rows = [
        (
            f"stills recall, faces >= 32 px (n={stills['files'].faces32})",
            ">= 0.95",
            f"{_fmt(stills['files'].recall32())} files / {_fmt(stills['live'].recall32())} live 1st frame",
            _fmt(stills["base"].recall32()),
        ),
        (
            f"stills recall, faces >= 64 px (n={stills['files'].faces64})",
            ">= 0.98",
            f"{_fmt(stills['files'].recall64())} files / {_fmt(stills['live'].recall64())} live 1st frame",
            _fmt(stills["base"].recall64()),
        ),
        (
            f"motion clips, face-frames covered (n={live.faces32})",
            ">= 0.99",
            _fmt(live.recall32(), 4),
            _fmt(base.recall32(), 4),
        ),
        ("motion clips, longest uncovered run (frames)", "<= 2", str(live.longest_run), str(base.longest_run)),
        (
            "still found by CenterFace 0.2, stills",
            "<= 0.05",
            f"{_fmt(stills['files'].found_share())} files / {_fmt(stills['live'].found_share())} live",
            _fmt(stills["base"].found_share()),
        ),
        (
            f"still found by CenterFace 0.2, clips (n={live.checked})",
            "<= 0.05",
            _fmt(live.found_share()),
            _fmt(base.found_share()),
        ),
        (
            "CPU ms per 640x480 frame, p50 / p95",
            "",
            f"{_fmt(percentile(cpu, 50), 1)} / {_fmt(percentile(cpu, 95), 1)}",
            f"{_fmt(percentile(base.cpu_ms, 50), 1)} / {_fmt(percentile(base.cpu_ms, 95), 1)}",
        ),
        ("CPU ms per 640x480 frame, mean", "<= 20", _fmt(mean(cpu), 1), _fmt(mean(base.cpu_ms), 1)),
        (
            "added latency ms, p50 / p95",
            "p95 <= 40",
            f"{_fmt(percentile(live.latency_ms, 50), 1)} / {_fmt(percentile(live.latency_ms, 95), 1)}",
            f"{_fmt(percentile(base.latency_ms, 50), 1)} / {_fmt(percentile(base.latency_ms, 95), 1)}",
        ),
        (
            "clip frames fully obscured (fail closed) / all",
            "",
            f"{live.obscured_frames} / {live.frames}",
            f"0 / {base.frames}",
        ),
        (
            "masked share of frame, stills / clips (lower is better)",
            "",
            f"{_fmt(mean(stills['files'].masked_share), 2)} / {_fmt(mean(live.masked_share), 2)}",
            f"{_fmt(mean(stills['base'].masked_share), 2)} / {_fmt(mean(base.masked_share), 2)}",
        ),
    ]
    widths = [
        max(len(r[i]) for r in [*rows, ("metric", "target", "ours", "baseline (deface-style)")]) for i in range(4)
    ]
    header = ("metric", "target", "ours", "baseline (deface-style)")
    print(info)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.privacy_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small subset (seconds, for smoke tests)")
    parser.add_argument("--clips", type=int, default=None, help="number of motion clips (default 10, quick 2)")
    parser.add_argument("--frames", type=int, default=None, help="frames per clip (default 60, quick 16)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    all_stills = load_stills()
    if args.quick:
        stills = all_stills[::12]
        n_clips, frames = args.clips or 2, args.frames or 16
    else:
        stills = all_stills
        n_clips, frames = args.clips or 10, args.frames or 60
    clips = [(s, seed) for seed, s in enumerate(pick_stills(all_stills, n_clips))]

    live = Anonymizer(AnonymizerOptions())
    files = Anonymizer(AnonymizerOptions.for_files())
    inline = Anonymizer(replace(AnonymizerOptions(), strong_mode=StrongMode.INLINE))
    base = DefaceBaseline()
    checker = CenterFaceDetector(CenterFaceConfig(threshold=0.2, max_side=0))
    try:
        started = time.perf_counter()
        still_tallies = run_stills(stills, live, files, base, checker)
        live_tally = run_clips_live(clips, frames, live, checker)
        cpu = run_clips_cpu(clips, frames, inline)
        base_tally = run_clips_baseline(clips, frames, base, checker)
        took = time.perf_counter() - started
    finally:
        for anonymizer in (live, files, inline):
            anonymizer.close()
    info = (
        f"privacy bench{' (quick)' if args.quick else ''}: {len(stills)} stills, {len(clips)} clips x {frames} frames "
        f"at {FPS:.0f} fps, one thread per library, {took:.0f} s"
    )
    print_table(still_tallies, live_tally, cpu, base_tally, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
