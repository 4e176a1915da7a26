"""Errors of the frame-privacy core.

Messages name files and kinds of problems, never anything seen in a picture; the command line maps
:class:`PrivacyError` to exit status 2.
"""

from __future__ import annotations


class PrivacyError(Exception):
    """Base class of the errors that the anonymizer and the offline file processing raise on purpose."""


class ModelMissing(PrivacyError):
    """A model file that the detector stack needs is not installed (nothing is downloaded at run time)."""


class ModelUnusable(PrivacyError):
    """A model file is there but cannot be loaded (truncated, corrupt, another file under its name).

    Raised when the anonymizer is built (server start-up), never while frames flow."""


class MediaInputError(PrivacyError):
    """The input of offline anonymization cannot be used: unreadable, unsupported, empty or missing."""


class MediaOutputError(PrivacyError):
    """The requested output does not fit the input (e.g. a video asked to become a directory) or cannot be written."""
