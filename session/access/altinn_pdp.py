"""The Altinn 3 Policy Decision Point as an ``AuthorizationProvider``: one XACML 3.0 JSON request per question.

The request names the person (``urn:altinn:person:identifier-no``), the action, the resource in Altinn's
resource registry (``urn:altinn:resource``) and the party the right is held for, the unit's organisation number
(``urn:altinn:organization:identifier-no``); it is sent to ``…/authorization/api/v1/authorize`` with the API
subscription key (``Ocp-Apim-Subscription-Key``) and an Altinn token (``Authorization: Bearer``, exchanged from
Maskinporten by the operator's token source). Only ``Permit`` with status ``ok`` permits; ``Deny``,
``NotApplicable``, ``Indeterminate``, an error status, a malformed answer or no answer all refuse (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from session.access.authorization import Decision, Outcome, RightQuery

PERSON_ID = "urn:altinn:person:identifier-no"
ORGANISATION_ID = "urn:altinn:organization:identifier-no"
RESOURCE_ID = "urn:altinn:resource"
ACTION_ID = "urn:oasis:names:tc:xacml:1.0:action:action-id"
STATUS_OK = "urn:oasis:names:tc:xacml:1.0:status:ok"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
MAX_RESPONSE_BYTES = 64 * 1024

TokenSource = Callable[[], Awaitable[str]]
"""Returns a current Altinn token (the operator's Maskinporten exchange; a fixed string in tests)."""


def xacml_request(query: RightQuery) -> dict[str, Any]:
    """The XACML 3.0 JSON profile request Altinn's PDP reads."""

    def attribute(attribute_id: str, value: str) -> dict[str, str]:
        return {"AttributeId": attribute_id, "Value": value, "DataType": XSD_STRING}

    return {
        "Request": {
            "ReturnPolicyIdList": False,
            "AccessSubject": [{"Attribute": [attribute(PERSON_ID, query.person_id)]}],
            "Action": [{"Attribute": [attribute(ACTION_ID, query.action)]}],
            "Resource": [
                {"Attribute": [attribute(RESOURCE_ID, query.resource), attribute(ORGANISATION_ID, query.org_number)]}
            ],
        }
    }


def read_decision(body: object) -> Outcome:
    """PERMIT only for a single result ``Permit`` with an ok status; DENY for any other well-formed answer."""
    if not isinstance(body, dict) or not isinstance(body.get("Response"), list) or not body["Response"]:
        return Outcome.ERROR
    results = body["Response"]
    if not all(isinstance(r, dict) for r in results):
        return Outcome.ERROR
    for result in results:
        status = _status_of(result)
        if result.get("Decision") != "Permit" or status != STATUS_OK:
            return Outcome.ERROR if result.get("Decision") == "Indeterminate" else Outcome.DENY
    return Outcome.PERMIT


def _status_of(result: dict[str, Any]) -> object:
    status = result.get("Status")
    if status is None:
        return STATUS_OK
    code = status.get("StatusCode") if isinstance(status, dict) else None
    return code.get("Value") if isinstance(code, dict) else None


class AltinnPdp:
    """Asks Altinn's PDP. ``url`` is the full authorize endpoint (TT02 or production)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        *,
        subscription_key: str,
        token: TokenSource,
        timeout_s: float = 5.0,
    ) -> None:
        self._http = http
        self._url = url
        self._subscription_key = subscription_key
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def decide(self, query: RightQuery) -> Decision:
        if not query.person_id:  # not logged in through ID-porten in this process: nothing to ask with
            return Decision(Outcome.ERROR, "altinn")
        try:
            headers = {
                "Ocp-Apim-Subscription-Key": self._subscription_key,
                "Authorization": f"Bearer {await self._token()}",
                "Accept": "application/json",
            }
            async with self._http.post(
                self._url, json=xacml_request(query), headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                if response.status != 200:
                    return Decision(Outcome.ERROR, "altinn")
                raw = await response.content.read(MAX_RESPONSE_BYTES + 1)
            if len(raw) > MAX_RESPONSE_BYTES:
                return Decision(Outcome.ERROR, "altinn")
            return Decision(read_decision(json.loads(raw)), "altinn")
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return Decision(Outcome.ERROR, "altinn")
