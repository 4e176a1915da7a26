"""Departments of a hjelpemiddelsentral that take part in meetings and keep a drop-in queue."""

from __future__ import annotations

from enum import StrEnum


class Department(StrEnum):
    TEKNISK = "teknisk"
    """Repairs and service: diagnoses faults, orders parts, decides local repair or send-in."""
    BOLIG = "bolig"
    MOBILITET = "mobilitet"
    KOMMUNIKASJON = "kommunikasjon"


def parse_department(value: str) -> Department | None:
    """The department named by ``value`` (as in the address ``/teknisk/<centre>``), or None."""
    try:
        return Department(value)
    except ValueError:
        return None
