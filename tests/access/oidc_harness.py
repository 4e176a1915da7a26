"""A real HTTP setup for the login tests: the development identity provider and a small relying party on
127.0.0.1, a back-channel ClientSession for the OIDC client, and a "browser" ClientSession with a cookie jar."""

from __future__ import annotations

import html
import json
import re
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from web.dev_idp import DevClient, DevIdentityProvider, DevUser, setup_dev_idp
from web.oidc import (
    PENDING_COOKIE,
    LoginRefused,
    OidcClient,
    OidcSettings,
    PendingLoginCookie,
    ProviderError,
    public_jwk,
)

CLIENT_ID = "samhandling-test"
CLIENT_SECRET = "test-client-secret-0123456789"
DEMO_USERS = (
    DevUser("demo-formidler", "Kari Ergo (formidler)"),
    DevUser("demo-tilgangsstyrer", "Tor <Tilgang> & co"),
)


@dataclass
class Harness:
    base: str
    idp: DevIdentityProvider
    client: OidcClient
    back_channel: aiohttp.ClientSession
    browser: aiohttp.ClientSession
    runner: web.AppRunner
    cookie: PendingLoginCookie
    client_key: ec.EllipticCurvePrivateKey
    tamper: list[Callable[[str], str]] = field(default_factory=list)
    """Functions applied to the ID token on its way from the token endpoint (a man in the middle)."""

    @property
    def redirect_uri(self) -> str:
        return f"{self.base}/auth/callback"

    def new_client(self, **changes: object) -> OidcClient:
        values: dict[str, object] = {
            "issuer": self.idp.issuer,
            "client_id": CLIENT_ID,
            "redirect_uri": self.redirect_uri,
            "client_secret": CLIENT_SECRET,
            "allow_http": True,
        }
        values.update(changes)
        return OidcClient(OidcSettings(**values), self.back_channel)  # type: ignore[arg-type]

    async def pick_user(self, authorize_url: str, subject: str = "demo-formidler") -> dict[str, str]:
        """Open the authorize page like a browser, press the user's button; the callback's query parameters."""
        async with self.browser.get(authorize_url) as page:
            assert page.status == 200, await page.text()
            text = await page.text()
        fields = {
            k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', text)
        }
        action = re.search(r'<form method="post" action="([^"]+)">', text)
        assert action is not None
        async with self.browser.post(
            self.base + action.group(1), data={**fields, "subject": subject}, allow_redirects=False
        ) as sent:
            assert sent.status == 302, await sent.text()
            location = sent.headers["Location"]
        assert location.startswith(self.redirect_uri + "?")
        return dict(parse_qsl(location.split("?", 1)[1]))

    async def close(self) -> None:
        await self.browser.close()
        await self.back_channel.close()
        await self.runner.cleanup()


async def start_harness(
    *,
    signing_alg: str = "RS256",
    idp_clock: Callable[[], float] = time.time,
    users: Sequence[DevUser] = DEMO_USERS,
) -> Harness:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    tamper: list[Callable[[str], str]] = []

    @web.middleware
    async def man_in_the_middle(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        if request.path.endswith("/token") and tamper and isinstance(response, web.Response) and response.status == 200:
            assert isinstance(response.body, bytes)
            body = json.loads(response.body)
            for change in tamper:
                body["id_token"] = change(body["id_token"])
            return web.json_response(body)
        return response

    app = web.Application(middlewares=[man_in_the_middle])
    client_key = ec.generate_private_key(ec.SECP256R1())

    async def list_users() -> Sequence[DevUser]:
        return users

    registered = DevClient(
        CLIENT_ID,
        (f"{base}/auth/callback",),
        client_secret=CLIENT_SECRET,
        jwks=(public_jwk(client_key.public_key(), "rp-key-1"),),
        signing_alg=signing_alg,
    )
    idp = setup_dev_idp(
        app, issuer_url=f"{base}/dev-idp", dev_mode=True, clients=[registered], users=list_users, clock=idp_clock
    )
    back_channel = aiohttp.ClientSession()
    cookie = PendingLoginCookie(b"test-server-secret")
    client = OidcClient(
        OidcSettings(
            issuer=idp.issuer,
            client_id=CLIENT_ID,
            redirect_uri=f"{base}/auth/callback",
            client_secret=CLIENT_SECRET,
            allow_http=True,
        ),
        back_channel,
    )

    # A minimal relying party, as the web layer will wire it: login sets the sealed cookie, callback reads it.
    async def login(request: web.Request) -> web.StreamResponse:
        url, pending = await client.begin(request.query.get("next"))
        response = web.HTTPFound(url)
        response.set_cookie(
            PENDING_COOKIE, cookie.seal(pending), max_age=cookie.max_age, httponly=True, samesite="Lax", path="/auth"
        )
        raise response

    async def callback(request: web.Request) -> web.StreamResponse:
        try:
            pending = cookie.open(request.cookies.get(PENDING_COOKIE), time.time())
            result = await client.finish(request.query, pending)
            response = web.json_response(
                {"subject": result.subject, "return_path": result.return_path, "name": result.claims.get("name")}
            )
        except (LoginRefused, ProviderError) as exc:
            response = web.json_response(
                {"code": exc.code, "message": exc.message}, status=400 if isinstance(exc, LoginRefused) else 502
            )
        response.del_cookie(PENDING_COOKIE, path="/auth")
        return response

    app.router.add_get("/auth/login", login)
    app.router.add_get("/auth/callback", callback)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    browser = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    harness = Harness(base, idp, client, back_channel, browser, runner, cookie, client_key, tamper)
    return harness
