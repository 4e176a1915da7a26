"""A sentence for a person, named by its catalogue key instead of written out: the reader's language is known only
at the edge (the page, the call socket, the e-mail), so domain code says *which* message and the web layer says it.

The catalogues themselves (``web/locale/{nb,nn,en}*.json``) belong to the web layer; this module holds only the
reference, so domain packages name a message without importing the web layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from typing import Protocol, TypeAlias

Param: TypeAlias = "str | int | Text"
"""A placeholder's value: a number, a code, or another catalogue text (a field's label), said in the same language."""


class Text:
    """Catalogue ``key`` plus the values of its ``{placeholders}`` (numbers, field names: never personal data)."""

    __slots__ = ("key", "params")

    def __init__(self, key: str, **params: Param) -> None:
        self.key = key
        self.params: Mapping[str, Param] = params

    def __str__(self) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"Text({self.key!r}, **{dict(self.params)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and (self.key, dict(self.params)) == (other.key, dict(other.params))

    def __hash__(self) -> int:
        return hash((self.key, tuple(sorted(self.params.items(), key=lambda item: item[0]))))


def text_of(error: BaseException) -> Text | None:
    """The catalogue text of an error: its ``text`` attribute, or a :class:`Text` it was raised with."""
    text = getattr(error, "text", None)
    if not isinstance(text, Text) and error.args and isinstance(error.args[0], Text):
        text = error.args[0]
    return text if isinstance(text, Text) else None


Message: TypeAlias = "Text | str"
"""What a form shows beside a field: a catalogue text, or (not yet in the catalogue) a bokmål sentence."""


def said_by(error: BaseException) -> Message:
    """What a form shows beside a field for ``error``: its coded text, or (for an uncoded error) its message."""
    return text_of(error) or str(error)


class UnsaidValue(TypeError):
    """A template printed a value that has not been said for its reader (a programming error)."""


def only_said(value: object) -> object:
    """Jinja ``finalize``: a page prints only what was said for its reader. A :class:`Text` printed as it is
    would show its catalogue key, and a date or time printed as it is would show ISO digits in UTC or in no zone
    at all; both must go through the page's ``t`` or its date formatters, so both are refused here."""
    if isinstance(value, Text):
        raise UnsaidValue(f"catalogue text {value.key!r} printed without being said; use t(...)")
    if isinstance(value, date | time):  # datetime is a date
        raise UnsaidValue(f"{type(value).__name__} printed as it is; format it for the reader's language and zone")
    return value


class Voice(Protocol):
    """Says catalogue texts in one language, for domain code that writes a whole document (an invitation, an
    SMS) for one reader: the web layer passes one built on its catalogues, in the reader's language."""

    @property
    def lang(self) -> str:
        """``nb``, ``nn`` or ``en``: also how dates are written and the document's language tag."""
        ...

    def __call__(self, key: str, /, **params: Param) -> str: ...
