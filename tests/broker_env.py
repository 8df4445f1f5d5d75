"""A broker under test: real app, real Redis (or the memory store), test IdPs that sign ID tokens.

The IdPs here are test doubles for *signing* only (their keys are inline in the broker config);
the JWKS-over-HTTP path is exercised with the real ``idp_mock`` elsewhere.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any, cast

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry
from litestar import Litestar

from broker.app import create_app
from broker.constants import (
    GRANT_JWT_BEARER,
    GRANT_TOKEN_EXCHANGE,
    TOKEN_TYPE_ID_JAG,
    TOKEN_TYPE_ID_TOKEN,
)
from broker.settings import BrokerSettings, parse_settings
from broker.stores import Store

PUBLIC_URL = "http://127.0.0.1:8000"
IDP_ISSUER = f"{PUBLIC_URL}/idp"
AS_ISSUER = f"{PUBLIC_URL}/as"
FILES = "http://127.0.0.1:8101/files/mcp"
TICKETS = "http://127.0.0.1:8101/tickets/mcp"
PARTNER_AS = "https://as.partner.example"
PARTNER_RES = "https://partner.example/mcp"
ACME = "https://login.acme.example"
GLOBEX = "https://login.globex.example"

SECRETS = {
    "agent-app": "agent-secret-0123456789",
    "other-app": "other-secret-0123456789",
    "rs-app": "rs-secret-0123456789",
    "te-only": "te-secret-0123456789",
}

_ALL = JWSRegistry(algorithms=["RS256", "ES256", "HS256", "PS256", "RS384", "Ed25519"])


class Clock:
    """A settable clock (integer epoch seconds) shared by the broker and the test's token factories."""

    def __init__(self, start: float | None = None) -> None:
        self.t = float(start if start is not None else time.time())

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class TestIdp:
    """An enterprise IdP double that signs ID tokens (and, for native issuers, ID-JAGs)."""

    name: str
    issuer: str
    key: RSAKey | ECKey
    alg: str
    clock: Clock

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    def sign(
        self, claims: Mapping[str, Any], *, header: Mapping[str, Any] | None = None, key: RSAKey | ECKey | None = None
    ) -> str:
        hdr = {"alg": self.alg, "kid": self.key.kid, "typ": "JWT", **(header or {})}
        return jwt.encode(hdr, dict(claims), key or self.key, registry=_ALL)

    def id_token_claims(
        self, *, sub: str = "alice", aud: str | list[str] = "agent-sso", groups: list[str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": aud,
            "iat": now,
            "exp": now + 600,
            "auth_time": now - 5,
            "email": f"{sub}@acme.example",
            "groups": ["engineering"] if groups is None else groups,
            "amr": ["pwd"],
        }
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def id_token(self, **kw: Any) -> str:
        header = kw.pop("header", None)
        return self.sign(self.id_token_claims(**kw), header=header)

    def id_jag(
        self,
        *,
        sub: str = "alice",
        client_id: str = "agent-app",
        resource: str | None = FILES,
        scope: str | None = "files.read",
        **extra: Any,
    ) -> str:
        """A native ID-JAG, as an IdP with ID-JAG support (Okta-style) would sign it."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": AS_ISSUER,
            "client_id": client_id,
            "jti": f"jag-{now}-{sub}-{time.perf_counter_ns()}",
            "iat": now,
            "exp": now + 300,
            "resource": resource,
            "scope": scope,
        }
        claims.update(extra)
        header = {"typ": "oauth-id-jag+jwt"}
        return self.sign({k: v for k, v in claims.items() if v is not None}, header=header)


def basic(client_id: str, secret: str | None = None) -> dict[str, str]:
    raw = f"{client_id}:{secret if secret is not None else SECRETS[client_id]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def toml_value(obj: Any) -> str:
    """Render JSON-like data as a TOML inline value (for inline JWKS in test configs)."""
    if isinstance(obj, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in obj.items()) + " }"
    if isinstance(obj, list):
        return "[" + ", ".join(toml_value(v) for v in obj) + "]"
    return json.dumps(obj)


def settings_toml(acme: TestIdp, globex: TestIdp, client_key: ECKey, *, extra: str = "") -> str:
    def h(s: str) -> str:
        return sha256(s.encode()).hexdigest()

    return f"""
public_url = "{PUBLIC_URL}"
keys_dir = "unused"
clock_skew = 60
{extra}

[[idp]]
name = "acme"
issuer = "{ACME}"
algorithms = ["RS256"]
jwks = {toml_value(acme.jwks())}

[[idp]]
name = "globex"
issuer = "{GLOBEX}"
algorithms = ["ES256"]
id_jag_issuer = true
jwks = {toml_value(globex.jwks())}

[[client]]
client_id = "agent-app"
client_secret_sha256 = "{h(SECRETS["agent-app"])}"
id_token_audience = "agent-sso"

[[client]]
client_id = "other-app"
client_secret_sha256 = "{h(SECRETS["other-app"])}"
id_token_audience = "other-sso"

[[client]]
client_id = "jwt-app"
jwks = {toml_value({"keys": [client_key.as_dict(private=False)]})}
id_token_audience = "jwt-sso"

[[client]]
client_id = "rs-app"
client_secret_env = "RS_APP_SECRET"
grant_types = []
may_introspect = true

[[client]]
client_id = "te-only"
client_secret_sha256 = "{h(SECRETS["te-only"])}"
id_token_audience = "agent-sso"
grant_types = ["{GRANT_TOKEN_EXCHANGE}"]

[[resource]]
resource = "{FILES}"
scopes = ["files.read", "files.write"]
token_ttl = 300

[[resource]]
resource = "{TICKETS}"
scopes = ["tickets.read", "tickets.write"]

[[external_as]]
issuer = "{PARTNER_AS}"
resources = ["{PARTNER_RES}"]
client_ids = {{ agent-app = "partner-agent" }}

[[policy]]
idp = "acme"
clients = ["agent-app", "jwt-app", "te-only", "other-app"]
resources = ["{FILES}"]
scopes = ["files.read", "files.write"]
groups = ["engineering"]

[[policy]]
idp = "acme"
clients = ["agent-app"]
resources = ["{TICKETS}", "{PARTNER_RES}"]
scopes = ["tickets.read", "partner.read"]

[[policy]]
idp = "globex"
clients = ["agent-app"]
resources = ["{FILES}"]
scopes = ["files.read"]
"""


@dataclass
class BrokerEnv:
    """The app, an HTTP client on it, the clock and the test IdPs."""

    app: Litestar
    http: httpx.AsyncClient
    clock: Clock
    settings: BrokerSettings
    acme: TestIdp
    globex: TestIdp
    client_key: ECKey
    store: Store
    keys_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    async def leg1(
        self, subject_token: str | None = None, *, auth: Mapping[str, str] | None = None, **params: Any
    ) -> httpx.Response:
        form: dict[str, Any] = {
            "grant_type": GRANT_TOKEN_EXCHANGE,
            "requested_token_type": TOKEN_TYPE_ID_JAG,
            "subject_token": subject_token if subject_token is not None else self.acme.id_token(),
            "subject_token_type": TOKEN_TYPE_ID_TOKEN,
            "audience": AS_ISSUER,
            "resource": FILES,
            "scope": "files.read",
        }
        form.update(params)
        form = {k: v for k, v in form.items() if v is not None}
        return await self.http.post("/idp/token", data=form, headers=dict(basic("agent-app") if auth is None else auth))

    async def id_jag(self, **params: Any) -> str:
        r = await self.leg1(**params)
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token

    async def leg2(self, assertion: str, *, auth: Mapping[str, str] | None = None, **params: Any) -> httpx.Response:
        form = {"grant_type": GRANT_JWT_BEARER, "assertion": assertion, **params}
        return await self.http.post("/as/token", data=form, headers=dict(basic("agent-app") if auth is None else auth))

    def sign_as_broker_idp(self, claims: Mapping[str, Any], header: Mapping[str, Any] | None = None) -> str:
        """Sign with the broker's own leg-1 key (to forge claim variations of a genuine ID-JAG)."""
        from broker.keys import load_keyring

        ring = load_keyring(self.keys_dir, "idp", "ES256", now=self.clock)
        hdr = {"alg": "ES256", "kid": ring.kid, "typ": "oauth-id-jag+jwt", **(header or {})}
        hdr = {k: v for k, v in hdr.items() if v is not None}
        return jwt.encode(hdr, dict(claims), ring.signing_key, registry=_ALL, default_type=None)


def b64json(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def with_header(token: str, **changes: Any) -> str:
    """Same payload, a changed header, signature kept (checks that run before the signature)."""
    _, p, sig = token.split(".")
    header, _ = decode_unverified(token)
    header.update(changes)
    return f"{b64json(header)}.{p}.{sig}"


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    h, p, _ = token.split(".")

    def dec(s: str) -> dict[str, Any]:
        return dict(json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))))

    return dec(h), dec(p)


