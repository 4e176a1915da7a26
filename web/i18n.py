"""One message catalogue per language: bokmål first, nynorsk beside it (språklova § 14), then English.

Missing keys fall back to bokmål, then to the key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from privacy.user_text import Param, Text, text_of
from session.roles import Role

LANGUAGES = ("nb", "nn", "en")
DEFAULT = "nb"
NAMES = {"nb": "Bokmål", "nn": "Nynorsk", "en": "English"}
"""Each language named in itself, for the language switch (the same on every page, whatever its language)."""
_DIR = Path(__file__).with_name("locale")
_PRIMARY = {"nb": "nb", "no": "nb", "nn": "nn", "en": "en"}
"""The primary subtag of an Accept-Language tag → our language; "no" (Norwegian, unspecified) reads as bokmål."""


@cache
def catalogue(lang: str) -> dict[str, str]:
    """``nb.json`` plus any ``nb.<area>.json`` (one file per feature area keeps edits apart); keys are unique."""
    data: dict[str, str] = {}
    for path in [_DIR / f"{lang}.json", *sorted(_DIR.glob(f"{lang}.*.json"))]:
        part: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        if overlap := set(part) & set(data):
            raise ValueError(f"message keys defined twice in {path.name}: {sorted(overlap)[:3]}")
        data |= part
    return data


def _quality(part: str) -> float:
    for param in part.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0  # also refuses "nan" and "inf"
    return 1.0


def pick_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    """An explicit choice (query, then cookie) wins; else the first language of ours the browser accepts.

    Accept-Language is read by its q-values, ties in the header's order ("nn-NO,nb;q=0.9" → nynorsk);
    a tag with q=0 is refused.
    """
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    parts = [part for part in (accept or "")[:1000].split(",") if part.strip()]
    ranked = sorted(enumerate(parts), key=lambda item: (-_quality(item[1]), item[0]))
    for _, part in ranked:
        if _quality(part) <= 0:
            continue
        primary = part.split(";")[0].strip().lower().split("-")[0]
        if primary in _PRIMARY:
            return _PRIMARY[primary]
    return DEFAULT


def translate(lang: str, key: str) -> str:
    return catalogue(lang).get(key) or catalogue(DEFAULT).get(key) or key


def say(lang: str, text: Text) -> str:
    """A domain :class:`Text` in ``lang``, its ``{placeholders}`` filled in. A refusal must never become a server
    error: a placeholder the raise did not fill (a bug) leaves the sentence as the catalogue writes it."""
    template = translate(lang, text.key)
    params = {name: say(lang, value) if isinstance(value, Text) else value for name, value in text.params.items()}
    try:
        return template.format_map(params)
    except (KeyError, IndexError, ValueError):
        return template


def shown(lang: str, value: Text | str) -> str:
    """A text from a page's context in ``lang``: a coded :class:`Text` is said, a catalogue key translated, and an
    uncoded message (an older error's own sentence) shown as it is."""
    return say(lang, value) if isinstance(value, Text) else translate(lang, value)


def message_of(error: BaseException, lang: str) -> str:
    """What to tell a person about a refusal: its coded text in ``lang``, else its own (bokmål) message."""
    text = text_of(error)
    return say(lang, text) if text is not None else str(error)


@dataclass(frozen=True, slots=True)
class CatalogueVoice:
    """A :class:`privacy.user_text.Voice` on these catalogues: what the web layer hands to domain code that
    writes an invitation or an SMS for one reader."""

    lang: str

    def __call__(self, key: str, /, **params: Param) -> str:
        return say(self.lang, Text(key, **params))


def role_label(lang: str, role: Role) -> str:
    """A participant role as people read it ("Kommunal formidler / ergoterapeut", "Relative")."""
    return translate(lang, f"role.{role.value}")


def voice(lang: str) -> CatalogueVoice:
    return CatalogueVoice(lang if lang in LANGUAGES else DEFAULT)
