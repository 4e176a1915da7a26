"""Staff roles (what a logged-in employee may do, and where), as stored in ``staff_roles.role``.

These are rights, not meeting roles: ``session.roles.Role`` says who someone is in one call, a ``StaffRole``
says what an employee may do for an organisation. Each role is held at one organisation of a fitting kind.
"""

from __future__ import annotations

from enum import StrEnum


class OrgKind(StrEnum):
    MUNICIPALITY = "municipality"
    MUNICIPALITY_UNIT = "municipality_unit"
    """A unit of a municipality (e.g. its ergoterapitjeneste); its parent is the municipality."""
    CENTRE = "centre"
    """A NAV hjelpemiddelsentral."""
    CENTRE_DEPARTMENT = "centre_department"
    SUPPLIER = "supplier"


class DepartmentKind(StrEnum):
    """The departments of a hjelpemiddelsentral that meetings are routed to."""

    TEKNISK = "teknisk"
    BOLIG = "bolig"
    MOBILITET = "mobilitet"
    KOMMUNIKASJON = "kommunikasjon"


class StaffRole(StrEnum):
    CENTRE_ADMIN = "centre_admin"
    """Opens (enables) municipalities and units, appoints access managers and the centre's own staff."""
    ADVISER = "adviser"
    TECHNICIAN = "technician"
    ACCESS_MANAGER = "access_manager"
    """Tilgangsstyrer: grants and removes the formidler right within one municipality and its units."""
    FORMIDLER = "formidler"
    COMPLIANCE_OFFICER = "compliance_officer"
    """Reads the audit trail of the organisation (and its units) where the role is held."""


CENTRE_ROLES = frozenset({StaffRole.CENTRE_ADMIN, StaffRole.ADVISER, StaffRole.TECHNICIAN})
"""Roles of centre staff: they see their whole centre (all departments), not only their own department."""

MEETING_ROLES = frozenset({StaffRole.FORMIDLER, StaffRole.ADVISER, StaffRole.TECHNICIAN})
"""Roles that may create and host meetings."""

HELD_AT: dict[StaffRole, frozenset[OrgKind]] = {
    StaffRole.CENTRE_ADMIN: frozenset({OrgKind.CENTRE}),
    StaffRole.ADVISER: frozenset({OrgKind.CENTRE, OrgKind.CENTRE_DEPARTMENT}),
    StaffRole.TECHNICIAN: frozenset({OrgKind.CENTRE, OrgKind.CENTRE_DEPARTMENT}),
    StaffRole.ACCESS_MANAGER: frozenset({OrgKind.MUNICIPALITY}),
    StaffRole.FORMIDLER: frozenset({OrgKind.MUNICIPALITY, OrgKind.MUNICIPALITY_UNIT}),
    StaffRole.COMPLIANCE_OFFICER: frozenset(OrgKind),
}
"""The kinds of organisation each role can be held at."""

LABELS_NB: dict[StaffRole, str] = {
    StaffRole.CENTRE_ADMIN: "Administrator, hjelpemiddelsentralen",
    StaffRole.ADVISER: "Rådgiver",
    StaffRole.TECHNICIAN: "Tekniker",
    StaffRole.ACCESS_MANAGER: "Tilgangsstyrer",
    StaffRole.FORMIDLER: "Formidler",
    StaffRole.COMPLIANCE_OFFICER: "Personvernansvarlig",
}


def parse_staff_role(value: str) -> StaffRole | None:
    """The role named by ``value``, or None for a value this version does not know (ignored, never granted)."""
    try:
        return StaffRole(value)
    except ValueError:
        return None
