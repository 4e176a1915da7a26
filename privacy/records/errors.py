"""Errors of the privacy records: validators, consent ledger, audit log, chains and the signing key.

Every message says what was wrong and why, fit to show a user (consent errors by catalogue key, said in the
reader's language at the edge; the rest in bokmål), and never contains the offending value, because that value
may be exactly the personal data the check exists to keep out.
The edge maps ``InvalidInput`` and ``ConsentError`` to 400, ``ConsentMissing`` to 403 and ``LedgerError`` to 503.
"""

from __future__ import annotations

from privacy.user_text import Text


class PrivacyRecordError(Exception):
    """Base of this hierarchy; ``code`` is a stable machine name, ``text`` (when set) the user-facing message by
    catalogue key (said in the reader's language at the edge), else ``str(error)`` is it, in bokmål."""

    code = "privacy_record_error"
    text: Text | None = None

    def __init__(self, message: str | Text) -> None:
        super().__init__(str(message))
        self.message = str(message)
        if isinstance(message, Text):
            self.text = message


# --- data minimisation -------------------------------------------------------------------------------------


class InvalidInput(PrivacyRecordError):
    """Input that breaks a data-minimisation or format rule; nothing was saved."""

    code = "invalid_input"


class IdentityNumberRefused(InvalidInput):
    """Free text held what looks like a fødselsnummer, D-number or similar; the number itself is not kept."""

    code = "identity_number_refused"

    def __init__(self, field: Text) -> None:
        super().__init__(Text("err.input.identity_number", field=field))
        self.field = field


class InvalidOrgNumber(InvalidInput):
    code = "invalid_org_number"

    def __init__(self) -> None:
        super().__init__(Text("err.input.org_number"))


class InvalidSerialNumber(InvalidInput):
    code = "invalid_serial_number"


class InvalidText(InvalidInput):
    """Free text that is too long, empty when required, or carries control characters."""

    code = "invalid_text"

    def __init__(self, message: Text, field: Text | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidReference(InvalidInput):
    """An identifier (meeting, participant, staff, consent) that is not of the expected form."""

    code = "invalid_reference"


# --- consent -----------------------------------------------------------------------------------------------


class ConsentError(PrivacyRecordError):
    """A consent record or withdrawal that cannot be accepted; nothing was appended to the ledger."""

    code = "consent_error"


class UnknownScope(ConsentError):
    code = "unknown_scope"

    def __init__(self) -> None:
        super().__init__(Text("err.consent.unknown_scope"))


class PurposeMissing(ConsentError):
    code = "purpose_missing"

    def __init__(self) -> None:
        super().__init__(Text("err.consent.purpose_missing"))


class FaceVisibleNeedsLimit(ConsentError):
    code = "face_visible_needs_limit"

    def __init__(self) -> None:
        super().__init__(Text("err.consent.face_visible_needs_limit"))


class ConsentNotFound(ConsentError):
    code = "consent_not_found"

    def __init__(self) -> None:
        super().__init__(Text("err.consent.not_found"))


class ConsentAlreadyWithdrawn(ConsentError):
    code = "consent_already_withdrawn"

    def __init__(self) -> None:
        super().__init__(Text("err.consent.already_withdrawn"))


class DuplicateConsent(ConsentError):
    code = "duplicate_consent"

    def __init__(self) -> None:
        super().__init__(Text("err.consent.duplicate"))


class UnknownMeeting(ConsentError):
    code = "unknown_meeting"

    def __init__(self) -> None:
        super().__init__(Text("err.consent.unknown_meeting"))


class InvalidConsent(ConsentError):
    """Any other inconsistency: wrong form for who recorded it, times out of order, an empty scope list."""

    code = "invalid_consent"


class ConsentMissing(PrivacyRecordError):
    """Gating: the participant has no active consent for the scope the action needs."""

    code = "consent_missing"

    def __init__(self) -> None:
        super().__init__(Text("err.consent.missing"))


# --- audit log ---------------------------------------------------------------------------------------------


class InvalidAuditRecord(PrivacyRecordError):
    """An audit entry that would carry something the audit log must not hold, or is malformed."""

    code = "invalid_audit_record"


# --- chains and keys ---------------------------------------------------------------------------------------


class LedgerError(PrivacyRecordError):
    code = "ledger_error"


class ChainTampered(LedgerError):
    """The stored chain does not verify; appending to it would hide the damage, so nothing is appended."""

    code = "chain_tampered"

    def __init__(self, chain: str, seq: int | None, reason: str) -> None:
        where = f" (oppføring {seq})" if seq is not None else ""
        super().__init__(
            f"Personvernloggen «{chain}» kan ikke bekreftes{where}, så ingenting ble lagret. Kontakt driftsansvarlig."
        )
        self.chain = chain
        self.seq = seq
        self.reason = reason


class SigningKeyError(LedgerError):
    """The server's signing key file is missing, unreadable, not Ed25519 or readable by others."""

    code = "signing_key_error"
