"""The frame anonymizer: detect, follow and hold, enlarge, obscure; and fail closed on every doubt.

One :class:`Anonymizer` serves a whole server (it owns the detectors); each participant's video track has a
:class:`TrackState`. :meth:`Anonymizer.process` is called from a worker thread for one frame at a time per
state and returns a new frame in which every face is obscured, or, when that cannot be assured (a detector
raised, the expensive detector's results went stale, processing ran past the deadline), the whole frame
obscured. A paused state returns the neutral card without looking at the frame.

Per frame: optical flow carries the held tracks to the new frame; a cheap BlazeFace pass runs on the whole
frame (plus tiles, when configured); CenterFace runs in the background by default, and its boxes are carried by
optical flow from the frame it saw to the current one; detections refresh or start tracks; every track becomes
an enlarged mask; the masks are pixelated. A track's first frame runs every detector inline.

Heads that no face detector finds (the back of a head, a profile, a covered face, a head cut by the edge) come
from a person mask (:mod:`privacy.vision.head_cues`) every ``head_every`` frames; they are held and carried by optical
flow like faces, and masked whole wherever no face track already explains them.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np

from privacy.vision.box_merge import sure_boxes
from privacy.vision.boxes import Box, FaceDetector
from privacy.vision.counters import CounterSnapshot, FrameCounters
from privacy.vision.detector_stack import FastDetectors, SingleDetector, StrongDetector
from privacy.vision.head_cues import HeadDetector
from privacy.vision.lighting import detection_input
from privacy.vision.motion import Motion, camera_rotation_deg, estimate_motion, flow_image, unseen_bands
from privacy.vision.obscure import obscure_boxes
from privacy.vision.obscure import obscure_whole_frame as obscure_whole_frame
from privacy.vision.options import AnonymizerOptions as AnonymizerOptions
from privacy.vision.options import StrongMode
from privacy.vision.pause_card import pause_card as pause_card
from privacy.vision.strong_schedule import (
    FrameSignals,
    camera_still,
    faces_still,
    is_calm,
    largest_change,
    settled,
    strong_due,
    thumbnail,
)
from privacy.vision.tracking import Track, advance, associate, entering_face_width, masks

__all__ = ["Anonymizer", "AnonymizerOptions", "TrackState", "obscure_whole_frame", "pause_card"]


class TrackState:
    """Per-participant state: the tracks being held, the last frame's flow image, counters, pause flag.

    Only one :meth:`Anonymizer.process` call may use a state at a time (the caller's per-track worker
    guarantees it); ``paused`` and the counters may be touched from other threads.
    """

    def __init__(self) -> None:
        self.tracks: list[Track] = []
        self.heads: list[Track] = []
        """Heads from the person mask (see :mod:`privacy.vision.head_cues`), held and carried like face tracks."""
        self.frame_index = 0
        self.frame_shape: tuple[int, ...] | None = None
        self.prev_grey: np.ndarray | None = None
        self.detection_has_run = False
        """Whether a complete detection pass (including the expensive detector) has run for this track."""
        self.last_strong_frame: float | None = None
        """The ``now`` of the newest frame the expensive detector has finished."""
        self.last_strong_submit = -(10**9)
        self.pending: Future[tuple[list[Box], float | None]] | None = None
        self.carry: list[Motion] = []
        """The frame-to-frame motions since the frame the pending expensive-detector pass looks at: its boxes
        are carried along them to the frame they are used on (no extra optical flow over a longer gap)."""
        self.pending_now = 0.0
        self.pending_index = 0
        self.strong_seen_index = -1
        """The index of the newest frame whose expensive-detector results have been merged."""
        self.cut_index = -1
        """The index of the last frame that showed a new scene (camera switched, lens uncovered, a cut)."""
        self.calm_run = 0
        """How many frames in a row, up to the current one, were calm (see :mod:`privacy.vision.strong_schedule`)."""
        self.brightened = False
        self.prev_thumb: np.ndarray | None = None
        """The previous frame's thumbnail (see :func:`privacy.vision.strong_schedule.largest_change`)."""
        """Whether the detectors looked at a brightened copy of the previous frame."""
        self.tilt: float | None = None
        """How far the scene is tilted (degrees, from the eye lines of the faces CenterFace is sure of), carried by
        the camera's rotation from frame to frame; every other CenterFace pass looks at the picture turned upright."""
        self.strong_passes = 0
        self.settled = False
        """Whether the newest expensive pass merged found nothing the held tracks did not already hold (see
        :func:`privacy.vision.strong_schedule.settled`)."""
        self.paused = False
        """While True, frames are replaced by the pause card (set by the pause control)."""
        self.pause_text = "Pause"
        self.counters = FrameCounters()
        self.last_masks: list[Box] = []
        """The rectangles obscured in the last returned frame (the whole frame when it was replaced)."""

    def snapshot(self) -> CounterSnapshot:
        """The frame counters of this track."""
        return self.counters.snapshot()

    def count_dropped(self, amount: int = 1) -> None:
        """Record frames the caller skipped (they were sent as fully obscured frames or not at all)."""
        self.counters.add("dropped", amount)

    def reset(self) -> None:
        """Forget all tracks (a new resolution or a new camera): the next frame runs every detector again."""
        self.tracks = []
        self.heads = []
        self.prev_grey = None
        self.frame_shape = None
        self.detection_has_run = False
        self.last_strong_frame = None
        self.strong_seen_index = self.frame_index - 1
        self.pending = None
        self.carry = []
        self.calm_run = 0
        self.prev_thumb = None
        self.tilt = None
        self.settled = False


