"""Participant roles in a samhandlingsmøte, with the labels people see (bokmål first)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    FORMIDLER = "formidler"
    """Kommunal formidler or ergoterapeut, usually the host on a tablet beside the user."""
    RADGIVER = "radgiver"
    """Adviser at the hjelpemiddelsentral."""
    TEKNIKER = "tekniker"
    BRUKER = "bruker"
    """The citizen; their video and audio need consent and their face is always anonymized."""
    PARORENDE = "parorende"
    LEVERANDOR = "leverandor"
    HUSBANKEN = "husbanken"
    """Husbanken's adviser in housing cases (bolig)."""

    @property
    def is_staff(self) -> bool:
        return self in STAFF_ROLES


STAFF_ROLES = frozenset({Role.FORMIDLER, Role.RADGIVER, Role.TEKNIKER})

LABELS: dict[str, dict[Role, str]] = {
    "nb": {
        Role.FORMIDLER: "Kommunal formidler / ergoterapeut",
        Role.RADGIVER: "Rådgiver, hjelpemiddelsentralen",
        Role.TEKNIKER: "Tekniker, hjelpemiddelsentralen",
        Role.BRUKER: "Bruker",
        Role.PARORENDE: "Pårørende",
        Role.LEVERANDOR: "Leverandør",
        Role.HUSBANKEN: "Husbanken",
    },
    "nn": {
        Role.FORMIDLER: "Kommunal formidlar / ergoterapeut",
        Role.RADGIVER: "Rådgjevar, hjelpemiddelsentralen",
        Role.TEKNIKER: "Teknikar, hjelpemiddelsentralen",
        Role.BRUKER: "Brukar",
        Role.PARORENDE: "Pårørande",
        Role.LEVERANDOR: "Leverandør",
        Role.HUSBANKEN: "Husbanken",
    },
    "en": {
        Role.FORMIDLER: "Municipal assistive-technology officer / OT",
        Role.RADGIVER: "Adviser, assistive technology centre",
        Role.TEKNIKER: "Technician, assistive technology centre",
        Role.BRUKER: "User",
        Role.PARORENDE: "Relative",
        Role.LEVERANDOR: "Supplier",
        Role.HUSBANKEN: "Husbanken (Norwegian State Housing Bank)",
    },
}


def parse_role(value: str) -> Role:
    """The role named by ``value``; ValueError (with a message fit for the user) when there is none."""
    try:
        return Role(value)
    except ValueError:
        raise ValueError("Ukjent rolle.") from None
