"""Data minimisation: organisation numbers, Norwegian identity numbers in free text, serial numbers, references.

The service never needs a citizen's identity: cases are described by topic and equipment serial numbers. These
checks keep identity numbers out of everything that is stored (meeting topics, purposes, repair notes) and
refuse them with a reason, without ever echoing the number back.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from privacy.records.errors import (
    IdentityNumberRefused,
    InvalidOrgNumber,
    InvalidReference,
    InvalidSerialNumber,
    InvalidText,
)
from privacy.user_text import Text

# --- organisation numbers ----------------------------------------------------------------------------------

_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def org_number_control_digit(first_eight: str) -> int | None:
    """The mod-11 control digit for the first eight digits, or None when remainder 1 makes the base unusable."""
    remainder = sum(w * int(d) for w, d in zip(_ORG_WEIGHTS, first_eight, strict=True)) % 11
    if remainder == 0:
        return 0
    if remainder == 1:
        return None
    return 11 - remainder


def is_valid_org_number(value: str) -> bool:
    """True for exactly nine ASCII digits whose last digit is the Brønnøysund mod-11 control digit."""
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        return False
    return org_number_control_digit(value[:8]) == int(value[8])


def parse_org_number(value: str) -> str:
    """The nine digits of ``value`` (spaces as in "974 760 673" allowed), or InvalidOrgNumber."""
    compact = value.replace(" ", "").replace("\u00a0", "")
    if not is_valid_org_number(compact):
        raise InvalidOrgNumber()
    return compact


# --- fødselsnummer, D-, H- and synthetic test numbers ------------------------------------------------------

_K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2, 1)
_K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
_K1_RESIDUES_BEFORE_2032 = frozenset({0})
_K1_RESIDUES_FROM_2032 = frozenset({0, 1, 2, 3})


class IdentityKind(StrEnum):
    """Which series an 11-digit identity number belongs to, read from the offsets in its date part."""

    FODSELSNUMMER = "fodselsnummer"
    D_NUMMER = "d_nummer"
    """Day + 40: people without a fødselsnummer (foreign workers, students)."""
    H_NUMMER = "h_nummer"
    """Month + 40: help numbers in health care; NAV's synthetic test numbers (Dolly) use the same offset."""
    SYNTHETIC_TENOR = "syntetisk_tenor"
    """Month + 80: Skatteetaten's synthetic test population (Tenor)."""


def control_digits_ok(digits: str, *, rule_2032: bool = True) -> bool:
    """Whether both mod-11 control digits of an 11-digit string hold.

    The weighted sum over the first ten digits (weights 3,7,6,1,8,9,4,5,2 and 1 for k1 itself) must leave
    remainder 0, and so must the sum over all eleven (5,4,3,2,7,6,5,4,3,2 and 1 for k2). From 1 January 2032
    Skatteetaten issues numbers whose first remainder may be 0, 1, 2 or 3 ("k1 = {11,12,13,14} - (sum MOD 11)"),
    so that one date and individual number gives up to four numbers; k2 is computed as before. Numbers are issued
    this way for people born before 2032 too and no one changes number, so a reader must accept both rules at
    once and cannot tell them apart (source: Skatteetaten, "Nytt fødselsnummer fra 2032",
    github.com/Skatteetaten/folkeregisteret-api-dokumentasjon, src/om-tjenestene/nyttfnr2032.md). With
    ``rule_2032=False`` only the old remainder 0 is accepted.
    """
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit():
        return False
    values = [int(c) for c in digits]
    residue1 = sum(w * v for w, v in zip(_K1_WEIGHTS, values[:10], strict=True)) % 11
    allowed = _K1_RESIDUES_FROM_2032 if rule_2032 else _K1_RESIDUES_BEFORE_2032
    if residue1 not in allowed:
        return False
    return sum(w * v for w, v in zip(_K2_WEIGHTS, values, strict=True)) % 11 == 0


def identity_kind(digits: str, *, rule_2032: bool = True, strict: bool = True) -> IdentityKind | None:
    """The series of a valid identity number, or None when the control digits or the date do not hold.

    With ``strict=False`` the control digits are not required: a number mistyped by one digit, or made up, is
    still somebody's birth date plus five digits, and free text must not carry it either.

    The date check accepts any day that exists in the month in some century: from 2032 the individual number
    no longer tells the century, and D-numbers may carry a registration date, so no age or future-date check
    is made. 29 February is accepted for years divisible by four (00 is 2000, a leap year).
    """
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit():
        return None
    if strict and not control_digits_ok(digits, rule_2032=rule_2032):
        return None
    day, month, year = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    d_form = day > 40
    if d_form:
        day -= 40
    if 1 <= month <= 12:
        kind = IdentityKind.D_NUMMER if d_form else IdentityKind.FODSELSNUMMER
    elif 41 <= month <= 52:
        month, kind = month - 40, IdentityKind.H_NUMMER
    elif 81 <= month <= 92:
        month, kind = month - 80, IdentityKind.SYNTHETIC_TENOR
    else:
        return None
    return kind if _day_exists(day, month, year) else None


def _day_exists(day: int, month: int, two_digit_year: int) -> bool:
    if month == 2:
        return 1 <= day <= (29 if two_digit_year % 4 == 0 else 28)
    return 1 <= day <= (30 if month in (4, 6, 9, 11) else 31)


