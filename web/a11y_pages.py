"""The accessibility statement (tilgjengelighetserklæring), linked from every page's footer.

It follows the structure Digdir's uustatus asks of a statement: which service it covers and the legal basis,
the status against WCAG 2.1 AA, what is known not to meet it (each with its success criterion and the way
round it), how the service was assessed and when, and how to report a problem or complain to
Tilsynet for universell utforming av ikt. Every text is in the message catalogues (``a11y.*``).
"""

from __future__ import annotations

from aiohttp import web

from web.rendering import render

KNOWN_GAPS = (
    ("1.2.4", "captions_live"),
    ("1.2.2", "captions_recorded"),
    ("1.2.5", "audio_description"),
    ("3.1.2", "nynorsk"),
)
"""(WCAG success criterion, message key part) for what is known not to meet WCAG 2.1 AA, or the language act."""
ASSESSED_ON = "2026-11-29"


async def statement(request: web.Request) -> web.Response:
    return render(request, "accessibility.html", gaps=KNOWN_GAPS, assessed_on=ASSESSED_ON)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/tilgjengelighet", statement)
    app.router.add_get("/accessibility", statement)
