"""recordings depends on privacy only (DESIGN.md): never on session or web, which depend on it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "recordings"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_recordings_imports_neither_session_nor_web() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) > 10
    for path in files:
        forbidden = {m for m in imported_modules(path) if m.split(".")[0] in {"session", "web", "bench", "tests"}}
        assert not forbidden, f"{path.name} imports {sorted(forbidden)}"
