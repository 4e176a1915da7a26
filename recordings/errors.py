"""Errors of the recordings package: starting, access, retention, deletion, certificates and the file format.

A refusal a user sees carries a catalogue text (said in the reader's language at the edge); the operator's
errors (keys, the file format) stay bokmål sentences. Messages never contain personal data and
never echo user input. The edge maps ``InvalidRecordingRequest`` to 400, ``RecordingNotAllowed`` and
``AccessDenied`` to 403 (or 404 where the recording's existence must not be revealed), ``RecordingNotFound`` to
404, ``RecordingUnavailable`` and ``ConfirmationRefused`` to 409, and ``ContainerError``/``KeyProviderError`` to
503 (the operator must look).
"""

from __future__ import annotations

from privacy.user_text import Message, Text


class RecordingError(Exception):
    """Base of this hierarchy; ``code`` is a stable machine name, ``text`` (when set) the user-facing message by
    catalogue key (said in the reader's language at the edge), else ``str(error)`` is it (operator messages)."""

    code = "recording_error"
    text: Text | None = None

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.message = str(message)
        if isinstance(message, Text):
            self.text = message


# --- requests ----------------------------------------------------------------------------------------------


class InvalidRecordingRequest(RecordingError):
    code = "invalid_recording_request"


class ReasonMissing(InvalidRecordingRequest):
    code = "reason_missing"

    def __init__(self, what: Text | None = None) -> None:
        super().__init__(Text("err.rec.reason_missing", what=what or Text("field.recording")))


class DeadlineTooLate(InvalidRecordingRequest):
    code = "deadline_too_late"

    def __init__(self, max_days: int) -> None:
        super().__init__(Text("err.rec.deadline_too_late", max_days=max_days))
        self.max_days = max_days


class DeadlineInPast(InvalidRecordingRequest):
    code = "deadline_in_past"

    def __init__(self) -> None:
        super().__init__(Text("err.rec.deadline_past"))


class RecordingNotAllowed(RecordingError):
    """Starting (or exporting) is not allowed: not a staff host, consent missing, export switched off."""

    code = "recording_not_allowed"


class AccessDenied(RecordingError):
    code = "recording_access_denied"

    def __init__(self) -> None:
        super().__init__(Text("err.rec.access_denied"))


class RecordingNotFound(RecordingError):
    code = "recording_not_found"

    def __init__(self) -> None:
        super().__init__(Text("err.rec.not_found"))


class RecordingUnavailable(RecordingError):
    """The recording is in a state that does not allow this (still recording, being deleted, deleted)."""

    code = "recording_unavailable"


class ConfirmationRefused(RecordingError):
    code = "confirmation_refused"


class CustodyNotFound(RecordingError):
    code = "custody_not_found"

    def __init__(self) -> None:
        super().__init__(Text("err.rec.custody_not_found"))


# --- certificates ------------------------------------------------------------------------------------------


class CertificateInvalid(RecordingError):
    """A deletion certificate that does not verify; ``reason`` is a stable code, ``message`` says why."""

    code = "certificate_invalid"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- keys and the file format ------------------------------------------------------------------------------


class KeyProviderError(RecordingError):
    """The key-encryption key cannot be loaded (missing, wrong format, readable by others, beside the data)."""

    code = "kek_error"


class ContainerError(RecordingError):
    """An encrypted recording file that cannot be read as it should; nothing of it is returned."""

    code = "container_error"


class NotARecording(ContainerError):
    code = "not_a_recording"

    def __init__(self) -> None:
        super().__init__("Filen er ikke et kryptert opptak fra Samhandling.")


class UnsupportedFormat(ContainerError):
    code = "unsupported_format"

    def __init__(self) -> None:
        super().__init__("Opptaksfilen har et format denne versjonen ikke kan lese.")


class UnknownKek(ContainerError):
    code = "unknown_kek"

    def __init__(self) -> None:
        super().__init__("Opptaket er kryptert med en nøkkel tjenesten ikke har (feil nøkkelkrypteringsnøkkel).")


class HeaderTampered(ContainerError):
    code = "header_tampered"

    def __init__(self) -> None:
        super().__init__("Opptaksfilens hode er endret eller skadet; opptaket kan ikke leses.")


class KeyDestroyed(ContainerError):
    code = "key_destroyed"

    def __init__(self) -> None:
        super().__init__("Nøkkelen til opptaket er slettet; opptaket kan ikke lenger leses.")


class ChunkTampered(ContainerError):
    code = "chunk_tampered"

    def __init__(self, index: int) -> None:
        super().__init__(f"Del {index} av opptaksfilen er endret, flyttet eller skadet; den leses ikke.")
        self.index = index


class RecordingTruncated(ContainerError):
    """The file ends before its final chunk although it was finished: cut off, or a torn write."""

    code = "recording_truncated"

    def __init__(self) -> None:
        super().__init__("Opptaksfilen er avkortet; slutten mangler.")
