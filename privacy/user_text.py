"""A sentence for a person, named by its catalogue key instead of written out: the reader's language is known only
at the edge (the page, the call socket, the e-mail), so domain code says *which* message and the web layer says it.

The catalogues themselves (``web/locale/{nb,nn,en}*.json``) belong to the web layer; this module holds only the
reference, so domain packages name a message without importing the web layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class Text:
    """Catalogue ``key`` plus the values of its ``{placeholders}`` (numbers, field names: never personal data)."""

    __slots__ = ("key", "params")

    def __init__(self, key: str, **params: str | int) -> None:
        self.key = key
        self.params: Mapping[str, str | int] = params

    def __str__(self) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"Text({self.key!r}, **{dict(self.params)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and (self.key, dict(self.params)) == (other.key, dict(other.params))

    def __hash__(self) -> int:
        return hash((self.key, tuple(sorted(self.params.items()))))


class Voice(Protocol):
    """Says catalogue texts in one language, for domain code that writes a whole document (an invitation, an
    SMS) for one reader: the web layer passes one built on its catalogues, in the reader's language."""

    @property
    def lang(self) -> str:
        """``nb``, ``nn`` or ``en``: also how dates are written and the document's language tag."""
        ...

    def __call__(self, key: str, /, **params: str | int) -> str: ...
