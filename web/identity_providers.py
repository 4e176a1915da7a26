"""What is particular to the two real identity providers: ID-porten's assurance levels and Entra ID's groups.

ID-porten (municipal staff, Brukerpass holders) names its levels ``idporten-loa-substantial`` and
``idporten-loa-high``; the service asks for one with ``acr_values`` and accepts an ID token whose ``acr`` is that
level or a higher one (a person who logged in with BankID on high is welcome where substantial was asked).
Entra ID (NAV's own centre staff) sends the person's group object ids in the ``groups`` claim; the operator maps
groups to centre roles in the settings, and a person with no mapped group gets no role at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from session.access.staff_roles import CENTRE_ROLES, StaffRole

IDPORTEN_LEVELS = ("idporten-loa-substantial", "idporten-loa-high")
"""ID-porten's levels of assurance, lowest first."""
IDPORTEN_DEFAULT_LEVEL = "idporten-loa-substantial"


class ProviderConfigError(ValueError):
    """A provider setting is malformed; the message names the setting, never a value."""


def idporten_level(name: str) -> str:
    """``substantial``/``high`` (or the full level name) as ID-porten's level name."""
    level = name if name.startswith("idporten-loa-") else f"idporten-loa-{name}"
    if level not in IDPORTEN_LEVELS:
        raise ProviderConfigError("the ID-porten level must be substantial or high")
    return level


def idporten_accepted_acr(requested: str) -> frozenset[str]:
    """The ``acr`` values that satisfy ``requested``: that level and every higher one."""
    return frozenset(IDPORTEN_LEVELS[IDPORTEN_LEVELS.index(idporten_level(requested)) :])


def parse_group_roles(raw: str) -> Mapping[str, frozenset[StaffRole]]:
    """``{"<group object id>": "adviser" | ["adviser", "technician"], …}`` from a JSON setting; only centre
    roles may be given this way (municipal rights come from Altinn and the access managers, not from NAV's
    directory)."""
    try:
        data = json.loads(raw or "{}")
    except json.JSONDecodeError:
        raise ProviderConfigError("the Entra group mapping must be a JSON object") from None
    if not isinstance(data, dict):
        raise ProviderConfigError("the Entra group mapping must be a JSON object")
    mapping: dict[str, frozenset[StaffRole]] = {}
    for group, roles in data.items():
        names = [roles] if isinstance(roles, str) else roles
        if not isinstance(group, str) or not group or not isinstance(names, list):
            raise ProviderConfigError("each Entra group must map to a role or a list of roles")
        try:
            parsed = frozenset(StaffRole(str(name)) for name in names)
        except ValueError:
            raise ProviderConfigError("the Entra group mapping names an unknown role") from None
        if not parsed <= CENTRE_ROLES:
            raise ProviderConfigError("Entra groups can only give centre roles (centre_admin, adviser, technician)")
        mapping[group] = parsed
    return mapping


def roles_from_groups(claims: Mapping[str, Any], mapping: Mapping[str, frozenset[StaffRole]]) -> frozenset[StaffRole]:
    """The centre roles an Entra ID token's ``groups`` give; none when the claim is missing or malformed."""
    groups = claims.get("groups")
    if not isinstance(groups, list):
        return frozenset()
    roles: set[StaffRole] = set()
    for group in groups:
        if isinstance(group, str):
            roles |= mapping.get(group, frozenset())
    return frozenset(roles)
