"""Participant roles in a samhandlingsmøte (their labels are in the catalogues: ``role.<value>``)."""

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
