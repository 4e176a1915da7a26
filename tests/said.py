"""What a person reads for a refusal, in bokmål: tests assert on the sentence, as a page would show it."""

from __future__ import annotations

from privacy.user_text import Text
from web.i18n import message_of, say


def nb(value: BaseException | Text | str) -> str:
    """A refusal, a coded text or an already-said message, said in bokmål."""
    if isinstance(value, BaseException):
        return message_of(value, "nb")
    return say("nb", value) if isinstance(value, Text) else value
