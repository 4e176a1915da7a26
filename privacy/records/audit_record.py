"""What one audit-log entry says: an action, who did it, which meeting and organisations, structured details.

Compliance officers read the audit log, scoped to their own organisations, so an entry names the organisations
it belongs to. It holds roles and staff ids but never a citizen's name, and no chat or free prose: details are a
flat mapping of short values, checked here. The checks are a tripwire, not a proof; what callers put in
``details`` is reviewed with the code that writes it (see THREAT_MODEL.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from privacy.records.consent import ConsentEvent, ConsentGiven
from privacy.records.errors import InvalidAuditRecord
from privacy.records.signed_chain import format_time
from privacy.records.validators import find_identity_numbers, validate_reference
from privacy.user_text import Text


class AuditAction(StrEnum):
    """Known actions. Others of the same shape (``area.verb``, lower case) are accepted for new features."""

    CONSENT_GIVEN = "consent.given"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    PAUSE = "pause"
    RESUME = "resume"
    LOBBY_ADMIT = "lobby.admit"
    LOBBY_DENY = "lobby.deny"
    ROSTER_CHANGE = "roster.change"
    ROSTER_CONFIRM = "roster.confirm"
    FACE_VISIBLE_START = "face_visible.start"
    FACE_VISIBLE_END = "face_visible.end"
    RECORDING_START = "recording.start"
    RECORDING_STOP = "recording.stop"
    RECORDING_DELETED = "recording.deleted"
    RECORDING_DELETION_CONFIRMED = "recording.deletion_confirmed"
    ACCESS_GRANT = "access.grant"
    ACCESS_REVOKE = "access.revoke"
    ACCESS_REFUSED = "access.refused"


class ActorKind(StrEnum):
    STAFF = "staff"
    """``ref`` is a staff id (not a name)."""
    ROLE = "role"
    """``ref`` is a participant role such as ``bruker`` or ``parorende``: citizens are known by role only."""
    SYSTEM = "system"
    """``ref`` names a part of the server, e.g. ``retention``."""


_ACTION = re.compile(r"[a-z][a-z_]{0,30}(\.[a-z][a-z_]{0,30}){0,3}")
_DETAIL_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_ROLE = re.compile(r"[a-z][a-z_]{0,31}")
MAX_DETAILS = 20
MAX_DETAIL_TEXT = 200
MAX_LIST = 32
MAX_ORGS = 16
FORBIDDEN_DETAIL_KEYS = frozenset(
    {
        "chat",
        "message",
        "melding",
        "text",
        "tekst",
        "name",
        "navn",
        "first_name",
        "fornavn",
        "last_name",
        "etternavn",
        "fnr",
        "fodselsnummer",
        "personnummer",
        "ssn",
        "email",
        "epost",
        "phone",
        "telefon",
        "mobil",
        "ip",
        "ip_address",
        "address",
        "adresse",
    }
)
"""Keys that would invite exactly what the log must not hold."""

DetailValue = str | int | bool | None | list[str | int | bool]


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    ref: str

    def __post_init__(self) -> None:
        if self.kind is ActorKind.ROLE:
            if not _ROLE.fullmatch(self.ref):
                raise InvalidAuditRecord("Rollen til den som handlet har ugyldig form.")
        else:
            validate_reference(Text("field.actor"), self.ref)


def _bad(message: str) -> InvalidAuditRecord:
    return InvalidAuditRecord(f"Revisjonsloggen kan ikke lagre dette: {message}")


def _scalar(key: str, value: object) -> str | int | bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise _bad(f"tallet i «{key}» er for stort.")
        return value
    if isinstance(value, str):
        if len(value) > MAX_DETAIL_TEXT:
            raise _bad(f"«{key}» er lengre enn {MAX_DETAIL_TEXT} tegn; loggen skal ikke ha fritekst.")
        if not value.isprintable():
            raise _bad(f"«{key}» inneholder linjeskift eller kontrolltegn.")
        if find_identity_numbers(value):
            raise _bad(f"«{key}» ser ut til å inneholde et fødselsnummer eller D-nummer.")
        return value
    raise _bad(f"«{key}» har en verditype som ikke er tillatt.")


def validate_details(details: Mapping[str, object]) -> dict[str, DetailValue]:
    """A copy of ``details`` after checking every rule above; InvalidAuditRecord names the first key that fails."""
    if len(details) > MAX_DETAILS:
        raise _bad(f"høyst {MAX_DETAILS} detaljer per oppføring.")
    checked: dict[str, DetailValue] = {}
    for key, value in details.items():
        if not isinstance(key, str) or not _DETAIL_KEY.fullmatch(key):
            raise _bad("et detaljnavn har ugyldig form.")
        if key in FORBIDDEN_DETAIL_KEYS:
            raise _bad(f"detaljen «{key}» kan inneholde personopplysninger eller chat.")
        if isinstance(value, list | tuple):
            if len(value) > MAX_LIST:
                raise _bad(f"«{key}» har mer enn {MAX_LIST} verdier.")
            items: list[str | int | bool] = []
            for item in value:
                scalar = _scalar(key, item)
                if scalar is None:
                    raise _bad(f"«{key}» har en verditype som ikke er tillatt.")
                items.append(scalar)
            checked[key] = items
        else:
            checked[key] = _scalar(key, value)
    return checked


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit entry before it is sealed. Construction validates and normalises (org ids sorted, unique)."""

    action: str
    actor: Actor
    org_ids: tuple[int, ...]
    meeting_id: str | None = None
    details: Mapping[str, DetailValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _ACTION.fullmatch(self.action):
            raise _bad("handlingen har ugyldig form.")
        orgs = tuple(sorted(set(self.org_ids)))
        if len(orgs) > MAX_ORGS or not all(isinstance(o, int) and not isinstance(o, bool) and o > 0 for o in orgs):
            raise _bad("organisasjonene er ikke gyldige.")
        object.__setattr__(self, "org_ids", orgs)
        if self.meeting_id is not None:
            validate_reference(Text("field.meeting_id"), self.meeting_id)
        object.__setattr__(self, "details", validate_details(self.details))

    def to_payload(self) -> dict[str, object]:
        return {
            "type": "audit",
            "action": self.action,
            "actor": {"kind": self.actor.kind.value, "ref": self.actor.ref},
            "org_ids": list(self.org_ids),
            "meeting_id": self.meeting_id,
            "details": dict(self.details),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> AuditRecord:
        try:
            actor = payload["actor"]
            orgs = payload["org_ids"]
            details = payload["details"]
            meeting = payload["meeting_id"]
            action = payload["action"]
            if (
                payload.get("type") != "audit"
                or not isinstance(actor, Mapping)
                or not isinstance(orgs, list)
                or not isinstance(details, Mapping)
                or not isinstance(action, str)
                or not (meeting is None or isinstance(meeting, str))
            ):
                raise TypeError("shape")
            return cls(
                action=action,
                actor=Actor(ActorKind(str(actor["kind"])), str(actor["ref"])),
                org_ids=tuple(orgs),
                meeting_id=meeting,
                details=details,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidAuditRecord("Revisjonsoppføringen har feil format.") from exc


def audit_for_consent(event: ConsentEvent, *, org_ids: Sequence[int], actor: Actor) -> AuditRecord:
    """The audit entry for a consent event: ids, scopes and form, never the purpose text (it stays in the ledger)."""
    details: dict[str, DetailValue] = {"consent_id": event.consent_id, "subject_ref": event.subject_ref}
    if isinstance(event, ConsentGiven):
        action = AuditAction.CONSENT_GIVEN
        details["scopes"] = sorted(scope.value for scope in event.scopes)
        details["form"] = event.form.value
        details["giver"] = event.giver.value
        if event.face_visible_until is not None:
            details["face_visible_until"] = format_time(event.face_visible_until)
    else:
        action = AuditAction.CONSENT_WITHDRAWN
        details["scopes"] = sorted(scope.value for scope in event.scopes) if event.scopes is not None else "all"
    return AuditRecord(action.value, actor, tuple(org_ids), event.meeting_id, details)
