"""Every message key the issue-7 scripts and modules name exists in bokmål and English."""

from __future__ import annotations

import re
from pathlib import Path

from web.i18n import catalogue

WEB = Path(__file__).resolve().parents[2] / "web"
KEY = re.compile(r"""["']((?:precheck|dropin|technician|roomcode|summary|repair|plan|invite|cancel)\.[a-z_.]+)["']""")
SOURCES = [
    WEB / "static" / "precheck.js",
    WEB / "static" / "dropin.js",
    *(WEB / name for name in ("dropin_pages.py", "room_code_pages.py", "precheck_pages.py", "journal_pages.py")),
]


def test_every_key_named_in_code_exists_in_both_languages() -> None:
    used = {key for path in SOURCES for key in KEY.findall(path.read_text(encoding="utf-8"))}
    used = {key for key in used if not key.endswith((".html", ".js", ".json"))}
    assert len(used) > 40
    for lang in ("nb", "en"):
        missing = used - set(catalogue(lang))
        assert not missing, (lang, sorted(missing))


def test_dynamic_keys_exist_for_every_value() -> None:
    from session.departments import Department
    from session.planning.plan import ParticipantKind
    from session.planning.repair import RepairDecision

    keys = [f"participant.{p.value}" for p in ParticipantKind]
    keys += [f"decision.{d.value}" for d in RepairDecision]
    keys += [f"dropin.{kind}.{d.value}" for d in Department for kind in ("dept", "topic")]
    keys += [f"dropin.role.{r}" for r in ("formidler", "bruker", "parorende", "leverandor")]
    for lang in ("nb", "en"):
        assert not [k for k in keys if k not in catalogue(lang)], lang
