"""Staff login with OpenID Connect: authorization code flow with PKCE (S256), as ID-porten works.

The client discovers the provider from its issuer (``/.well-known/openid-configuration``), sends the browser to
the authorize endpoint with a fresh ``state``, ``nonce`` and PKCE challenge, and on the callback checks the
state, exchanges the code with the PKCE verifier at the token endpoint (``client_secret_post`` or
``private_key_jwt``) and validates the ID token: signature against the provider's JWKS (RS256 or ES256 only),
issuer, audience, expiry, issue time and nonce. What it returns is the subject; who that subject is in this
service is the session layer's business.

The pending login (state, nonce, verifier, return path) lives in an encrypted, authenticated, short-lived
cookie (``PendingLoginCookie``), so the server keeps no login state and the verifier never reaches the page.
Every refusal raises ``LoginRefused`` (the attempt is wrong: 400) or ``ProviderError`` (the provider is
unreachable or misbehaves: 502), each with a stable ``code`` and a Norwegian message for people.

Signatures, JWKs and the registered claims (iss, aud, exp, nbf, iat) are joserfc's work; this module adds the
OpenID Connect rules on top (discovery, PKCE, nonce, azp, maximum token age, acr) and the stable error codes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jws as jose_jws
from joserfc import jwt as jose_jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError, SecurityWarning
from joserfc.jwk import ECKey, RSAKey

PENDING_COOKIE = "samhandling_login"
PENDING_SECONDS = 600
MAX_RESPONSE_BYTES = 256 * 1024
ALLOWED_ALGS = frozenset({"RS256", "ES256"})
DEFAULT_RETURN = "/staff"

PublicKey = RSAKey | ECKey
"""A verification key as joserfc holds it."""
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# --- errors ---------------------------------------------------------------------------------------------------

MESSAGES: dict[str, str] = {
    "state_mismatch": "Svaret fra innloggingen hører ikke til denne innloggingen. Start innloggingen på nytt.",
    "login_expired": "Innloggingen tok for lang tid, eller ble startet i en annen nettleser. Start på nytt.",
    "idp_error": "Innloggingen ble avbrutt eller avvist hos innloggingstjenesten.",
    "missing_code": "Svaret fra innloggingen mangler autorisasjonskoden. Start innloggingen på nytt.",
    "token_refused": (
        "Innloggingstjenesten godtok ikke innloggingen (koden er brukt eller utløpt, eller PKCE-verifikatoren "
        "stemmer ikke). Start innloggingen på nytt."
    ),
    "malformed_token": "Identitetsbeviset fra innloggingstjenesten har feil format.",
    "unsupported_alg": "Identitetsbeviset er signert med en algoritme tjenesten ikke godtar.",
    "unknown_key": "Identitetsbeviset er signert med en nøkkel innloggingstjenesten ikke har publisert.",
    "bad_signature": "Signaturen på identitetsbeviset er ugyldig. Innloggingen er avvist.",
    "issuer_mismatch": "Identitetsbeviset kommer fra en annen utsteder enn den tjenesten stoler på.",
    "audience_mismatch": "Identitetsbeviset er ikke utstedt til denne tjenesten.",
    "expired": "Identitetsbeviset er utløpt. Start innloggingen på nytt.",
    "not_yet_valid": "Identitetsbeviset er ikke gyldig ennå. Sjekk klokken på serveren.",
    "nonce_mismatch": "Identitetsbeviset hører ikke til denne innloggingen (nonce stemmer ikke).",
    "missing_subject": "Identitetsbeviset mangler brukeridentitet.",
    "acr_insufficient": "Innloggingen har for lavt sikkerhetsnivå for denne tjenesten.",
    "discovery_failed": "Innloggingstjenesten kunne ikke nås eller svarte med feil oppsett. Prøv igjen senere.",
    "token_endpoint_failed": "Innloggingstjenesten svarte ikke som forventet. Prøv igjen senere.",
    "client_rejected": "Tjenesten ble ikke godkjent av innloggingstjenesten. Kontakt driftsansvarlig.",
    "par_failed": "Innloggingstjenesten tok ikke imot innloggingsforespørselen. Prøv igjen senere.",
}


class OidcError(Exception):
    """Base class: ``code`` is stable for logs and tests, ``message`` (= str) is Norwegian for people."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        self.code = code
        self.message = MESSAGES.get(code, "Innloggingen feilet.")
        self.detail = detail
        """A short machine detail for logs (never a token, code or subject)."""
        super().__init__(self.message)


