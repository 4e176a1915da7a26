"""Who is present in a meeting, also off camera: the routine says everyone present is presented.

Connected participants are listed by role; people in the room off camera are added by a participant with a
role and, if they wish, a first name. First names live only in memory for the meeting; what is kept with the
session afterwards (audit, summary) is roles only.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from privacy.user_text import Text
from session.errors import SessionError

FIRST_NAME_MAX = 40
OFF_CAMERA_MAX = 12
OFF_CAMERA_ROLES = ("parorende", "verge", "leverandor", "helsepersonell", "tolk", "husbanken", "annen")


class RosterInvalid(SessionError):
    code = "roster_invalid"


@dataclass(frozen=True, slots=True)
class OffCamera:
    id: int
    role: str
    first_name: str
    added_by: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "first_name": self.first_name, "added_by": self.added_by}


def clean_first_name(value: str) -> str:
    """Letters, spaces, hyphens and apostrophes only: a first name, never a number or a sentence."""
    value = " ".join(value.split())
    if len(value) > FIRST_NAME_MAX:
        raise RosterInvalid(Text("err.roster.name_too_long", max=FIRST_NAME_MAX))
    if any(not (unicodedata.category(ch).startswith("L") or ch in " -'") for ch in value):
        raise RosterInvalid(Text("err.roster.name_chars"))
    return value


class OffCameraList:
    def __init__(self) -> None:
        self.entries: dict[int, OffCamera] = {}
        self._next = 1

    def add(self, role: str, first_name: str, added_by: str) -> OffCamera:
        if role not in OFF_CAMERA_ROLES:
            raise RosterInvalid(Text("err.roster.unknown_role"))
        if len(self.entries) >= OFF_CAMERA_MAX:
            raise RosterInvalid(Text("err.roster.full"))
        entry = OffCamera(self._next, role, clean_first_name(first_name), added_by)
        self.entries[entry.id] = entry
        self._next += 1
        return entry

    def remove(self, entry_id: int) -> OffCamera:
        entry = self.entries.pop(entry_id, None)
        if entry is None:
            raise RosterInvalid(Text("err.roster.not_found"))
        return entry
