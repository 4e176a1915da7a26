"""Every message exists in bokmål and English, and every key the templates and the client use is defined."""

from __future__ import annotations

import re
from pathlib import Path

from web.i18n import catalogue, pick_language, translate

WEB = Path(__file__).resolve().parent.parent / "web"


def test_both_languages_have_the_same_keys() -> None:
    assert set(catalogue("nb")) == set(catalogue("en"))


def test_every_key_used_in_templates_and_scripts_is_defined() -> None:
    used: set[str] = set()
    for path in (WEB / "templates").glob("*.html"):
        used |= set(re.findall(r"t\('([a-z_.]+)'\)", path.read_text(encoding="utf-8")))
    for path in (WEB / "static").glob("*.js"):
        used |= {k for k in re.findall(r'S\["([a-z_.]+)"\]', path.read_text(encoding="utf-8"))}
    missing = used - set(catalogue("nb"))
    assert not missing, sorted(missing)


def test_language_choice() -> None:
    assert pick_language(None, None, "nb-NO,nb;q=0.9,en;q=0.5") == "nb"
    assert pick_language(None, None, "en-GB") == "en"
    assert pick_language("en", "nb", "nb") == "en"  # an explicit choice wins
    assert pick_language(None, None, None) == "nb"  # bokmål first
    assert translate("en", "no.such.key") == "no.such.key"