def make_env(store: Store, tmp_path: Path, *, extra_toml: str = "", clock: Clock | None = None) -> BrokerEnv:
    clk = clock or Clock()
    acme = TestIdp("acme", ACME, RSAKey.generate_key(2048, parameters={"kid": "acme-1", "use": "sig"}), "RS256", clk)
    globex = TestIdp("globex", GLOBEX, ECKey.generate_key("P-256", parameters={"kid": "globex-1"}), "ES256", clk)
    client_key = ECKey.generate_key("P-256", parameters={"kid": "jwt-app-1", "use": "sig", "alg": "ES256"})
    loaded = parse_settings(
        settings_toml(acme, globex, client_key, extra=extra_toml), env={"RS_APP_SECRET": SECRETS["rs-app"]}
    )
    keys_dir = tmp_path / "keys"
    app = create_app(
        loaded.settings, store=store, clock=clk, env={"RS_APP_SECRET": SECRETS["rs-app"]}, keys_dir=keys_dir
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=cast(Any, app)), base_url=PUBLIC_URL)
    return BrokerEnv(app, http, clk, loaded.settings, acme, globex, client_key, store, keys_dir)


def assert_error(r: httpx.Response, status: int, error: str, description: str | None = None) -> None:
    """Exact RFC 6749 §5.2 body, no-store, and never a token."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["error"] == error, body
    if description is not None:
        assert body.get("error_description") == description, body
    assert "access_token" not in body
    assert r.headers.get("cache-control") == "no-store"


def client_assertion_form(env: BrokerEnv, *, audience: str, **overrides: Any) -> dict[str, str]:
    """A private_key_jwt client assertion for jwt-app (RFC 7523 §2.2, 7523bis §3)."""
    now = int(env.clock())
    claims: dict[str, Any] = {
        "iss": "jwt-app",
        "sub": "jwt-app",
        "aud": audience,
        "jti": f"ca-{time.perf_counter_ns()}",
        "iat": now,
        "exp": now + 60,
    }
    header = {"alg": "ES256", "kid": "jwt-app-1", "typ": "client-authentication+jwt"}
    key = overrides.pop("key", env.client_key)
    header.update(overrides.pop("header", {}))
    claims.update(overrides)
    token = jwt.encode(header, {k: v for k, v in claims.items() if v is not None}, key, registry=_ALL)
    return {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": token,
    }