class Anonymizer:
    """Anonymizes frames of any number of tracks; thread-safe across different :class:`TrackState` objects.

    ``detector=None`` builds the real stack from ``options`` (BlazeFace + CenterFace, loaded from the installed
    model packages); a given ``detector`` is used alone on every frame, with ``strong_detector`` as the
    optional expensive one (tests pass fakes here). ``clock`` measures processing time for ``deadline_s``.
    """

    def __init__(
        self,
        options: AnonymizerOptions,
        detector: FaceDetector | None = None,
        *,
        strong_detector: FaceDetector | None = None,
        head_detector: FaceDetector | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self._clock = clock
        self._fast: FastDetectors | SingleDetector
        self._strong: FaceDetector | None
        if detector is None:
            self._fast = FastDetectors(options)
            self._strong = None if options.strong_mode is StrongMode.OFF else StrongDetector(options)
            self._heads: FaceDetector | None = HeadDetector() if options.head_every > 0 else None
        else:
            self._fast = SingleDetector(detector)
            self._strong = None if options.strong_mode is StrongMode.OFF else strong_detector
            self._heads = head_detector if options.head_every > 0 else None
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def new_track(self) -> TrackState:
        """State for a new participant video track (its first frame runs every detector)."""
        return TrackState()

    def close(self) -> None:
        """Stop the background worker (pending results are discarded)."""
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None

    def wait_idle(self, state: TrackState, timeout: float | None = None) -> None:
        """Block until ``state``'s background detection (if any) has finished; for tests and benchmarks."""
        pending = state.pending
        if pending is not None:
            # An error is handled (fail closed) by the next process() call, not here.
            with contextlib.suppress(Exception):
                pending.result(timeout)

    def process(self, frame_bgr: np.ndarray, state: TrackState, now: float) -> np.ndarray:
        """The anonymized frame (a new array), a fully obscured one when in doubt, or the pause card."""
        height, width = frame_bgr.shape[:2]
        whole = [Box(0.0, 0.0, float(width), float(height))]
        if state.paused:
            state.counters.add("paused")
            state.last_masks = whole
            return pause_card(width, height, state.pause_text)
        started = self._clock()
        try:
            out = self._anonymize(frame_bgr, state, now)
        except Exception:
            state.counters.add("detector_errors")
            out = None
        deadline = self.options.deadline_s
        if out is not None and deadline is not None and self._clock() - started > deadline:
            state.counters.add("late")
            out = None
        if out is None:
            state.counters.add("obscured")
            state.last_masks = whole
            return obscure_whole_frame(frame_bgr)
        state.counters.add("anonymized")
        return out

    def _anonymize(self, frame: np.ndarray, state: TrackState, now: float) -> np.ndarray | None:
        opts = self.options
        if state.frame_shape != frame.shape:
            state.reset()
            state.frame_shape = frame.shape
        grey = flow_image(frame)
        background = self._strong is not None and opts.strong_mode is StrongMode.BACKGROUND
        scheduled = self._strong is not None and opts.strong_every_calm > opts.strong_every
        cut = (background or scheduled) and state.prev_grey is not None and scene_changed(state.prev_grey, grey)
        if cut:
            state.cut_index = state.frame_index
        motion = Motion.still()
        may_wait = 0  # frames the expensive detector may wait: while calm, or while settled (strong_schedule)
        followed = [t.box for t in state.tracks] + [t.box for t in state.heads]
        # The camera's motion is needed even without tracks when a pass is pending (its boxes are carried by
        # it) or when the schedule asks whether the picture is calm.
        if state.prev_grey is not None and (followed or state.pending is not None or scheduled):
            motion = estimate_motion(state.prev_grey, grey, followed)
        if state.pending is not None:
            state.carry.append(motion)
        if state.tilt is not None:
            state.tilt = None if cut else state.tilt + camera_rotation_deg(motion.camera)
        tracks = advance(state.tracks, motion)
        heads = advance(state.heads, motion)
        looked_at = detection_input(frame, grey) if opts.dark_boost else frame
        brightened = looked_at is not frame
        if scheduled:
            height, width = frame.shape[:2]
            thumb = thumbnail(grey)
            signals = FrameSignals(
                flow_points=len(motion.before),
                camera_still=camera_still(motion.camera, width, height, opts.calm),
                faces_still=faces_still(followed, [t.box for t in tracks + heads], opts.calm),
                content_still=state.prev_thumb is not None
                and largest_change(state.prev_thumb, thumb) <= opts.calm.content_change,
                unconfirmed_tracks=sum(t.hits < 2 for t in state.tracks + state.heads),
                scene_cut=cut,
                light_changed=brightened != state.brightened,
            )
            state.calm_run = state.calm_run + 1 if is_calm(signals) else 0
            may_wait = state.calm_run
            if state.settled and not (signals.scene_cut or signals.light_changed):
                may_wait = max(state.calm_run, opts.strong_skip_settled)
            state.prev_thumb = thumb
        state.brightened = brightened
        # The first frame of a track has no history to lean on: it runs every detector (all tiles, CenterFace
        # at two sizes). It is slow, once; the caller sends fully obscured frames meanwhile.
        thorough = opts.thorough_first_frame and state.last_strong_frame is None
        fast_boxes = self._fast.detect(looked_at, state.frame_index, thorough=thorough)
        strong_boxes: list[Box] = []
        strong_ok = True
        merged_pass = state.last_strong_frame
        if self._strong is not None:
            strong_boxes, strong_ok = self._run_strong(looked_at, state, now, may_wait)
        sure = sure_boxes(fast_boxes, strong_boxes, opts.fast_sure_score, opts.strong_sure_score)
        size = (frame.shape[1], frame.shape[0])
        state.tracks = associate(tracks, fast_boxes + strong_boxes, now, opts.tracking, sure, size)
        if state.last_strong_frame != merged_pass:  # an expensive pass's results joined on this frame
            state.settled = settled(state.tracks)
        if self._heads is not None and (thorough or state.frame_index % opts.head_every == 0):
            heads = associate(heads, self._heads.detect(looked_at), now, opts.head_tracking)
        state.heads = [t for t in heads if now - t.last_seen <= opts.head_tracking.hold_s]
        state.prev_grey = grey
        state.frame_index += 1
        state.detection_has_run = True
        if not strong_ok:
            return None
        if background and state.strong_seen_index < state.cut_index:
            # A new scene: held tracks describe the old one and the fast detector misses turned faces, so
            # nothing of it leaves until the expensive detector has seen a frame of it (two or three frames).
            return None
        height, width = frame.shape[:2]
        state.last_masks = masks(state.tracks, now, opts.tracking, width, height)
        state.last_masks += unexplained_heads(state.heads, state.last_masks, now, opts, width, height)
        if opts.mask_unseen_edges and self._strong is not None:
            lag = state.frame_index - 1 - state.strong_seen_index
            entry = entering_face_width([t.box for t in state.tracks], width, opts.tracking)
            state.last_masks += unseen_bands(motion.camera, width, height, lag, entry)
        return obscure_boxes(frame, state.last_masks, opts.method, opts.blocks, opts.blur_share)

    def _run_strong(self, image: np.ndarray, state: TrackState, now: float, may_wait: int) -> tuple[list[Box], bool]:
        """Boxes from the expensive detector for this frame and whether its results are fresh enough; it may wait
        ``may_wait`` frames since its last pass."""
        strong = self._strong
        assert strong is not None
        opts = self.options
        due = strong_due(
            state.frame_index - state.last_strong_submit,
            may_wait,
            opts.strong_every,
            opts.strong_every_calm,
        )
        if opts.strong_mode is StrongMode.INLINE or state.last_strong_frame is None:
            # Inline mode, and the warm-up frame of a background track: run it now.
            if not (due or state.last_strong_frame is None):
                return [], self._fresh(state, now)
            state.last_strong_submit = state.frame_index
            first = state.last_strong_frame is None and opts.thorough_first_frame
            if first and isinstance(strong, StrongDetector):
                inline = strong.detect_thorough(image)
            else:
                inline, tilt = tilted_pass(strong, image, self._pass_tilt(state))
                state.tilt = tilt if tilt is not None else state.tilt
            state.last_strong_frame = now
            state.strong_seen_index = state.frame_index
            return inline, True
        found: list[Box] = []
        pending = state.pending
        if pending is not None and pending.done():
            state.pending = None
            carry, state.carry = state.carry, []
            result, tilt = pending.result()  # re-raises the worker's error: fail closed on this frame
            # Carry the boxes from the frame the detector saw to this one, one frame step at a time.
            found = list(result)
            for step in carry:
                found = step.move_all(found)
            if tilt is not None:
                state.tilt = tilt + sum(camera_rotation_deg(step.camera) for step in carry)
            state.last_strong_frame = state.pending_now
            state.strong_seen_index = state.pending_index
        if state.pending is None and due:
            state.last_strong_submit = state.frame_index
            state.pending = self._submit(strong, image.copy(), self._pass_tilt(state))
            state.carry = []
            state.pending_now = now
            state.pending_index = state.frame_index
        return found, self._fresh(state, now)

    def _fresh(self, state: TrackState, now: float) -> bool:
        last = state.last_strong_frame
        return last is not None and now - last <= self.options.strong_timeout_s

    @staticmethod
    def _pass_tilt(state: TrackState) -> float:
        """The tilt the next CenterFace pass corrects: every other pass, the scene's; the others look at the
        picture as it is (a face that is upright in a tilted scene, the corners the turned picture loses)."""
        state.strong_passes += 1
        return state.tilt if state.tilt is not None and state.strong_passes % 2 == 0 else 0.0

    def _submit(self, strong: FaceDetector, image: np.ndarray, tilt: float) -> Future[tuple[list[Box], float | None]]:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="privacy-strong", initializer=yield_to_calls
                )
            return self._executor.submit(tilted_pass, strong, image, tilt)


