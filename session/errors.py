"""Errors of the meeting domain. Messages are for people and never contain personal data.

A message is either a catalogue :class:`Text` (said in the reader's language at the edge) or, where not yet
moved to the catalogue, a bokmål sentence.
"""

from __future__ import annotations

from privacy.user_text import Text


class SessionError(Exception):
    """Base class; ``code`` is stable for clients, ``text`` (when set) the message by catalogue key, and
    ``str(error)`` the key or the bokmål sentence."""

    code = "session_error"
    text: Text | None = None

    def __init__(self, message: str | Text = "") -> None:
        super().__init__(str(message))
        if isinstance(message, Text):
            self.text = message


class LinkInvalid(SessionError):
    code = "link_invalid"

    def __init__(self) -> None:
        super().__init__(Text("err.link.invalid"))


class LinkExpired(SessionError):
    code = "link_expired"

    def __init__(self) -> None:
        super().__init__(Text("err.link.expired"))


class LinkRevoked(SessionError):
    code = "link_revoked"

    def __init__(self) -> None:
        super().__init__(Text("err.link.revoked"))


class MeetingInvalid(SessionError):
    code = "meeting_invalid"


class MeetingFull(SessionError):
    code = "meeting_full"

    def __init__(self) -> None:
        super().__init__(Text("err.meeting.full"))
