"""The shape of ``web/``, read from the source: no import circle between its modules, and the composition root
``web.app`` imported by no handler (only by the command line that starts the server).

Every import counts, also one inside a function: a local import hides a circle from the reader but not from the
interpreter.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.live_server import server_settings
from web.app import create_app
from web.staff_auth import StaffRoute, route_of

WEB = Path(__file__).resolve().parent.parent / "web"
ENTRY_POINTS = {"web.cli"}
"""Modules above the composition root: they start the server and may import ``web.app``."""


def _web_imports(path: Path) -> set[str]:
    """The ``web.*`` modules that ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("web.")}
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            if node.module == "web":
                found |= {f"web.{alias.name}" for alias in node.names}
            elif node.module.startswith("web."):
                found.add(node.module)
    return found


def web_graph() -> dict[str, set[str]]:
    modules = {f"web.{p.stem}": p for p in WEB.glob("*.py") if p.stem != "__init__"}
    return {name: _web_imports(path) & modules.keys() for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path that ends where it starts, or None (depth-first search with colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_web_has_no_import_circle() -> None:
    assert find_cycle(web_graph()) is None, " -> ".join(find_cycle(web_graph()) or [])


def test_only_entry_points_import_the_composition_root() -> None:
    importers = sorted(name for name, deps in web_graph().items() if "web.app" in deps)
    assert set(importers) <= ENTRY_POINTS, importers


def test_the_cycle_finder_finds_a_circle() -> None:
    """The guard above can fail: a three-module circle (the old keys-in-app shape) is found and named."""
    graph = {"web.app": {"web.pages"}, "web.pages": {"web.keys", "web.app"}, "web.keys": set()}
    assert find_cycle(graph) == ["web.app", "web.pages", "web.app"]
    assert find_cycle({"web.app": {"web.pages"}, "web.pages": {"web.keys"}}) is None


def test_every_staff_route_passes_the_staff_gate(tmp_path: Path) -> None:
    """Authentication, role and CSRF are checked once, by ``staff_gate``, for every route declared with
    ``staff_route``: a staff URL whose handler is not declared would run unchecked, so none may exist."""
    app = create_app(server_settings(tmp_path / "data"))
    unmarked, checked = [], 0
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = str(info.get("formatter") or info.get("path") or "")
        if path == "/staff" or path.startswith("/staff/"):
            checked += 1
            if route_of(route.handler) is None:
                unmarked.append((route.method, path))
    assert not unmarked
    assert checked > 40  # the walk saw the staff routes (GET also answers HEAD)
    logout = next(r for r in app.router.routes() if r.resource is not None and r.resource.canonical == "/logout")
    assert route_of(logout.handler) == StaffRoute(None, csrf=True)


HANDLER_MODULES = {f"web.{p.stem}" for p in WEB.glob("*.py") if "router.add_" in p.read_text(encoding="utf-8")}
"""Modules that add routes: the HTTP edge, which reads requests and renders answers."""
STILL_OPENING: set[str] = set()
"""Handler modules that still open connections themselves, to move into services (empty: keep it so)."""


def _database_uses(path: Path) -> list[str]:
    """Table imports and ``engine.connect()`` / ``engine.begin()`` calls in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.rsplit(".", 1)[-1].endswith("tables"):
            found.append(f"imports {node.module}")
        elif isinstance(node, ast.Import):
            found += [f"imports {a.name}" for a in node.names if a.name.rsplit(".", 1)[-1].endswith("tables")]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("connect", "begin")
            and "engine" in ast.unparse(node.func.value).lower()
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}()")
    return found


def test_handlers_leave_the_database_to_services() -> None:
    """A handler reads the request and renders; the feature's service (``session/*_service.py``) owns the
    transaction. Modules on the allow-list still do it themselves; a module that no longer does must leave it."""
    uses = {name: _database_uses(WEB / f"{name.removeprefix('web.')}.py") for name in HANDLER_MODULES}
    offenders = {name: found for name, found in uses.items() if found and name not in STILL_OPENING}
    assert not offenders
    cleaned = sorted(name for name in STILL_OPENING if not uses.get(name))
    assert not cleaned, f"take these off STILL_OPENING: {cleaned}"
