"""Errors of organisations, access control and join links. Messages are Norwegian and hold no personal data.

The edge maps ``NotFound`` to 404 (never 403: another organisation's objects must not be confirmed to exist),
``AccessRefused`` to 403, ``InvalidOrganisation`` and ``InvalidRequest`` to 400, ``LinkInUseElsewhere`` to 409
(a wrong code and too many attempts give the same answer).
"""

from __future__ import annotations

from privacy.user_text import Message, Text
from session.errors import SessionError


class AccessError(SessionError):
    code = "access_error"


class NotFound(AccessError):
    """The object does not exist for the caller (it may exist for another organisation)."""

    code = "not_found"

    def __init__(self, message: Message | None = None) -> None:
        super().__init__(message or Text("err.not_found"))


class AccessRefused(AccessError):
    """A change the caller may not make; nothing was changed. ``reason`` is a stable machine code."""

    code = "access_refused"

    def __init__(self, message: Message, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidOrganisation(AccessError):
    code = "invalid_organisation"

    def __init__(self, message: Message, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidRequest(AccessError):
    code = "invalid_request"


class LinkInUseElsewhere(SessionError):
    code = "link_in_use"

    def __init__(self) -> None:
        super().__init__(Text("err.link.in_use"))


class CodeInvalid(SessionError):
    code = "code_invalid"

    def __init__(self) -> None:
        super().__init__(Text("err.link.code_invalid"))
