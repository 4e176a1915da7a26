"""How a person is named in the consent ledger, the audit chain and recordings: by a stable reference, never by
name or identity number. One place builds them, so a ledger entry and the check that reads it cannot drift."""

from __future__ import annotations


def link_ref(invitation_id: int) -> str:
    """A participant who joined through a link (the citizen, a relative, a guest): the link, not the person."""
    return f"link-{invitation_id}"


def staff_ref(staff_id: int) -> str:
    """A staff member, by their id in the staff directory."""
    return f"staff-{staff_id}"
