"""A local OpenID Connect provider that behaves like ID-porten or Entra ID, on a real port on 127.0.0.1.

It serves discovery, a JWKS, pushed authorization requests (RFC 9126, ID-porten requires them), an authorize
endpoint that logs the configured person in at once (as a provider does after its own login page), and a
token endpoint that checks the client secret, the redirect URI and the PKCE verifier before it signs an ID
token (RS256) with the claims the real provider issues: ``acr``/``amr``/``pid`` for ID-porten, ``oid``/``tid``/
``groups``/``preferred_username`` for Entra ID. What the tests want to observe (the pushed and the authorize
requests) is kept in lists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from web.oidc import public_jwk, sign_jws

CLIENT_SECRET = "provider-test-secret-0123456789"


@dataclass
class FakeProvider:
    """One running provider. Change ``person`` (claims) or ``acr`` between logins to shape the next token."""

    kind: str
    """"idporten" or "entra"."""
    client_id: str
    redirect_uris: tuple[str, ...]
    issuer: str = ""
    person: dict[str, Any] = field(default_factory=dict)
    acr: str = "idporten-loa-substantial"
    pushed: list[dict[str, str]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    _requests: dict[str, tuple[float, dict[str, str]]] = field(default_factory=dict)
    _codes: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def par(self) -> bool:
        return self.kind == "idporten"

    def _client_ok(self, form: Any) -> bool:
        secret = str(form.get("client_secret", ""))
        return form.get("client_id") == self.client_id and hmac.compare_digest(secret, CLIENT_SECRET)

    async def discovery(self, request: web.Request) -> web.Response:
        doc: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        if self.par:
            doc |= {
                "pushed_authorization_request_endpoint": f"{self.issuer}/par",
                "require_pushed_authorization_requests": True,
                "acr_values_supported": ["idporten-loa-substantial", "idporten-loa-high"],
                "authorization_response_iss_parameter_supported": True,
            }
        return web.json_response(doc)

    async def jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [public_jwk(self._key.public_key(), "fake-1")]})

    async def push(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if not self._client_ok(form):
            return web.json_response({"error": "invalid_client"}, status=401)
        if "request_uri" in form or form.get("code_challenge_method") != "S256":
            return web.json_response({"error": "invalid_request"}, status=400)
        self.pushed.append(form)
        request_uri = f"urn:ietf:params:oauth:request_uri:{secrets.token_urlsafe(16)}"
        self._requests[request_uri] = (time.time() + 60, form)
        return web.json_response({"request_uri": request_uri, "expires_in": 60}, status=201)

    async def authorize(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.authorize_requests.append(query)
        if self.par:
            stored = self._requests.pop(query.get("request_uri", ""), None)  # single use
            if stored is None or stored[0] < time.time() or query.get("client_id") != self.client_id:
                return web.json_response({"error": "invalid_request_uri"}, status=400)
            params = stored[1]
        else:
            params = query
        if params.get("redirect_uri") not in self.redirect_uris or params.get("client_id") != self.client_id:
            return web.json_response({"error": "invalid_request"}, status=400)
        code = secrets.token_urlsafe(24)
        self._codes[code] = params
        back = {"code": code, "state": params.get("state", "")}
        if self.par:
            back["iss"] = self.issuer
        raise web.HTTPFound(f"{params['redirect_uri']}?{urlencode(back)}")

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if not self._client_ok(form):
            return web.json_response({"error": "invalid_client"}, status=401)
        params = self._codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if (
            params is None
            or params["redirect_uri"] != form.get("redirect_uri")
            or challenge != params.get("code_challenge")
        ):
            return web.json_response({"error": "invalid_grant"}, status=400)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 120,
            "nonce": params.get("nonce"),
            **self.person,
        }
        if self.kind == "idporten":
            claims |= {"acr": self.acr, "amr": ["BankID"], "locale": "nb", "sid": secrets.token_urlsafe(8)}
        else:
            claims |= {"ver": "2.0", "tid": "tenant-0000", "azp": self.client_id}
        return web.json_response(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 120,
                "id_token": sign_jws(claims, self._key, "fake-1"),
            }
        )

    async def start(self) -> FakeProvider:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        root = "/idporten" if self.kind == "idporten" else "/tenant-0000/v2.0"
        self.issuer = f"http://127.0.0.1:{sock.getsockname()[1]}{root}"
        app = web.Application()
        app.router.add_get(f"{root}/.well-known/openid-configuration", self.discovery)
        app.router.add_get(f"{root}/jwks", self.jwks)
        app.router.add_post(f"{root}/par", self.push)
        app.router.add_get(f"{root}/authorize", self.authorize)
        app.router.add_post(f"{root}/token", self.token)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
