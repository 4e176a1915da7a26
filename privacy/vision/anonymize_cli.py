"""``samhandling anonymize INPUT OUTPUT [--realtime FPS]``: the command-line face of :mod:`privacy.vision.media_files`.

Exit status 0 on success, 2 on bad input or output (with a one-line reason on stderr and nothing left
behind). The summary names counts only, never file contents.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from privacy.vision.errors import PrivacyError

DESCRIPTION = "Anonymize every face in an image, a folder of images or a video (.y4m, .mp4)."


def build_parser() -> argparse.ArgumentParser:
    """The stand-alone argument parser (``python -m privacy.vision.anonymize_cli``)."""
    parser = argparse.ArgumentParser(prog="samhandling anonymize", description=DESCRIPTION)
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments once, for the stand-alone parser and the ``samhandling`` subcommand alike."""
    parser.add_argument("input", type=Path, help="image, folder of images, or video")
    parser.add_argument("output", type=Path, help="where to write the result (the same kind as the input)")
    parser.add_argument(
        "--realtime",
        type=float,
        metavar="FPS",
        default=None,
        help="process a video as a live call at FPS frames per second (frames that miss the deadline are obscured)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Carry out parsed arguments (from either parser); returns the exit status."""
    if args.realtime is not None and args.realtime <= 0:
        print("samhandling anonymize: --realtime must be positive", file=sys.stderr)
        return 2
    from privacy.vision.media_files import anonymize_path

    try:
        report = anonymize_path(args.input, args.output, realtime_fps=args.realtime)
    except PrivacyError as exc:
        print(f"samhandling anonymize: {exc}", file=sys.stderr)
        return 2
    c = report.counters
    print(
        f"{report.kind}: {report.files} file(s), {report.frames} frame(s); "
        f"anonymized {c.anonymized}, fully obscured {c.obscured}, dropped {c.dropped}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
