"""What a person reads for a refusal, in bokmål: tests assert on the sentence, as a page would show it."""

from __future__ import annotations

from privacy.user_text import Text
from web.i18n import message_of, shown


def nb(value: BaseException | Text | str) -> str:
    """A refusal, a coded text or an already-said message, said in bokmål."""
    return message_of(value, "nb") if isinstance(value, BaseException) else shown("nb", value)
