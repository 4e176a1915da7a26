"""Errors of the privacy records: validators, consent ledger, audit log, chains and the signing key.

Every message is Norwegian (bokmål) and fit to show a user as it is: it says what was wrong and why, and never
contains the offending value, because that value may be exactly the personal data the check exists to keep out.
The edge maps ``InvalidInput`` and ``ConsentError`` to 400, ``ConsentMissing`` to 403 and ``LedgerError`` to 503.
"""

from __future__ import annotations


class PrivacyRecordError(Exception):
    """Base of this hierarchy; ``str(error)`` is the user-facing message and ``code`` a stable machine name."""

    code = "privacy_record_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- data minimisation -------------------------------------------------------------------------------------


class InvalidInput(PrivacyRecordError):
    """Input that breaks a data-minimisation or format rule; nothing was saved."""

    code = "invalid_input"


class IdentityNumberRefused(InvalidInput):
    """Free text held what looks like a fødselsnummer, D-number or similar; the number itself is not kept."""

    code = "identity_number_refused"

    def __init__(self, field_name: str) -> None:
        super().__init__(
            f"Feltet «{field_name}» ser ut til å inneholde et fødselsnummer eller D-nummer. "
            "Tjenesten skal bare ha opplysningene saken trenger, og identitetsnummer trengs ikke. "
            "Fjern nummeret og prøv igjen."
        )
        self.field_name = field_name


class InvalidOrgNumber(InvalidInput):
    code = "invalid_org_number"

    def __init__(self) -> None:
        super().__init__("Organisasjonsnummeret er ikke gyldig. Det skal ha 9 sifre, og kontrollsifferet må stemme.")


class InvalidSerialNumber(InvalidInput):
    code = "invalid_serial_number"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Serienummeret er ikke gyldig: {reason}")


class InvalidText(InvalidInput):
    """Free text that is too long, empty when required, or carries control characters."""

    code = "invalid_text"


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
        super().__init__("Ukjent omfang for samtykke. Gyldige verdier er video, audio, recording og face_visible.")


class PurposeMissing(ConsentError):
    code = "purpose_missing"

    def __init__(self) -> None:
        super().__init__("Samtykket må ha et formål, for eksempel «posisjonering» eller «nakkestøtte».")


class FaceVisibleNeedsLimit(ConsentError):
    code = "face_visible_needs_limit"

    def __init__(self) -> None:
        super().__init__(
            "Samtykke til at ansiktet vises er et unntak og må ha en tidsgrense. Oppgi når unntaket slutter."
        )


class ConsentNotFound(ConsentError):
    code = "consent_not_found"

    def __init__(self) -> None:
        super().__init__("Fant ikke samtykket som skal trekkes tilbake for denne deltakeren i dette møtet.")


class ConsentAlreadyWithdrawn(ConsentError):
    code = "consent_already_withdrawn"

    def __init__(self) -> None:
        super().__init__("Samtykket er allerede trukket tilbake.")


class DuplicateConsent(ConsentError):
    code = "duplicate_consent"

    def __init__(self) -> None:
        super().__init__("Dette samtykket er allerede registrert.")


class UnknownMeeting(ConsentError):
    code = "unknown_meeting"

    def __init__(self) -> None:
        super().__init__("Møtet finnes ikke, så samtykket kan ikke registreres.")


class InvalidConsent(ConsentError):
    """Any other inconsistency: wrong form for who recorded it, times out of order, an empty scope list."""

    code = "invalid_consent"


class ConsentMissing(PrivacyRecordError):
    """Gating: the participant has no active consent for the scope the action needs."""

    code = "consent_missing"

    def __init__(self) -> None:
        super().__init__("Det finnes ikke noe gyldig samtykke for dette. Be om samtykke først.")


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
