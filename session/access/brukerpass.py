"""Brukerpass: citizens with their own agreement with the centre, who contact it without a municipal formidler.

A centre issues a holder a code (printed or read out once; only its keyed hash is stored). With it, or with an
ID-porten login once linked to it, the holder reaches the centre's drop-in and asks for meetings, always as the
citizen in the call (role ``bruker``), so every privacy rule of a call holds for them as for anyone. The service
never learns who the holder is: the agreement is named by the centre's own reference (no identity numbers), and
an ID-porten login is kept as a keyed hash of the provider's pairwise subject, never the national identity
number it may also carry. This module is pure: no I/O, time passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from privacy.records.errors import IdentityNumberRefused, InvalidInput
from privacy.records.validators import validate_free_text, validate_serial_number
from privacy.user_text import Text
from session.departments import Department

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I: the code is read aloud on the phone and typed from paper."""
CODE_GROUPS = 3
CODE_GROUP_LEN = 4
"""Twelve characters of 32: 60 bits, beyond guessing even without the attempt limit (which applies as well)."""
HOLDER_VALIDITY = timedelta(days=365)
"""A Brukerpass agreement is renewed yearly; the code stops working with it."""
REFERENCE_MAX = 60
TOPIC_MAX = 500
WISH_MAX = 200
JOIN_EARLY = timedelta(minutes=15)
"""The holder's «Bli med» opens this long before the agreed time ..."""
JOIN_LATE = timedelta(hours=2)
"""... and stays open this long after it (meetings start late and run over)."""


class BrukerpassError(InvalidInput):
    """A Brukerpass form was refused. ``key`` is the catalogue key of the message (the web layer says it in the
    reader's language), ``field`` the form field it belongs next to; the refused text itself is never kept."""

    code = "brukerpass_invalid"

    def __init__(self, key: str, field: str = "") -> None:
        super().__init__(key)
        self.key = key
        self.field = field


def _checked(field: str, check: Callable[[], str]) -> str:
    """Runs a validator, turning its refusal into a keyed error: an identity number has its own message."""
    try:
        return check()
    except IdentityNumberRefused:
        raise BrukerpassError("bp.error.identity", field) from None
    except InvalidInput:
        raise BrukerpassError(f"bp.error.{field}", field) from None


def new_code() -> str:
    """A fresh code, grouped for reading: ``ABCD-EFGH-JKLM``."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_LEN))
    return "-".join(chars[i : i + CODE_GROUP_LEN] for i in range(0, len(chars), CODE_GROUP_LEN))


def normalise_code(typed: str) -> str | None:
    """The code as typed (any case, with or without spaces and dashes) in canonical form, or None when it cannot
    be a code at all (so no hash is looked up for junk)."""
    chars = "".join(c for c in typed[:64].upper() if c not in " -\t")
    if len(chars) != CODE_GROUPS * CODE_GROUP_LEN or any(c not in CODE_ALPHABET for c in chars):
        return None
    return "-".join(chars[i : i + CODE_GROUP_LEN] for i in range(0, len(chars), CODE_GROUP_LEN))


def code_hash(key: bytes, code: str) -> str:
    """What is stored for a code: a keyed hash, so the database alone cannot be used to log in."""
    return hmac.new(key, b"brukerpass-code:" + code.encode(), hashlib.sha256).hexdigest()


def subject_hash(key: bytes, subject: str) -> str:
    """What is stored for an ID-porten login: a keyed hash of the pairwise subject (never the pid claim)."""
    return hmac.new(key, b"brukerpass-subject:" + subject.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Holder:
    id: int
    centre_id: int
    reference: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    linked: bool
    """Whether an ID-porten login is linked (the login itself is not shown to anyone)."""

    def valid(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


def check_reference(value: str) -> str:
    """The centre's own name for the agreement (an agreement or case number), never a person's identity."""
    return _checked(
        "reference",
        lambda: validate_free_text(Text("field.reference"), value.replace("\n", " "), max_length=REFERENCE_MAX),
    )


class RequestState(StrEnum):
    NEW = "ny"
    SCHEDULED = "avtalt"
    CLOSED = "avsluttet"


@dataclass(frozen=True, slots=True)
class MeetingWish:
    """What a holder asks the centre for: only what the case needs (the equipment by serial number)."""

    department: Department
    topic: str
    serial_number: str | None
    when: str


def parse_wish(form: Mapping[str, str], departments: frozenset[Department]) -> MeetingWish:
    """The meeting request form, checked field by field; the first problem is raised with its field."""
    try:
        department = Department(form.get("department", ""))
    except ValueError:
        raise BrukerpassError("bp.error.department", "department") from None
    if department not in departments:
        raise BrukerpassError("bp.error.department", "department")
    topic = _checked(
        "topic", lambda: validate_free_text(Text("field.topic"), form.get("topic", ""), max_length=TOPIC_MAX)
    )
    serial: str | None = None
    if form.get("serial", "").strip():
        serial = _checked("serial", lambda: validate_serial_number(form.get("serial", "")))
    when = _checked(
        "when",
        lambda: validate_free_text(Text("field.when"), form.get("when", ""), max_length=WISH_MAX, required=False),
    )
    return MeetingWish(department, topic, serial, when)


def may_join(starts_at: datetime, now: datetime) -> bool:
    """Whether the holder's «Bli med» is open for a meeting agreed for ``starts_at``."""
    return starts_at - JOIN_EARLY <= now <= starts_at + JOIN_LATE
