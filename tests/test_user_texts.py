"""Every sentence a person reads comes from the catalogues, and every date from a formatter that knows the
reader's language and zone: a refusal written out in bokmål in the code, a catalogue text or a date printed as
it is, fails here instead of reaching an English or nynorsk page.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime, time
from pathlib import Path

import jinja2
import pytest

from privacy.user_text import Text, UnsaidValue, only_said

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("session", "privacy", "recordings", "web")

NORWEGIAN = re.compile(
    r"[æøåÆØÅ]|\b(ikke|ikkje|må|skal|kan|fant|fann|velg|vel|feltet|mangler|ugyldig|til|som|på|av|om|oppgi|minst)\b",
    re.I,
)
"""A sentence in bokmål or nynorsk (the product's own English messages are for operators and developers)."""

OPERATOR_FACING: dict[str, str] = {
    "privacy/records/keys.py": "the signing key file: read by the operator at start-up",
    "privacy/records/audit_cli.py": "a command-line tool for the operator and compliance officers' exports",
    "privacy/records/audit_record.py": "refuses malformed audit entries built by code (a bug), never user input",
    "recordings/key_provider.py": "the key-encryption key file: read by the operator at start-up",
    "recordings/verify_cli.py": "a command-line verifier for compliance officers, in bokmål",
    "recordings/certificates.py": "why a certificate does not verify, for the command-line verifier",
    "recordings/errors.py": "the encrypted file format's errors, for the operator (refusals are coded)",
    "session/planning/invitation_ics.py": "reading back the service's own calendar files (tests and support)",
    "web/settings.py": "configuration errors at start-up, for the operator",
    "web/cli.py": "the command line, for the operator",
    "web/auth.py": "the session key file, for the operator",
    "web/dev_idp.py": "the development login, never deployed",
}
"""Modules whose messages go to an operator or a developer, not to a person using the service."""

SAID_KEYWORDS = frozenset({"error", "message", "text", "reason"})


def _literal_text(node: ast.expr) -> str | None:
    """The text of a string literal or f-string (placeholders as {}), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.IfExp):
        return _literal_text(node.body) or _literal_text(node.orelse)
    return None


def _said_in_code(tree: ast.AST) -> list[tuple[int, str]]:
    """Literals in the places a person reads: what is raised, form problems, and error/message arguments."""
    found: list[tuple[int, str]] = []

    def check(node: ast.expr, line: int) -> None:
        text = _literal_text(node)
        if text is not None and NORWEGIAN.search(text):
            found.append((line, text))

    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for arg in node.exc.args:
                check(arg, node.lineno)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Subscript) and "problem" in ast.unparse(t.value) for t in node.targets
        ):
            check(node.value, node.lineno)
        elif isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            if func.endswith((".add", ".setdefault")) and "problem" in func and len(node.args) == 2:
                check(node.args[1], node.lineno)
            for keyword in node.keywords:
                if keyword.arg in SAID_KEYWORDS:
                    check(keyword.value, node.lineno)
            if func.endswith("Error") or func.endswith(("Invalid", "Refused", "Refusal", "NotAllowed")):
                for arg in node.args:
                    check(arg, node.lineno)
    return found


def test_no_sentence_for_a_person_is_written_out_in_the_code() -> None:
    written_out: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name in OPERATOR_FACING or "/migrations/" in name:
                continue
            for line, text in _said_in_code(ast.parse(path.read_text(encoding="utf-8"))):
                written_out.append(f"{name}:{line}: {text[:70]}")
    assert not written_out, "\n".join(["say these through a catalogue key (privacy.user_text.Text):", *written_out])


def test_the_operator_facing_list_names_only_existing_modules() -> None:
    assert all((ROOT / name).is_file() for name in OPERATOR_FACING)


def test_the_scan_finds_a_sentence_in_each_place_a_person_reads() -> None:
    source = """
raise PlanInvalid("topic", "Feltet må fylles ut.")
problems["day"] = "Velg en dato."
problems.add("kind", f"Feltet {kind} må fylles ut.")
render(request, "x.html", error="Fant ikke møtet.")
raise ValueError("now must be timezone-aware")
"""
    lines = sorted({line for line, _ in _said_in_code(ast.parse(source))})
    assert lines == [2, 3, 4, 5]


@pytest.mark.parametrize(
    "value", [Text("err.link.invalid"), date(2026, 11, 30), datetime(2026, 11, 30, 9, tzinfo=UTC), time(9, 30)]
)
def test_a_page_cannot_print_an_unsaid_text_or_a_raw_date(value: object) -> None:
    env = jinja2.Environment(autoescape=True, finalize=only_said)
    with pytest.raises(UnsaidValue):
        env.from_string("<p>{{ value }}</p>").render(value=value)
    assert env.from_string("<p>{{ value }}</p>").render(value="ok") == "<p>ok</p>"


def test_templates_leave_dates_to_the_formatters() -> None:
    """``strftime`` in a template writes one language's pattern for every reader; ISO dates belong only in the
    ``value`` of a date field, which the browser shows in the reader's own format."""
    offenders = []
    for path in (ROOT / "web" / "templates").glob("*.html"):
        text = re.sub(r'value="\{\{[^}]*isoformat\(\)[^}]*\}\}"', "", path.read_text(encoding="utf-8"))
        if re.search(r"\.(strftime|isoformat)\(", text):
            offenders.append(path.name)
    assert not offenders