def is_identity_number(value: str, *, rule_2032: bool = True) -> bool:
    """True when ``value`` is exactly an 11-digit fødselsnummer, D-, H- or synthetic test number."""
    return identity_kind(value, rule_2032=rule_2032) is not None


@dataclass(frozen=True, slots=True)
class IdentityNumberMatch:
    """Where an identity number was found in a text. The number is kept out of ``repr`` so it is never logged."""

    kind: IdentityKind
    start: int
    end: int
    number: str = field(repr=False)


# Six date digits (optionally written as a date, "01.01.90", "01-01-90", "01/01 90"), then an optional space,
# dot, hyphen or no-break space, then the individual number, with an optional space before the two last digits
# ("010190 12345", "010190.123 45", "01.01.90-12345"). No digit may touch either end.
_SEP = r"[ .\-/\u00a0]?"
_CANDIDATE = re.compile(
    rf"(?<![0-9])([0-9]{{2}}){_SEP}([0-9]{{2}}){_SEP}([0-9]{{2}})"
    r"[ .\-\u00a0]?([0-9]{3})[ \u00a0]?([0-9]{2})(?![0-9])"
)


def _skeleton(text: str) -> tuple[str, list[int]]:
    """``text`` with format characters (zero-width spaces, soft hyphens) removed and every Unicode decimal digit
    written as its ASCII digit, plus each kept character's index in ``text``, so that "0101\u200b90…" or
    full-width digits do not slip past the pattern."""
    chars: list[str] = []
    positions: list[int] = []
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cf":
            continue
        if not char.isascii() and char.isdecimal():
            char = str(unicodedata.decimal(char))
        chars.append(char)
        positions.append(index)
    return "".join(chars), positions


def find_identity_numbers(text: str, *, rule_2032: bool = True, strict: bool = False) -> list[IdentityNumberMatch]:
    """Every identity number in free text, in order, with its span in ``text``: by default any eleven digits
    that begin with a real date (plain, D-, H- or synthetic form), whether or not the control digits hold.

    Digit runs longer than eleven are not split into candidates (an account or serial number is not a person),
    but a number may be written with a separator between the date and the individual number.
    """
    skeleton, positions = _skeleton(text)
    found: list[IdentityNumberMatch] = []
    for match in _CANDIDATE.finditer(skeleton):
        digits = "".join(match.groups())
        kind = identity_kind(digits, rule_2032=rule_2032, strict=strict)
        if kind is not None:
            start, end = positions[match.start()], positions[match.end() - 1] + 1
            found.append(IdentityNumberMatch(kind=kind, start=start, end=end, number=digits))
    return found


def refuse_identity_numbers(field: Text, text: str) -> None:
    """Raise IdentityNumberRefused when ``text`` holds an identity number; ``field`` is the label users see."""
    if find_identity_numbers(text):
        raise IdentityNumberRefused(field)


# --- free text, serial numbers, references -----------------------------------------------------------------

_ALLOWED_CONTROLS = frozenset("\n\t")


def validate_free_text(field: Text, text: str, *, max_length: int, required: bool = True) -> str:
    """``text`` stripped of surrounding whitespace, after checking length, control characters and identity numbers.

    Line breaks and tabs are allowed; other control characters are not, since they hide content from the
    people reading a journal export. The identity check runs last so that its message is the one users see
    when a number is the only problem.
    """
    cleaned = text.replace("\r\n", "\n").strip()
    if required and not cleaned:
        raise InvalidText(Text("err.input.required", field=field), field)
    if len(cleaned) > max_length:
        raise InvalidText(Text("err.input.too_long", field=field, max=max_length), field)
    if any(unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS for c in cleaned):
        raise InvalidText(Text("err.input.control_chars", field=field), field)
    refuse_identity_numbers(field, cleaned)
    return cleaned


SERIAL_NUMBER_MAX_LENGTH = 64


def validate_serial_number(value: str) -> str:
    """An equipment serial number, stripped: 1-64 printable characters and not an identity number.

    ``str.isprintable`` refuses control, format and separator characters other than the plain space, so
    zero-width and bidirectional-override characters cannot make two serial numbers look alike.
    """
    cleaned = value.strip()
    if not cleaned:
        raise InvalidSerialNumber(Text("err.input.serial.empty"))
    if len(cleaned) > SERIAL_NUMBER_MAX_LENGTH:
        raise InvalidSerialNumber(Text("err.input.serial.too_long", max=SERIAL_NUMBER_MAX_LENGTH))
    if not cleaned.isprintable():
        raise InvalidSerialNumber(Text("err.input.serial.control"))
    refuse_identity_numbers(Text("field.serial_number"), cleaned)
    return cleaned


_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")


def validate_reference(what: Text, value: str) -> str:
    """An opaque identifier (meeting, participant, staff, consent id): 1-64 ASCII letters, digits and ``._:-``.

    Identifiers are what the records hold instead of names; the narrow alphabet (no spaces) keeps a name from
    being used as one by mistake, and an identifier that is itself an identity number is refused. Digits
    inside a longer generated identifier are left alone: a random hex id must never be refused by chance.
    """
    if not _REFERENCE.fullmatch(value):
        raise InvalidReference(Text("err.input.reference", what=what))
    if identity_kind(value, strict=False) is not None:
        raise IdentityNumberRefused(what)
    return value
