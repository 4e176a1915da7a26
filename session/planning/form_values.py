"""Reading values out of a submitted form given as a plain mapping (str -> str | list of str).

The web layer turns its multidict into such a mapping (``{k: form.getall(k) for k in form}``); the domain reads
one value or a list from it. A list field may also come as one text with one entry per line (a textarea).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

FormData = Mapping[str, str | Sequence[str]]

MAX_LIST_ITEMS = 50
"""Hard limit on entries read from one list field, before any field-specific limit (a guard against floods)."""


class FormShapeError(ValueError):
    """A field came with a shape the form cannot produce (several values where one is expected)."""


def one(form: FormData, key: str) -> str:
    """The single value of ``key``; "" when absent. FormShapeError when the form sent several."""
    value = form.get(key, "")
    if isinstance(value, str):
        return value
    values = [v for v in value if v.strip()]
    if len(values) > 1:
        raise FormShapeError(key)
    return values[0] if values else ""


def many(form: FormData, key: str) -> list[str]:
    """Non-empty entries of ``key``: repeated values, or one text split at line breaks.

    Only "\\n" (and "\\r\\n") split entries; ``str.splitlines`` would also split at form feeds and other
    control characters and so hide them from the checks that must refuse them.
    """
    value = form.get(key, ())
    raw = [value] if isinstance(value, str) else list(value)
    entries: list[str] = []
    for item in raw:
        for line in item.replace("\r\n", "\n").split("\n"):
            if line.strip():
                entries.append(line)
    if len(entries) > MAX_LIST_ITEMS:
        raise FormShapeError(key)
    return entries
