"""Departments of a hjelpemiddelsentral that take part in meetings and keep a drop-in queue."""

from __future__ import annotations

from enum import StrEnum


class Department(StrEnum):
    TEKNISK = "teknisk"
    """Repairs and service: diagnoses faults, orders parts, decides local repair or send-in."""
    BOLIG = "bolig"
    MOBILITET = "mobilitet"
    KOMMUNIKASJON = "kommunikasjon"
