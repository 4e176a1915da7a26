"""Every route, every role, hostile input: the server answers 4xx with a reason, never 5xx, and logs no crash.

The requests are drawn from a seeded generator (reproducible: the seed is in the failure message) over the
app's own route table, so a new route is fuzzed without anyone remembering to add it. Path parameters get real
ids of the demo meeting, other organisations' ids, 25-digit numbers, text and junk; bodies get forms with and
without a valid CSRF token, invalid UTF-8, oversized fields and JSON where a form is expected.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter
from urllib.parse import urlencode

import aiohttp
import pytest

from tests.live_server import LiveServer, create_meeting, csrf_of, staff_client

pytestmark = pytest.mark.slow

REQUESTS = 2100
ROLES = (1, 2, 3, 4, 5, 6, 7)  # every demo staff member (each holds a different right), plus anonymous
SEED = 20261129


def _junk(rng: random.Random) -> str:
    return rng.choice(
        [
            "",
            "0",
            "1",
            "-1",
            "9" * 25,
            "abc",
            "../../etc/passwd",
            "%00",
            "ø" * 300,
            "x" * 5000,
            "<script>",
            "01019912345",
            "1e309",
            "null",
            "\u202e",
        ]
    )


def _path(template: str, rng: random.Random, real: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        choices = [real.get(name, ""), _junk(rng), str(rng.randint(0, 10 ** rng.randint(1, 25)))]
        if name == "token":
            choices.append(real["token"])
        value = rng.choice(choices) or "1"
        return re.sub(r"[/?#]", "_", value)[:300]

    return re.sub(r"\{([^}]+)\}", fill, template)


def _body(rng: random.Random, csrf: str | None) -> tuple[bytes, str]:
    kind = rng.randrange(5)
    if kind == 0:
        return b"\xff\xfe\xfa" * rng.randint(1, 50), "application/x-www-form-urlencoded"
    if kind == 1:
        return b'{"a": [[[[[[1e999]]]]]]}', "application/json"
    fields = [("csrf", csrf or _junk(rng))] if rng.random() < 0.8 else []
    for name in rng.sample(
        ["topic", "kind", "roles", "role", "code", "pin", "reason", "staff_id", "org", "org_number", "name",
         "enabled", "municipality", "starts_at", "ends_at", "serial_numbers", "outcome", "id", "subject", "days"],
        rng.randint(0, 6),
    ):  # fmt: skip
        fields.append((name, _junk(rng)))
    return urlencode(fields).encode(), "application/x-www-form-urlencoded"


async def test_no_request_from_any_role_makes_the_server_fail(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    kari = await staff_client(server, 1)
    links = await create_meeting(kari, server, ["bruker"])
    token = links["bruker"].rsplit("/", 1)[1]
    async with kari.get(f"{server.url}/staff") as resp:
        page = await resp.text()
    meeting_id = re.search(r"/staff/meetings/([0-9a-f]+)/", page)
    assert meeting_id
    real = {"meeting_id": meeting_id.group(1), "token": token, "id": "1", "centre_id": "3", "department": "teknisk"}

    clients: dict[int, aiohttp.ClientSession] = {0: aiohttp.ClientSession()}
    csrf: dict[int, str | None] = {0: None}
    for staff_id in ROLES:
        clients[staff_id] = await staff_client(server, staff_id)
        async with clients[staff_id].get(f"{server.url}/staff") as resp:
            csrf[staff_id] = csrf_of(await resp.text())

    routes: list[tuple[str, str]] = []
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("formatter") or info.get("path")
        if not template or route.method == "HEAD" or template.startswith(("/static", "/vendor")):
            continue
        if template.endswith("/ws"):
            continue  # WebSockets are fuzzed by the signalling fuzz
        methods = ["GET", "POST"] if route.method == "*" else [route.method]
        routes += [(m, template) for m in methods]
    assert len({t for _, t in routes}) >= 40, "the route table is smaller than expected"

    rng = random.Random(SEED)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    try:
        for n in range(REQUESTS):
            method, template = routes[n % len(routes)] if n < len(routes) * 2 else rng.choice(routes)
            who = rng.choice([0, *ROLES])
            url = f"{server.url}{_path(template, rng, real)}"
            if rng.random() < 0.2:
                url += f"?lang={_junk(rng)}&mode={_junk(rng)}"
            body, content_type = _body(rng, csrf[who]) if method == "POST" else (b"", "")
            headers = {"Content-Type": content_type} if content_type else {}
            try:
                async with clients[who].request(
                    method, url, data=body or None, headers=headers, allow_redirects=False
                ) as resp:
                    await resp.read()
                    statuses[resp.status] += 1
                    if resp.status >= 500:
                        failures.append(f"{method} {template} as {who}: {resp.status}")
            except aiohttp.InvalidURL:
                statuses[0] += 1
    finally:
        for client in clients.values():
            await client.close()
    crashes = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert sum(statuses.values()) >= 2000
    assert not failures, f"seed {SEED}: {failures[:20]}"
    assert not crashes, crashes[:5]
    assert statuses[200] + statuses[302] + statuses[303] > 50  # some requests were also allowed through
