"""A small OpenID Connect provider for development and tests, standing in for ID-porten. Never in production.

It implements discovery, JWKS, an authorize page that lists the demo staff to pick from (bokmål, plain
accessible HTML), and a token endpoint that checks the client (``client_secret_post`` or ``private_key_jwt``),
the redirect URI and the PKCE S256 verifier against the challenge before it signs an ID token with an
ephemeral key (RS256 or ES256; new keys on every start). ``setup_dev_idp`` refuses to mount it unless the
caller says development mode is on.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from web.oidc import (
    LoginRefused,
    PrivateKey,
    key_from_jwk,
    parse_jws,
    pkce_challenge,
    public_jwk,
    sign_jws,
    verify_jws,
)

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_PARAM_MAX = 512
TICKET_SECONDS = 600
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class DevIdpDisabled(RuntimeError):
    """Raised when the development identity provider is mounted outside development mode."""


@dataclass(frozen=True, slots=True)
class DevUser:
    subject: str
    display_name: str


@dataclass(frozen=True, slots=True)
class DevClient:
    client_id: str
    redirect_uris: tuple[str, ...]
    client_secret: str | None = field(default=None, repr=False)
    jwks: tuple[Mapping[str, Any], ...] = ()
    """Public keys for ``private_key_jwt`` client authentication."""
    signing_alg: str = "RS256"


UserSource = Callable[[], Awaitable[Sequence[DevUser]]]


@dataclass(frozen=True, slots=True)
class _Grant:
    client_id: str
    redirect_uri: str
    subject: str
    display_name: str
    nonce: str
    challenge: str
    expires: float
    auth_time: int


def _oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response(
        {"error": error, "error_description": description},
        status=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        '<!doctype html>\n<html lang="nb">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)} – Samhandling (utvikling)</title>\n</head>\n<body>\n<main>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )
    return web.Response(text=text, content_type="text/html", status=status, headers={"Cache-Control": "no-store"})


class DevIdentityProvider:
    """The provider's state: ephemeral signing keys, registered clients, pending codes."""

    def __init__(
        self,
        *,
        issuer_url: str,
        clients: Sequence[DevClient],
        users: UserSource,
        clock: Callable[[], float] = time.time,
        code_ttl_s: float = 60,
        token_ttl_s: int = 300,
    ) -> None:
        self.issuer = issuer_url.rstrip("/")
        self.prefix = urlsplit(self.issuer).path
        self._clients = {c.client_id: c for c in clients}
        self._users = users
        self._clock = clock
        self._code_ttl = code_ttl_s
        self._token_ttl = token_ttl_s
        suffix = secrets.token_hex(4)
        self._keys: dict[str, tuple[str, PrivateKey]] = {
            "RS256": (f"dev-rs256-{suffix}", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "ES256": (f"dev-es256-{suffix}", ec.generate_private_key(ec.SECP256R1())),
        }
        self._ticket_key = secrets.token_bytes(32)
        self._codes: dict[str, _Grant] = {}
        self._jtis: dict[str, float] = {}

    def url(self, path: str) -> str:
        return f"{self.issuer}{path}"

    def routes(self) -> list[web.RouteDef]:
        p = self.prefix
        return [
            web.get(f"{p}/.well-known/openid-configuration", self.discovery),
            web.get(f"{p}/jwks", self.jwks),
            web.get(f"{p}/authorize", self.authorize_page),
            web.post(f"{p}/authorize", self.authorize_submit),
            web.post(f"{p}/token", self.token),
        ]

    # -- discovery and keys -----------------------------------------------------------------------------------

    async def discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.url("/authorize"),
                "token_endpoint": self.url("/token"),
                "jwks_uri": self.url("/jwks"),
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": sorted(self._keys),
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "scopes_supported": ["openid", "profile"],
                "authorization_response_iss_parameter_supported": True,
                "ui_locales_supported": ["nb", "nn", "en"],
            }
        )

    async def jwks(self, request: web.Request) -> web.Response:
        keys = [public_jwk(key.public_key(), kid) for kid, key in self._keys.values()]
        return web.json_response({"keys": keys})

    # -- authorize --------------------------------------------------------------------------------------------

    def _ticket(self, fields: Sequence[str]) -> str:
        return hmac.new(self._ticket_key, json.dumps(list(fields)).encode(), hashlib.sha256).hexdigest()

    def _redirect(self, redirect_uri: str, **params: str) -> web.HTTPFound:
        query = urlencode({**params, "iss": self.issuer})
        return web.HTTPFound(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}")

    def _client_and_redirect(self, params: Mapping[str, str]) -> tuple[DevClient, str] | web.Response:
        """The client and its redirect URI, or an error page: a bad redirect URI is never redirected to."""
        client = self._clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if client is None or redirect_uri not in client.redirect_uris:
            return _page(
                "Ugyldig innloggingsforespørsel",
                "<p>Tjenesten som sendte deg hit er ikke registrert, eller tilbakeadressen er feil.</p>",
                status=400,
            )
        return client, redirect_uri

    async def authorize_page(self, request: web.Request) -> web.StreamResponse:
        params = {k: v for k, v in request.query.items() if len(v) <= _PARAM_MAX}
        checked = self._client_and_redirect(params)
        if isinstance(checked, web.Response):
            return checked
        client, redirect_uri = checked
        state = params.get("state", "")
        problem = None
        if params.get("response_type") != "code":
            problem = "response_type must be code"
        elif "openid" not in params.get("scope", "").split():
            problem = "scope must include openid"
        elif params.get("code_challenge_method") != "S256" or not _CHALLENGE.fullmatch(
            params.get("code_challenge", "")
        ):
            problem = "PKCE with S256 is required"
        elif not state or not params.get("nonce"):
            problem = "state and nonce are required"
        if problem is not None:
            raise self._redirect(redirect_uri, error="invalid_request", error_description=problem, state=state)
        issued = str(int(self._clock()))
        fields = [client.client_id, redirect_uri, state, params["nonce"], params["code_challenge"], issued]
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">\n'
            for name, value in zip(
                ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "issued"), fields, strict=True
            )
        )
        hidden += f'<input type="hidden" name="ticket" value="{self._ticket(fields)}">\n'
        users = await self._users()
        buttons = "".join(
            f'<li><button type="submit" name="subject" value="{html.escape(u.subject)}">'
            f"Logg inn som {html.escape(u.display_name)}</button></li>\n"
            for u in users
        )
        body = (
            "<p>Dette er den innebygde innloggingen for utvikling og test. I drift logger ansatte inn med "
            "ID-porten, og denne siden finnes ikke.</p>\n"
            f'<form method="post" action="{html.escape(self.prefix)}/authorize">\n{hidden}'
            '<h2 id="velg">Velg en demo-ansatt</h2>\n'
            f'<ul aria-labelledby="velg">\n{buttons}</ul>\n'
            '<p><button type="submit" name="cancel" value="1">Avbryt innloggingen</button></p>\n</form>'
        )
        return _page("Logg inn (utvikling)", body)

    async def authorize_submit(self, request: web.Request) -> web.StreamResponse:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str) and len(v) <= _PARAM_MAX}
        checked = self._client_and_redirect(form)
        if isinstance(checked, web.Response):
            return checked
        client, redirect_uri = checked
        names = ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "issued")
        fields = [form.get(name, "") for name in names]
        fresh = fields[5].isdigit() and self._clock() - int(fields[5]) <= TICKET_SECONDS
        if not fresh or not hmac.compare_digest(form.get("ticket", ""), self._ticket(fields)):
            return _page(
                "Innloggingen er utløpt", "<p>Gå tilbake til tjenesten og start innloggingen på nytt.</p>", 400
            )
        state = fields[2]
        if form.get("cancel"):
            raise self._redirect(redirect_uri, error="access_denied", state=state)
        user = next((u for u in await self._users() if u.subject == form.get("subject")), None)
        if user is None:
            return _page("Ukjent bruker", "<p>Velg en av demo-ansatte på listen.</p>", 400)
        now = self._clock()
        self._codes = {c: g for c, g in self._codes.items() if g.expires > now}
        if len(self._codes) >= 1000:
            return _page("For mange innlogginger", "<p>Prøv igjen om et minutt.</p>", 503)
        code = secrets.token_urlsafe(32)
        self._codes[code] = _Grant(
            client.client_id,
            redirect_uri,
            user.subject,
            user.display_name,
            fields[3],
            fields[4],
            now + self._code_ttl,
            int(now),
        )
        raise self._redirect(redirect_uri, code=code, state=state)

    # -- token ------------------------------------------------------------------------------------------------

    def _authenticate(self, form: Mapping[str, str]) -> DevClient | None:
        client = self._clients.get(form.get("client_id", ""))
        if client is None:
            return None
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            return client if self._assertion_ok(client, form.get("client_assertion", "")) else None
        secret = form.get("client_secret")
        if client.client_secret and secret and hmac.compare_digest(secret.encode(), client.client_secret.encode()):
            return client
        return None

    def _assertion_ok(self, client: DevClient, assertion: str) -> bool:
        try:
            jws = parse_jws(assertion)
        except LoginRefused:
            return False
        keys = [parsed for jwk in client.jwks if (parsed := key_from_jwk(jwk)) is not None]
        kid = jws.header.get("kid")
        verified = False
        for key_id, _alg, key in keys:
            if kid is not None and key_id != kid:
                continue
            try:
                verify_jws(jws, key)
                verified = True
                break
            except LoginRefused:
                continue
        claims, now = jws.claims, self._clock()
        exp, iat, jti = claims.get("exp"), claims.get("iat"), claims.get("jti")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        self._jtis = {j: t for j, t in self._jtis.items() if t > now}
        ok = (
            verified
            and claims.get("iss") == client.client_id
            and claims.get("sub") == client.client_id
            and (self.issuer in audiences or self.url("/token") in audiences)
            and isinstance(exp, int)
            and isinstance(iat, int)
            and iat - 60 <= now < exp <= iat + 120
            and isinstance(jti, str)
            and jti not in self._jtis
        )
        if ok:
            self._jtis[str(jti)] = float(exp) if isinstance(exp, int) else now
        return ok

    async def token(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str) and len(v) <= 4096}
        client = self._authenticate(form)
        if client is None:
            return _oauth_error("invalid_client", "client authentication failed", 401)
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type", "only authorization_code")
        grant = self._codes.pop(form.get("code", ""), None)  # single use, also when the rest fails
        now = self._clock()
        if grant is None or grant.expires <= now:
            return _oauth_error("invalid_grant", "unknown, used or expired code")
        if grant.client_id != client.client_id or grant.redirect_uri != form.get("redirect_uri"):
            return _oauth_error("invalid_grant", "code was issued to another client or redirect_uri")
        verifier = form.get("code_verifier", "")
        if not _VERIFIER.fullmatch(verifier) or not hmac.compare_digest(pkce_challenge(verifier), grant.challenge):
            return _oauth_error("invalid_grant", "PKCE verification failed")
        kid, key = self._keys.get(client.signing_alg, self._keys["RS256"])
        issued_at = int(now)
        id_token = sign_jws(
            {
                "iss": self.issuer,
                "sub": grant.subject,
                "aud": client.client_id,
                "iat": issued_at,
                "exp": issued_at + self._token_ttl,
                "auth_time": grant.auth_time,
                "nonce": grant.nonce,
                "acr": "idporten-loa-substantial",
                "amr": ["dev"],
                "name": grant.display_name,
            },
            key,
            kid,
        )
        return web.json_response(
            {
                "access_token": secrets.token_urlsafe(32),
                "token_type": "Bearer",
                "expires_in": self._token_ttl,
                "scope": "openid",
                "id_token": id_token,
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )


DEV_IDP = web.AppKey("dev_idp", DevIdentityProvider)


def setup_dev_idp(
    app: web.Application,
    *,
    issuer_url: str,
    dev_mode: bool,
    clients: Sequence[DevClient],
    users: UserSource,
    clock: Callable[[], float] = time.time,
) -> DevIdentityProvider:
    """Mount the development provider under the path of ``issuer_url`` (e.g. ``http://127.0.0.1:8080/dev-idp``).

    Raises DevIdpDisabled when ``dev_mode`` is False: a production server must never serve it.
    """
    if dev_mode is not True:
        raise DevIdpDisabled("The development identity provider is only available in development mode.")
    idp = DevIdentityProvider(issuer_url=issuer_url, clients=clients, users=users, clock=clock)
    if not idp.prefix:
        raise ValueError("issuer_url must have a path, e.g. /dev-idp")
    app.router.add_routes(idp.routes())
    app[DEV_IDP] = idp
    return idp
