"""A local stand-in for Altinn 3's PDP (``/authorization/api/v1/authorize``) speaking its XACML JSON shape.

It refuses a request without the subscription key or the bearer token (401), reads the person, the action,
the resource and the organisation number out of the XACML request like Altinn does (400 when one is missing),
and answers from ``rights``: ``{(person, org number): "Permit" | "Deny" | "NotApplicable" | "Indeterminate"}``
(anything not listed is NotApplicable). ``calls`` counts the questions; ``broken`` makes it answer 500.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from aiohttp import web

SUBSCRIPTION_KEY = "apim-key-for-tests"
TOKEN = "altinn-token-for-tests"
PERSON = "urn:altinn:person:identifier-no"
ORGANISATION = "urn:altinn:organization:identifier-no"
RESOURCE = "urn:altinn:resource"
ACTION = "urn:oasis:names:tc:xacml:1.0:action:action-id"


def _attributes(category: object) -> dict[str, str]:
    if not isinstance(category, list) or len(category) != 1 or not isinstance(category[0], dict):
        return {}
    listed = category[0].get("Attribute")
    if not isinstance(listed, list):
        return {}
    return {str(a.get("AttributeId")): str(a.get("Value")) for a in listed if isinstance(a, dict)}


@dataclass
class FakePdp:
    resource: str
    rights: dict[tuple[str, str], str] = field(default_factory=dict)
    calls: int = 0
    broken: bool = False
    url: str = ""
    _runner: web.AppRunner | None = None

    async def authorize(self, request: web.Request) -> web.Response:
        if (
            request.headers.get("Ocp-Apim-Subscription-Key") != SUBSCRIPTION_KEY
            or request.headers.get("Authorization") != f"Bearer {TOKEN}"
        ):
            return web.json_response({"title": "Unauthorized"}, status=401)
        self.calls += 1
        if self.broken:
            return web.Response(status=500)
        body = await request.json()
        req = body.get("Request", {}) if isinstance(body, dict) else {}
        subject = _attributes(req.get("AccessSubject"))
        action = _attributes(req.get("Action"))
        resource = _attributes(req.get("Resource"))
        if PERSON not in subject or ACTION not in action or RESOURCE not in resource or ORGANISATION not in resource:
            return web.json_response({"title": "Bad request"}, status=400)
        if resource[RESOURCE] != self.resource:
            decision = "NotApplicable"
        else:
            decision = self.rights.get((subject[PERSON], resource[ORGANISATION]), "NotApplicable")
        status = "urn:oasis:names:tc:xacml:1.0:status:ok"
        if decision == "Indeterminate":
            status = "urn:oasis:names:tc:xacml:1.0:status:processing-error"
        return web.json_response({"Response": [{"Decision": decision, "Status": {"StatusCode": {"Value": status}}}]})

    async def start(self) -> FakePdp:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/authorization/api/v1/authorize"
        app = web.Application()
        app.router.add_post("/authorization/api/v1/authorize", self.authorize)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
