"""One message catalogue per language, bokmål first. Missing keys fall back to bokmål, then to the key."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LANGUAGES = ("nb", "en")
DEFAULT = "nb"
_DIR = Path(__file__).with_name("locale")


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


def pick_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag in ("nb", "no", "nn", "nb-no", "no-no"):
            return "nb"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


def translate(lang: str, key: str) -> str:
    return catalogue(lang).get(key) or catalogue(DEFAULT).get(key) or key