class LoginRefused(OidcError):
    """The login attempt is refused: wrong state, verifier, signature, nonce, an expired token … (400)."""


class ProviderError(OidcError):
    """The provider is unreachable, misconfigured, or answered outside the protocol (502)."""


# --- JOSE pieces on joserfc (also used by the development identity provider) ------------------------------


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding; ValueError for anything else."""
    if not text.isascii() or any(c not in _B64URL for c in text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def new_pkce_verifier() -> str:
    """43-128 characters from the unreserved set (RFC 7636); 64 characters, 384 bits."""
    return secrets.token_urlsafe(48)


def pkce_challenge(verifier: str) -> str:
    """The S256 challenge: base64url(SHA-256(ASCII(verifier)))."""
    return b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())


def _jose_key(key: PrivateKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> PublicKey:
    """Our own key in joserfc's wrapper. Key sizes are judged where foreign keys are accepted (``key_from_jwk``),
    so joserfc's warning about a short RSA key is not wanted here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            return RSAKey.import_key(key)
        return ECKey.import_key(key)


def public_jwk(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, kid: str) -> dict[str, str]:
    """The public key as a JWK with ``kid``, ``use`` and ``alg``."""
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("only P-256 keys are supported")
    alg = "RS256" if isinstance(key, rsa.RSAPublicKey) else "ES256"
    return {str(k): str(v) for k, v in _jose_key(key).as_dict(private=False, kid=kid, use="sig", alg=alg).items()}


def key_from_jwk(jwk: Mapping[str, Any]) -> tuple[str | None, str, PublicKey] | None:
    """(kid, alg, key) for an RSA (>= 2048 bits) or P-256 signing key; None for keys this client cannot use."""
    if jwk.get("use", "sig") != "sig":
        return None
    kid = jwk.get("kid")
    kid = kid if isinstance(kid, str) else None
    try:
        if jwk.get("kty") == "RSA" and jwk.get("alg", "RS256") == "RS256":
            if len(b64url_decode(str(jwk["n"])).lstrip(b"\0")) < 256:
                return None  # under 2048 bits
            rsa_key = RSAKey.import_key(dict(jwk))
            if rsa_key.is_private:
                return None
            return kid, "RS256", rsa_key
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256" and jwk.get("alg", "ES256") == "ES256":
            ec_key = ECKey.import_key(dict(jwk))
            return None if ec_key.is_private else (kid, "ES256", ec_key)
    except (JoseError, KeyError, ValueError, TypeError):
        return None
    return None


def private_key_from_jwk(raw: str) -> tuple[PrivateKey, str]:
    """(key, kid) from a private RSA or P-256 JWK in JSON, for ``private_key_jwt``; ValueError otherwise."""
    try:
        data = json.loads(raw)
        kid = data.get("kid") if isinstance(data, dict) else None
        key = (RSAKey if data.get("kty") == "RSA" else ECKey).import_key(data)
    except (JoseError, ValueError, TypeError, AttributeError):
        raise ValueError("not a JWK") from None
    private = key.private_key
    if not isinstance(kid, str) or not kid or not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("not a private signing key with a kid")
    return private, kid


def sign_jws(claims: Mapping[str, Any], key: PrivateKey, kid: str) -> str:
    """A compact JWS (a signed JWT) over ``claims``: RS256 for an RSA key, ES256 for a P-256 key."""
    alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    return jose_jwt.encode({"alg": alg, "kid": kid, "typ": "JWT"}, dict(claims), _jose_key(key), algorithms=[alg])


@dataclass(frozen=True, slots=True)
class Jws:
    header: dict[str, Any]
    claims: dict[str, Any]
    token: str = field(repr=False)


def parse_jws(token: str) -> Jws:
    """The parts of a compact JWS, unverified; LoginRefused("malformed_token") when it is not one."""
    if not token or len(token) > 16 * 1024 or token.count(".") != 2:
        raise LoginRefused("malformed_token")
    try:
        extracted = jose_jws.extract_compact(token.encode())
        claims = json.loads(extracted.payload)
    except (JoseError, ValueError):
        raise LoginRefused("malformed_token") from None
    header = dict(extracted.headers())
    if not isinstance(claims, dict):
        raise LoginRefused("malformed_token")
    return Jws(header, claims, token)