BACKGROUND_NICENESS = 10
"""How much lower the background detector's thread runs than the call's threads (Linux nice steps)."""


def yield_to_calls() -> None:
    """Run the calling thread at a lower priority, so that on a busy machine the kernel serves the frames of calls
    first: a frame waiting for a core is a frame late for everyone, while the background detector's result is
    carried to the frame it is used on whatever its lag (and its staleness limit still fails closed)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)


def tilted_pass(strong: FaceDetector, image: np.ndarray, tilt: float) -> tuple[list[Box], float | None]:
    """The expensive detector's boxes and the scene's tilt it measured (None from a detector that cannot tell)."""
    if isinstance(strong, StrongDetector):
        return strong.detect_tilted(image, tilt)
    return strong.detect(image), None


def unexplained_heads(
    heads: list[Track], face_masks: list[Box], now: float, options: AnonymizerOptions, width: int, height: int
) -> list[Box]:
    """Masks for the heads that no face mask already covers (most of the head inside one face mask)."""
    if not heads:
        return []
    out = []
    for mask in masks(heads, now, options.head_tracking, width, height):
        if not any(_covers_most(face, mask) for face in face_masks):
            out.append(mask)
    return out


def _covers_most(outer: Box, inner: Box, share: float = 0.8) -> bool:
    ix = max(0.0, min(outer.x + outer.w, inner.x + inner.w) - max(outer.x, inner.x))
    iy = max(0.0, min(outer.y + outer.h, inner.y + inner.h) - max(outer.y, inner.y))
    return ix * iy >= share * inner.w * inner.h


SCENE_THUMB = (32, 24)
SCENE_CHANGE = 0.5
"""1 - correlation of two 32x24 thumbnails above which the picture may be a new scene (brightness-proof)."""
SCENE_CELL_CHANGE = 1.0
"""A thumbnail cell changed when its contrast-normalised value moved by this many standard deviations."""
SCENE_SPREAD = 0.12
"""A new scene changes at least this share of the cells. Measured: two unrelated pictures (stills, a cut in the
real clip) 24-50 %, a fast movement in the same scene 15-18 % (still counted as a cut, as before), a bench's
frame-counter band 5-7 %. A high-contrast patch that changed alone (a screen, a blinking sign, that band) can
decorrelate the whole thumbnail; it is no new scene: the held tracks elsewhere are still right, and calling it
one withheld the picture until the expensive detector had looked again (every 16th frame of the bench)."""


def scene_changed(previous_grey: np.ndarray, grey: np.ndarray) -> bool:
    """Whether ``grey`` shows another scene than ``previous_grey`` (both from :func:`flow_image`)."""
    a = cv2.resize(previous_grey, SCENE_THUMB, interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    b = cv2.resize(grey, SCENE_THUMB, interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    a -= a.mean()
    b -= b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if denominator < 1e-3:  # a flat picture (lens covered, black): a change only if its level jumped
        return abs(float(previous_grey.mean()) - float(grey.mean())) > 40
    if 1.0 - float((a * b).sum()) / denominator <= SCENE_CHANGE:
        return False
    spread_a, spread_b = float(a.std()), float(b.std())
    if min(spread_a, spread_b) < 1e-3:  # one of them flat: nothing of the other picture is left
        return True
    changed = np.abs(a / spread_a - b / spread_b) > SCENE_CELL_CHANGE
    return float(changed.mean()) >= SCENE_SPREAD
