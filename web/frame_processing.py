"""The frame processor the live relay uses: the privacy core's anonymizer (tests put a fake in its place)."""

from __future__ import annotations

from privacy.vision.anonymizer import Anonymizer, AnonymizerOptions


def default_processor() -> Anonymizer:
    """Face anonymization with the live options (detection off the event loop, expensive detector in the
    background); model files come from the installed registry packages, nothing is downloaded."""
    return Anonymizer(AnonymizerOptions())