def verify_jws(jws: Jws, key: PublicKey) -> None:
    """Check the signature with ``key`` for the header's algorithm; LoginRefused otherwise."""
    alg = jws.header.get("alg")
    if alg not in ALLOWED_ALGS or "crit" in jws.header:
        raise LoginRefused("unsupported_alg", str(alg)[:16])
    try:
        jose_jws.deserialize_compact(jws.token, key, algorithms=[str(alg)])
    except JoseError:
        raise LoginRefused("bad_signature") from None


_CLAIM_CODES = {"iss": "issuer_mismatch", "aud": "audience_mismatch", "nbf": "not_yet_valid", "iat": "not_yet_valid"}


def check_registered_claims(claims: dict[str, Any], *, issuer: str, audience: str, now: float, leeway: int) -> None:
    """``iss``, ``aud``, ``exp``, ``nbf`` and ``iat`` by joserfc's claims registry, mapped to stable codes."""
    registry = jose_jwt.JWTClaimsRegistry(
        now=int(now),
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        iat={"essential": True},
    )
    for name in ("exp", "iat", "nbf"):  # JSON booleans pass as numbers in Python; refuse them first
        if isinstance(claims.get(name), bool):
            raise LoginRefused("malformed_token", "times")
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise LoginRefused("expired") from None
    except MissingClaimError as exc:
        first = exc.claim.split(",")[0]
        raise LoginRefused(_CLAIM_CODES.get(first, "malformed_token"), "missing " + first) from None
    except InvalidClaimError as exc:
        numeric = "NumericDate" in str(exc)
        raise LoginRefused("malformed_token" if numeric else _CLAIM_CODES.get(exc.claim, "malformed_token")) from None


# --- settings, provider metadata, pending logins ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OidcSettings:
    issuer: str
    """Exactly as the provider names itself, e.g. ``https://idporten.no``."""
    client_id: str
    redirect_uri: str
    """This service's callback, registered with the provider, e.g. ``https://…/auth/callback``."""
    client_secret: str | None = field(default=None, repr=False)
    auth_method: str = "client_secret_post"
    """``client_secret_post`` or ``private_key_jwt`` (ID-porten's recommended method)."""
    client_key: PrivateKey | None = field(default=None, repr=False)
    client_key_id: str | None = None
    scopes: tuple[str, ...] = ("openid",)
    acr_values: str | None = None
    """Requested level, e.g. ``idporten-loa-substantial``."""
    accepted_acr: frozenset[str] | None = None
    """When set, an ID token whose ``acr`` is not in this set is refused."""
    use_par: bool = True
    """Push the authorization request when the provider advertises a PAR endpoint."""
    ui_locales: str = "nb"
    allow_http: bool = False
    """Plain http for the provider (development identity provider on 127.0.0.1 only)."""
    leeway_s: int = 60
    max_token_age_s: int = 600
    http_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.auth_method == "client_secret_post":
            if not self.client_secret:
                raise ValueError("client_secret_post needs a client secret")
        elif self.auth_method == "private_key_jwt":
            if self.client_key is None or not self.client_key_id:
                raise ValueError("private_key_jwt needs a client key and its key id")
        else:
            raise ValueError("auth_method must be client_secret_post or private_key_jwt")
        if "openid" not in self.scopes:
            raise ValueError("the scopes must include openid")


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None
    iss_parameter_supported: bool = False
    pushed_authorization_request_endpoint: str | None = None
    """RFC 9126 PAR: when advertised, the authorization request is posted here first (ID-porten does)."""


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """What the callback needs to finish one login; kept in the encrypted cookie between the two requests."""

    state: str
    nonce: str
    verifier: str = field(repr=False)
    return_path: str
    created: float


@dataclass(frozen=True, slots=True)
class LoginResult:
    subject: str
    return_path: str
    claims: Mapping[str, Any] = field(repr=False)
    id_token: str = field(repr=False)
    """Kept only as ``id_token_hint`` for the provider's logout."""


def safe_return_path(path: str | None) -> str:
    """A local path to return to after login; anything that could leave the site becomes the default."""
    if (
        not path
        or len(path) > 200
        or not path.startswith("/")
        or path.startswith("//")
        or "\\" in path
        or not path.isprintable()
        or urlsplit(path).netloc
    ):
        return DEFAULT_RETURN
    return path


