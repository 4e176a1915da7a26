"""Errors of the meeting domain. Messages are in Norwegian for users and never contain personal data."""

from __future__ import annotations


class SessionError(Exception):
    """Base class; ``code`` is stable for clients, the message is for people."""

    code = "session_error"


class LinkInvalid(SessionError):
    code = "link_invalid"

    def __init__(self) -> None:
        super().__init__("Lenken er ikke gyldig. Be den som inviterte deg om en ny lenke.")


class LinkExpired(SessionError):
    code = "link_expired"

    def __init__(self) -> None:
        super().__init__("Lenken har utløpt. Be den som inviterte deg om en ny lenke.")


class LinkRevoked(SessionError):
    code = "link_revoked"

    def __init__(self) -> None:
        super().__init__("Lenken er trukket tilbake av verten for møtet.")


class MeetingInvalid(SessionError):
    code = "meeting_invalid"


class MeetingFull(SessionError):
    code = "meeting_full"

    def __init__(self) -> None:
        super().__init__("Møtet er fullt.")