class PendingLoginCookie:
    """Seals a ``PendingLogin`` with AES-256-GCM under a key derived from the server secret.

    Set it HttpOnly, Secure, SameSite=Lax (the callback is a top-level navigation from the provider's site),
    path ``/auth``, max-age ``PENDING_SECONDS``; delete it in the callback whatever the outcome.
    """

    def __init__(self, secret: bytes, *, max_age: int = PENDING_SECONDS) -> None:
        self._aead = AESGCM(hmac.new(secret, b"samhandling-oidc-pending", hashlib.sha256).digest())
        self.max_age = max_age

    def seal(self, pending: PendingLogin) -> str:
        body = json.dumps(
            [pending.state, pending.nonce, pending.verifier, pending.return_path, pending.created],
            separators=(",", ":"),
        ).encode()
        nonce = secrets.token_bytes(12)
        return b64url_encode(nonce + self._aead.encrypt(nonce, body, b"pending-login-v1"))

    def open(self, value: str | None, now: float) -> PendingLogin:
        """The pending login in the cookie; LoginRefused("login_expired") when missing, altered or too old."""
        if not value or len(value) > 2048:
            raise LoginRefused("login_expired", "no pending login")
        try:
            raw = b64url_decode(value)
            body = json.loads(self._aead.decrypt(raw[:12], raw[12:], b"pending-login-v1"))
            state, nonce, verifier, return_path, created = body
            pending = PendingLogin(str(state), str(nonce), str(verifier), str(return_path), float(created))
        except (ValueError, InvalidTag, TypeError):
            raise LoginRefused("login_expired", "pending login unreadable") from None
        if not (pending.created - 60 <= now <= pending.created + self.max_age):
            raise LoginRefused("login_expired", "pending login too old")
        return pending


# --- the client ---------------------------------------------------------------------------------------------------


class OidcClient:
    """One relying party at one provider. Create once per application; ``http`` is the app's ClientSession."""

    def __init__(
        self,
        settings: OidcSettings,
        http: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.time,
        metadata_ttl_s: float = 3600,
    ) -> None:
        self.settings = settings
        self._http = http
        self._clock = clock
        self._metadata_ttl = metadata_ttl_s
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._keys: tuple[float, dict[str | None, list[tuple[str, PublicKey]]]] | None = None

    # -- HTTP --

    def _check_url(self, url: object) -> str:
        if not isinstance(url, str):
            raise ProviderError("discovery_failed", "endpoint missing")
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (scheme == "http" and self.settings.allow_http):
            raise ProviderError("discovery_failed", "endpoint not https")
        return url

    async def _json(self, response: aiohttp.ClientResponse, failure: str) -> dict[str, Any]:
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > MAX_RESPONSE_BYTES:
                raise ProviderError(failure, "response too large")
        try:
            data = json.loads(body)
        except ValueError:
            raise ProviderError(failure, "response not json") from None
        if not isinstance(data, dict):
            raise ProviderError(failure, "response not an object")
        return data

    async def _get_json(self, url: str, failure: str) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=self.settings.http_timeout_s)
        try:
            async with self._http.get(url, timeout=timeout, allow_redirects=False) as response:
                if response.status != 200:
                    raise ProviderError(failure, f"status {response.status}")
                return await self._json(response, failure)
        except (aiohttp.ClientError, TimeoutError):
            raise ProviderError(failure, "unreachable") from None

    # -- discovery and keys --

    async def metadata(self) -> ProviderMetadata:
        """The provider's configuration, fetched from its issuer and cached for ``metadata_ttl_s``."""
        now = self._clock()
        if self._metadata is not None and now - self._metadata[0] < self._metadata_ttl:
            return self._metadata[1]
        issuer = self.settings.issuer
        self._check_url(issuer)
        doc = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery_failed")
        if doc.get("issuer") != issuer:
            raise ProviderError("discovery_failed", "issuer differs")
        methods = doc.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise ProviderError("discovery_failed", "no S256")
        auth_methods = doc.get("token_endpoint_auth_methods_supported")
        if isinstance(auth_methods, list) and self.settings.auth_method not in auth_methods:
            raise ProviderError("discovery_failed", "auth method not supported")
        end_session = doc.get("end_session_endpoint")
        par = doc.get("pushed_authorization_request_endpoint") if self.settings.use_par else None
        metadata = ProviderMetadata(
            issuer=issuer,
            authorization_endpoint=self._check_url(doc.get("authorization_endpoint")),
            token_endpoint=self._check_url(doc.get("token_endpoint")),
            jwks_uri=self._check_url(doc.get("jwks_uri")),
            end_session_endpoint=self._check_url(end_session) if end_session is not None else None,
            iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported") is True,
            pushed_authorization_request_endpoint=self._check_url(par) if par is not None else None,
        )
        self._metadata = (now, metadata)
        return metadata

    async def _load_keys(self) -> dict[str | None, list[tuple[str, PublicKey]]]:
        jwks = await self._get_json((await self.metadata()).jwks_uri, "discovery_failed")
        keys: dict[str | None, list[tuple[str, PublicKey]]] = {}
        listed = jwks.get("keys")
        for jwk in listed if isinstance(listed, list) else []:
            parsed = key_from_jwk(jwk) if isinstance(jwk, dict) else None
            if parsed is not None:
                kid, alg, key = parsed
                keys.setdefault(kid, []).append((alg, key))
                if kid is not None:
                    keys.setdefault(None, []).append((alg, key))  # a token without kid may use any key
        self._keys = (self._clock(), keys)
        return keys

    async def _signing_keys(self, kid: str | None, alg: str) -> list[PublicKey]:
        """The provider's keys for ``kid`` and ``alg``; the JWKS is fetched again once when the key is unknown
        (the provider may have rotated), but not more often than every ten seconds."""
        now = self._clock()
        if self._keys is None or now - self._keys[0] > self._metadata_ttl:
            await self._load_keys()
        assert self._keys is not None
        found = [key for key_alg, key in self._keys[1].get(kid, []) if key_alg == alg]
        if not found and now - self._keys[0] > 10:
            keys = await self._load_keys()
            found = [key for key_alg, key in keys.get(kid, []) if key_alg == alg]
        if not found:
            raise LoginRefused("unknown_key")
        return found

    # -- the flow --

    async def begin(self, return_path: str | None = None) -> tuple[str, PendingLogin]:
        """The provider's authorize URL to redirect the browser to, and the pending login to seal in a cookie."""
        metadata = await self.metadata()
        pending = PendingLogin(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=new_pkce_verifier(),
            return_path=safe_return_path(return_path),
            created=self._clock(),
        )
        params = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": self.settings.redirect_uri,
            "scope": " ".join(self.settings.scopes),
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pkce_challenge(pending.verifier),
            "code_challenge_method": "S256",
            "ui_locales": self.settings.ui_locales,
        }
        if self.settings.acr_values:
            params["acr_values"] = self.settings.acr_values
        if metadata.pushed_authorization_request_endpoint is not None:
            request_uri = await self._push(metadata, metadata.pushed_authorization_request_endpoint, params)
            params = {"client_id": self.settings.client_id, "request_uri": request_uri}
        endpoint = metadata.authorization_endpoint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}", pending

    async def _push(self, metadata: ProviderMetadata, endpoint: str, params: Mapping[str, str]) -> str:
        """Post the authorization request (with client authentication) and get the ``request_uri`` that stands
        for it (RFC 9126), so the request's parameters never pass through the browser."""
        timeout = aiohttp.ClientTimeout(total=self.settings.http_timeout_s)
        form = {**params, **self._client_auth(metadata)}
        try:
            async with self._http.post(endpoint, data=form, timeout=timeout, allow_redirects=False) as response:
                if response.status in (200, 201):
                    body = await self._json(response, "par_failed")
                else:
                    error = (await self._json(response, "par_failed")).get("error") if response.status == 400 else None
                    rejected = error == "invalid_client" or response.status == 401
                    raise ProviderError("client_rejected" if rejected else "par_failed", f"status {response.status}")
        except (aiohttp.ClientError, TimeoutError):
            raise ProviderError("par_failed", "unreachable") from None
        request_uri = body.get("request_uri")
        if not isinstance(request_uri, str) or not request_uri or len(request_uri) > 512:
            raise ProviderError("par_failed", "no request_uri")
        return request_uri

    async def finish(self, params: Mapping[str, str], pending: PendingLogin) -> LoginResult:
        """Complete the login from the callback's query parameters; LoginRefused/ProviderError otherwise."""
        now = self._clock()
        if not (pending.created - 60 <= now <= pending.created + PENDING_SECONDS):
            raise LoginRefused("login_expired")
        state = params.get("state")
        if not state or not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise LoginRefused("state_mismatch")
        metadata = await self.metadata()
        iss = params.get("iss")
        if (iss is not None and iss != metadata.issuer) or (iss is None and metadata.iss_parameter_supported):
            raise LoginRefused("issuer_mismatch", "iss parameter")
        if "error" in params:
            error = params["error"]
            raise LoginRefused("idp_error", error[:40] if error.isascii() and error.isprintable() else "error")
        code = params.get("code")
        if not code or len(code) > 2048:
            raise LoginRefused("missing_code")
        tokens = await self._exchange(metadata, code, pending.verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise ProviderError("token_endpoint_failed", "no id_token")
        claims = await self.validate_id_token(id_token, nonce=pending.nonce)
        return LoginResult(str(claims["sub"]), safe_return_path(pending.return_path), claims, id_token)

    def _client_auth(self, metadata: ProviderMetadata) -> dict[str, str]:
        settings = self.settings
        if settings.auth_method == "client_secret_post":
            return {"client_id": settings.client_id, "client_secret": settings.client_secret or ""}
        assert settings.client_key is not None and settings.client_key_id is not None
        now = int(self._clock())
        assertion = sign_jws(
            {
                "iss": settings.client_id,
                "sub": settings.client_id,
                "aud": metadata.issuer,
                "jti": secrets.token_urlsafe(16),
                "iat": now,
                "exp": now + 60,
            },
            settings.client_key,
            settings.client_key_id,
        )
        return {
            "client_id": settings.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }

    async def _exchange(self, metadata: ProviderMetadata, code: str, verifier: str) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.redirect_uri,
            "code_verifier": verifier,
            **self._client_auth(metadata),
        }
        timeout = aiohttp.ClientTimeout(total=self.settings.http_timeout_s)
        try:
            async with self._http.post(
                metadata.token_endpoint, data=form, timeout=timeout, allow_redirects=False
            ) as response:
                if response.status == 200:
                    return await self._json(response, "token_endpoint_failed")
                body = await self._json(response, "token_endpoint_failed") if response.status in (400, 401) else {}
        except (aiohttp.ClientError, TimeoutError):
            raise ProviderError("token_endpoint_failed", "unreachable") from None
        error = body.get("error")
        if error == "invalid_grant":
            raise LoginRefused("token_refused")
        if error == "invalid_client" or response.status == 401:
            raise ProviderError("client_rejected")
        raise ProviderError("token_endpoint_failed", f"status {response.status}")

    async def validate_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The verified claims of an ID token for this client and this login's ``nonce``."""
        jws = parse_jws(id_token)
        alg = jws.header.get("alg")
        if alg not in ALLOWED_ALGS or "crit" in jws.header:
            raise LoginRefused("unsupported_alg", str(alg)[:16])
        kid = jws.header.get("kid")
        keys = await self._signing_keys(kid if isinstance(kid, str) else None, str(alg))
        for index, key in enumerate(keys):
            try:
                verify_jws(jws, key)
                break
            except LoginRefused:
                if index == len(keys) - 1:
                    raise
        claims = jws.claims
        metadata = await self.metadata()
        settings, now, leeway = self.settings, self._clock(), self.settings.leeway_s
        check_registered_claims(claims, issuer=metadata.issuer, audience=settings.client_id, now=now, leeway=leeway)
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != settings.client_id:
            raise LoginRefused("audience_mismatch", "azp")
        if now - float(claims["iat"]) > settings.max_token_age_s + leeway:
            raise LoginRefused("expired")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce.encode(), nonce.encode()):
            raise LoginRefused("nonce_mismatch")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 200 or not sub.isprintable():
            raise LoginRefused("missing_subject")
        if settings.accepted_acr is not None and claims.get("acr") not in settings.accepted_acr:
            raise LoginRefused("acr_insufficient")
        return claims

    async def end_session_url(
        self, *, post_logout_redirect_uri: str, id_token_hint: str | None = None, state: str | None = None
    ) -> str | None:
        """Where to send the browser to log out at the provider too (None when it has no logout endpoint)."""
        endpoint = (await self.metadata()).end_session_endpoint
        if endpoint is None:
            return None
        params = {"post_logout_redirect_uri": post_logout_redirect_uri, "client_id": self.settings.client_id}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        if state:
            params["state"] = state
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
