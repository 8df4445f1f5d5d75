"""One entry per broker-role rule of shared/spec/checklist.md (STYLE P10).

Generated once from the checklist (ID, behaviour, source); ``tests/test_spec_coverage.py`` fails if an
entry has neither a test marked ``@pytest.mark.spec(ID)`` nor a reason in ``NOT_APPLICABLE``.
Resource-server rules (RS-*) are covered by ``tests/mcp_server``; interactive-flow rules by issue #7.
"""

from __future__ import annotations

from typing import Final

REQUIREMENTS: Final[dict[str, tuple[str, str]]] = {
    "L1-01": ("Accept only POST, body application/x-www-form-urlencoded (UTF-8)", "RFC6749 §3.2; RFC8693 §2.1"),
    "L1-02": (
        "grant_type = urn:ietf:params:oauth:grant-type:token-exchange; other values → unsupported_grant_type (unless another grant is served here)",
        "RFC8693 §2.1; RFC6749 §5.2",
    ),
    "L1-03": (
        '"Parameters sent without a value MUST be treated as if they were omitted"; unknown params ignored; single-valued params "MUST NOT be included more ...',
        "RFC6749 §3.2; RFC8693 §2.1",
    ),
    "L1-04": ("Require subject_token, subject_token_type, requested_token_type=…:id-jag, audience", "IDJAG §4.3"),
    "L1-05": ("actor_token_type present iff actor_token present", "RFC8693 §2.1"),
    "L1-06": (
        "Multiple audience values or ≥2 resource values: reject with invalid_target (Policy: one RAS, one resource per ID-JAG)",
        'RFC8693 §2.1.1/§2.2.2; RFC8707 §3 ("using only a single resource parameter is...',
    ),
    "L1-07": (
        "Success responses carry Cache-Control: no-store and Pragma: no-cache; error responses carry Cache-Control: no-store too",
        "RFC6749 §5.1; IDJAG §4.3.4, §4.3.4.3 examples; RFC7523 §3.1 example",
    ),
    "L1-08": (
        "Bounded body / token sizes (e.g. body ≤ 64 KiB, subject_token ≤ 16 KiB)",
        "8725bis §3.14 (format), DoS hygiene",
    ),
    "L1-09": ("All endpoints HTTPS only", 'MCP-AZ security-considerations "Communication Security"; EMA §7.3'),
    "L1-10": (
        "Never log subject_token, client secrets, ID-JAGs in full",
        'EMA §7.4.2 "MUST NOT log full ID-JAGs"; IDJAG §9.2',
    ),
    "L1-11": (
        "Require client authentication; no anonymous/public clients",
        'EMA §7.7 "client authentication MUST be enforced"; IDJAG §9.1 "SHOULD only be...',
    ),
    "L1-12": (
        "Support client_secret_basic (default when metadata omits methods), client_secret_post (XAA, PYSDK use it), private_key_jwt (RECOMMENDED)",
        'RFC6749 §2.3.1 ("MUST support the HTTP Basic authentication scheme"); RFC8414...',
    ),
    "L1-13": (
        "Basic: username/password are form-urlencoded before base64 (decode accordingly; matters for URL client_ids)",
        "RFC6749 §2.3.1",
    ),
    "L1-14": ("Reject more than one auth method in one request → invalid_request", "RFC6749 §2.3 / §5.2"),
    "L1-15": (
        "Auth failure → invalid_client; if the client used the Authorization header → **401** + WWW-Authenticate with that scheme",
        "RFC6749 §5.2",
    ),
    "L1-16": (
        "private_key_jwt: iss, sub = client_id (sub MUST), aud = L1 issuer **as sole value**, token endpoint URL MUST NOT be aud; exp required; reject inval...",
        "RFC7523 §3 items 1–4, 9; 7523bis §3 item 3, §3.2",
    ),
    "L1-17": ("private_key_jwt assertions single use (jti tracked until exp)", "OIDC Core §9; Policy: enforce"),
    "L1-18": ("CIMD clients (URL client_id) may not use shared-secret methods", "CIMD-02 §4.1"),
    "L1-19": ("Client allowed the token-exchange grant, else unauthorized_client", "RFC6749 §5.2"),
    "L1-20": (
        'Accept Identity Assertions ("Implementations of this specification MUST accept Identity Assertions"); RT/SAML optional',
        "IDJAG §4.3",
    ),
    "L1-21": (
        "subject_token_type must be one L1 supports (…:id_token); others → invalid_request",
        'RFC8693 §2.1 ("perform the appropriate validation procedures for the indicate...',
    ),
    "L1-22": (
        "Token really is an ID token: reject typ identifying another type (at+jwt, oauth-id-jag+jwt, client-authentication+jwt, dpop+jwt); never accept an I...",
        "PR:stt §4.3.3; 8725bis §3.12",
    ),
    "L1-23": (
        "iss exactly equals a configured trusted IdP issuer (simple string comparison)",
        "OIDC Core §3.1.3.7 step 2; RFC7523 §3 item 1",
    ),
    "L1-24": (
        "Signature verified with keys from **that** issuer's JWKS only (jwks_uri from its metadata, HTTPS); per-issuer alg allow-list; alg compared case-sen...",
        "8725bis §3.1, §3.2, §3.8; EMA §7.4.1; OIDC Core §3.1.3.7 step 6",
    ),
    "L1-25": (
        "aud contains the client's IdP client_id and **maps to the authenticated broker client** (\"MUST validate that the audience of the assertion … matche...",
        "IDJAG §4.3.3; OIDC Core §3.1.3.7 steps 3–5; OQ-1",
    ),
    "L1-26": (
        "exp in the future (skew ≤ 60 s Policy); iat/nbf not in the future beyond skew; optional max age of iat",
        "OIDC Core §3.1.3.7 steps 9–10; RFC7519 §4.1.5",
    ),
    "L1-27": ("sub present", "OIDC Core §2 (sub REQUIRED)"),
    "L1-28": (
        "Reject unknown crit members; ignore jku/x5u/jwk for key selection (never fetch them)",
        "RFC7515 §4.1.11; 8725bis §3.10",
    ),
    "L1-29": ("Compact serialization only; only base64url chars and .", "8725bis §3.14"),
    "L1-30": ("Duplicate JSON member names → reject", "RFC7519 §4; 8725bis §2.6"),
    "L1-31": (
        "JWKS refresh on unknown kid: at most one forced refetch per issuer per cooldown; cache honours HTTP caching; fail closed",
        "EMA §7.4.1; Policy for numbers",
    ),
    "L1-32": (
        "Step-up: if auth_time/acr/amr fail policy → 400 insufficient_user_authentication (+max_age)",
        "IDJAG §9.3 (TBD text)",
    ),
    "L1-33": (
        "Multi-tenant IdP: tenant claim of ID token must match the tenant configured for the client/IdP trust",
        "IDJAG §6.4",
    ),
    "L1-34": (
        "(If RT accepted) validate as for a refresh_token grant: issued by IdP, bound to client, unexpired, unrevoked, scope/audience within RT context",
        "IDJAG §4.3.3",
    ),
    "L1-40": (
        "Resolve audience to a known RAS issuer (accept exact issuer identifier; optional URN aliases resolved to issuer); unknown → invalid_target",
        'IDJAG §4.3; CHAIN §2.3.2 ("MUST deny … as defined in Section 2.2.2 of RFC8693...',
    ),
    "L1-41": (
        "Each resource must be an absolute URI without fragment, governed by that audience; otherwise invalid_target",
        'RFC8707 §2; EMA §7.6.1 ("MUST reject token exchange requests where the audien...',
    ),
    "L1-42": ("Maintain the (audience, resource) pair table", "EMA §7.6.1"),
    "L1-43": (
        "Evaluate admin policy (IdP × client × audience × resource × scope × user/group); granted scopes/resources MAY be a subset",
        "IDJAG §4.3.3",
    ),
    "L1-44": (
        "scope processed per RFC6749 §3.3; disallowed → narrow (return scope) or invalid_scope",
        "IDJAG §4.3.3; XAA uses invalid_scope",
    ),
    "L1-45": (
        "authorization_details: parse as JSON array; unsupported/invalid → invalid_authorization_details",
        "IDJAG §4.3.3; RFC9396 §5",
    ),
    "L1-46": (
        'Put **granted** resource/scope/authorization_details in the ID-JAG ("it MUST reflect the granted values")',
        "IDJAG §4.3.3",
    ),
    "L1-47": ("Header typ = oauth-id-jag+jwt", "IDJAG §3.1"),
    "L1-48": (
        "Claims iss,sub,aud,client_id,jti,exp,iat present; aud a single issuer (string)",
        "IDJAG §3.1; CHAIN §2.3.3 (RECOMMENDED single audience)",
    ),
    "L1-49": ("client_id = the client's id **at the RAS** (mapping table), tenant-valid", "IDJAG §3.1, §5, §6.2"),
    "L1-50": (
        "sub = the identifier the RAS uses for this user (same as its SSO subject), unique per iss(+tenant)",
        "IDJAG §3.1, §5 note, §6.3",
    ),
    "L1-51": ("tenant when issuer is multi-tenant and relevant", "IDJAG §6.1, §6.3"),
    "L1-52": ("Short lifetime (e.g. exp = iat + 300 s)", "EMA; XAA 5 min; CHAIN §5.5 replay mitigations"),
    "L1-53": ("Unique, unguessable jti (≥128 bits)", "IDJAG §3.1"),
    "L1-54": (
        "Sign with an asymmetric key dedicated to ID-JAGs (kid published at L1 jwks_uri); distinct from L2 AT keys",
        "8725bis §3.12",
    ),
    "L1-55": (
        "DPoP proof present → validate (RFC9449 §4.3, htm=POST, htu=token endpoint) and add cnf.jkt",
        "IDJAG §9.9.1.1",
    ),
    "L1-56": ("Minimize claims; PII only if needed; sub_id only when needed", "EMA §7.4.3, §7.8; IDJAG §9.7"),
    "L1-57": (
        "Audit each exchange: audience, resource, scope, authenticated client",
        'IDJAG §9.2 ("IdP Authorization Servers SHOULD record the audience, resource, ...',
    ),
    "L1-58": ("Never issue a refresh_token with an ID-JAG", "IDJAG §4.3.4"),
    "L2-01": ("POST, form-encoded, grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer", "RFC7523 §2.1; IDJAG §4.4"),
    "L2-02": ('assertion present and "MUST contain a single JWT"', "RFC7523 §2.1"),
    "L2-03": (
        'Authenticate the client "with its credentials as registered with the Resource Authorization Server"; if credentials present they MUST be validated',
        "IDJAG §4.4; RFC7523 §3.1",
    ),
    "L2-04": (
        "Confidential clients only (Policy mirror of L1-11); L1-12…L1-19 apply with L2 issuer as private_key_jwt aud",
        "IDJAG §9.1; 7523bis",
    ),
    "L2-05": (
        'Optional scope: "MUST be equal to or less than the scope originally granted"; AS "MUST limit the scope of the issued access token"',
        "RFC7521 §4.1",
    ),
    "L2-06": (
        "Optional resource param: must be one of the ID-JAG resource values, else invalid_target",
        "CHAIN §2.4.1; RFC8707 §2",
    ),
    "L2-07": (
        "Cache-Control: no-store + Pragma: no-cache on token responses; no-store on errors",
        "RFC6749 §5.1; IDJAG §4.4.2 example",
    ),
    "L2-10": (
        '"Validate the JWT typ is oauth-id-jag+jwt"; compare as media type: case-insensitive, application/oauth-id-jag+jwt equivalent',
        'IDJAG §4.4.1; 8725bis §3.11 ("MUST treat a typ value with no "/" as if "appli...',
    ),
    "L2-11": (
        "Identify issuer **before** trusting keys: parse unverified iss only to select the trust entry; verify signature with that issuer's keys; then re-ch...",
        "8725bis §3.8",
    ),
    "L2-12": (
        'Explicit per-issuer alg allow-list (asymmetric only: ES256/RS256/PS256/EdDSA…); alg case-sensitive; none never; key/alg consistency ("each key MUST...',
        "EMA §7.4.1; 8725bis §3.1–3.2; RFC9068 §2.1 requires RS256 support for AT (see...",
    ),
    "L2-13": (
        '"MUST verify the JWS signature using a trusted key for the issuing IdP"; JWKS over authenticated TLS',
        "EMA §7.4.1; RFC7523 §3 item 9",
    ),
    "L2-14": ("Unknown kid → one rate-limited JWKS refresh, then reject; no rollback to removed keys", "EMA §7.4.1"),
    "L2-15": ("Compact JWS only (reject JSON serialization, 2/4-segment, non-base64url chars)", "8725bis §3.14"),
    "L2-16": ("Reject unknown crit; never use jku/x5u/jwk/x5c for key selection", "RFC7515 §4.1.11; 8725bis §3.10"),
    "L2-17": (
        "JWE: if unsupported, reject; if supported (*PR:jwe*): decrypt, outer cty=JWT, apply all rules to inner JWS (inner typ MUST be oauth-id-jag+jwt); re...",
        "PR:jwe §3.2.3; 8725bis §3.3 (validate both layers)",
    ),
    "L2-18": (
        "Any failure → 400 invalid_grant (optionally error_description)",
        'RFC7523 §3.1 (the code "MUST be the invalid_grant error code")',
    ),
    "L2-20": (
        '"All of Section 5.2 of RFC7521 applies" (issuer, subject, audience, expiry present; signed; reject invalid)',
        "IDJAG §4.4.1",
    ),
    "L2-21": (
        "iss exactly one of the configured trusted ID-JAG issuers (L1 issuer and native issuers); for each: recognized issuer, identity resolution, client r...",
        'IDJAG §4.1 ("for each trusted issuer the Resource Authorization Server MUST b...',
    ),
    "L2-22": (
        "aud = L2 issuer identifier; string, or array with **exactly one** element equal to it; mismatch → invalid_grant",
        "IDJAG §4.4.1; EMA §7.6.2",
    ),
    "L2-23": (
        'client_id claim "MUST identify the same client as the client authentication in the request" else invalid_grant',
        "IDJAG §4.4.1; EMA §5.1",
    ),
    "L2-24": (
        "exp present and not passed (skew ≤ 60 s Policy); reject exp unreasonably far (Policy max lifetime, e.g. 1 h)",
        "RFC7523 §3 item 4; EMA §7.4.2; IDJAG-issues #62 (hours acceptable)",
    ),
    "L2-25": (
        "iat present (REQUIRED by IDJAG); not in the future beyond skew; MAY reject too old",
        "IDJAG §3.1; RFC7523 §3 item 6",
    ),
    "L2-26": ("nbf (if present, XAA emits it) honoured", "RFC7523 §3 item 5"),
    "L2-27": (
        'jti present; **single use until exp**, scoped by issuer (EMA suggests "by iss and sub")',
        "EMA §7.4.2; RFC7523 §3 item 7; OQ-3",
    ),
    "L2-28": (
        'sub present and resolvable to a local principal (JIT only if policy allows); "MUST deny the request if it is not able to identify the subject"',
        "CHAIN §2.4.2; IDJAG §2.2 Subject Resolution; 8725bis §3.8",
    ),
    "L2-29": ("tenant/aud_tenant must match the tenant context configured for this issuer/client", "IDJAG §6.4"),
    "L2-30": (
        "sub_id only when validated iss is explicitly associated with sub_id.issuer; never use sub_id.issuer to establish trust",
        "IDJAG §9.6, §3.2.2",
    ),
    "L2-31": (
        "resource claim: every value governed by L2 (one of its MCP servers) else invalid_grant; if absent and required by policy → invalid_grant",
        'EMA §7.6.2 ("MUST validate that the resource claim matches its own registered...',
    ),
    "L2-32": (
        "scope claim: only scopes registered for that resource; else reject (EMA) or narrow (IDJAG)",
        "EMA §7.6.2; IDJAG §4.4.1",
    ),
    "L2-33": (
        'cnf.jkt present → DPoP proof required and thumbprints "MUST match exactly", else invalid_grant',
        "IDJAG §9.9.1.2.1–2",
    ),
    "L2-34": ("Resource requires sender-constrained tokens and no DPoP → invalid_grant", "IDJAG §9.9.1.2.4"),
    "L2-35": ("Reject an ID-JAG whose issuer is in the same trust domain as L2 (self-issued)", "IDJAG §9.4"),
    "L2-36": ("An ID-JAG is for one RAS; never treat it as a grant for another downstream RAS", "IDJAG §9.4"),
    "L2-37": (
        "act present: not defined by IDJAG; if honoured, only top-level claims + outermost act count",
        "RFC8693 §4.1; IDJAG §9.8",
    ),
    "L2-38": ("Claim type checks (aud string/array of strings, numeric dates, scope string)", "RFC7523 §3 item 10"),
    "L2-40": (
        "Atomic check-and-set per (iss, jti) — e.g. SET jti:{sha256(iss)}:{jti} 1 NX PX <(exp−now+skew) ms>; the first writer wins",
        "EMA §7.4.2",
    ),
    "L2-41": ("Shared across replicas; survives process restarts for at least exp+skew", "EMA §7.4.2"),
    "L2-42": ("Fail closed when Redis is unreachable: no token issued (5xx)", "—"),
    "L2-43": ("Bound jti length (e.g. ≤ 256 chars) and hash it into the key", "—"),
    "L2-44": (
        "Record replay only after signature + claim validation succeed (no cache pollution by forged tokens)",
        "—",
    ),
    "L2-45": ("Same store for private_key_jwt client-assertion jtis (separate namespace)", "L1-17"),
    "L2-46": (
        'If "idempotent re-presentation" is offered: same (iss,jti) + same authenticated client + same params within ID-JAG validity returns the **already i...',
        "IDJAG §4.4.3; RFC7521 §4.1",
    ),
    "L2-50": (
        "Apply local policy: may honour, narrow, or reject; granted resources/scopes MAY be subsets of the ID-JAG's",
        "IDJAG §4.1, §4.4.1",
    ),
    "L2-51": ("Valid grant but user/client not entitled → access_denied (*PR*)", "PR:access_denied §4.4.3"),
    "L2-52": (
        "AT header typ at+jwt (SHOULD value; MUST include media type); signed (MUST), asymmetric RECOMMENDED, none MUST NOT; AS and RS MUST support RS256",
        "RFC9068 §2.1",
    ),
    "L2-53": ("AT claims iss, exp, aud, sub, client_id, iat, jti", "RFC9068 §2.2"),
    "L2-54": (
        'aud = the MCP server resource identifier from the ID-JAG resource ("MUST be audience-restricted to the MCP Server identified by the resource claim"...',
        'EMA §5.1; RFC9068 §3 ("SHOULD have the same value as the resource parameter")...',
    ),
    "L2-55": (
        'Distinct aud per MCP server: "authorization servers MUST use a distinct identifier as an "aud" claim value to uniquely identify access tokens issue...',
        "RFC9068 §5",
    ),
    "L2-56": (
        'No resource and no default → do not mint an unrestricted AT ("MUST use a default resource indicator in the aud claim" if none requested)',
        "RFC9068 §3",
    ),
    "L2-57": (
        'scope claim SHOULD be present when scope requested; every scope "MUST have meaning for the resources indicated in the aud claim"',
        "RFC9068 §2.2.3",
    ),
    "L2-58": ('auth_time/acr/amr MAY be copied from the ID-JAG ("values are fixed")', "RFC9068 §2.2.1"),
    "L2-59": (
        "sub not confusable with client ids (namespace users vs clients; clients must not pick client_ids that collide with user subjects)",
        "RFC9700 §4.15.1; RFC9068 §5",
    ),
    "L2-60": (
        'AT lifetime short and not exceeding the ID-JAG validity "by a significant period"',
        'RFC7521 §4.1; MCP-AZ security "Token Theft" (short-lived SHOULD)',
    ),
    "L2-61": ("No refresh token", "IDJAG §4.4.3; CHAIN §5.4; RFC7521 §4.1"),
    "L2-62": ("AT signing keys distinct from ID-JAG keys; publish at L2 jwks_uri; rotate with overlap", "RFC9068 §4"),
    "L2-63": (
        "If DPoP: AT cnf.jkt; token_type DPoP; SHOULD bind to the same key as ID-JAG cnf",
        "RFC9449 §5–6; IDJAG §9.9.1.2.1",
    ),
    "L2-64": (
        "Token cache (Redis) keyed by (iss, sub, client_id, resource, scope-set, cnf) — a cached AT is reused only if it satisfies exactly the same grant an...",
        "—",
    ),
    "L2-70": (
        "200 JSON token_type, access_token, expires_in (RECOMMENDED), scope (REQUIRED if it differs from requested)",
        "RFC6749 §5.1",
    ),
    "L2-71": ("Include granted resource / scope / authorization_details", "IDJAG §4.4.1; *PR:resource-iss* §4.4.2"),
    "L2-72": ("Errors: RFC6749 §5.2 JSON, 400 except invalid_client (401)", "RFC6749 §5.2"),
    "MD-01": (
        "AS metadata at https://host/.well-known/oauth-authorization-server{path-of-issuer}; 200 application/json; issuer identical to the issuer the URL wa...",
        "RFC8414 §3, §3.2, §3.3",
    ),
    "MD-02": ("issuer is https, no query/fragment", "RFC8414 §2"),
    "MD-03": (
        'token_endpoint, jwks_uri (https), response_types_supported (REQUIRED, OQ-17), grant_types_supported (omit ⇒ defaults to ["authorization_code","impl...',
        "RFC8414 §2",
    ),
    "MD-04": (
        "token_endpoint_auth_methods_supported (default client_secret_basic if omitted); token_endpoint_auth_signing_alg_values_supported MUST be present wh...",
        "RFC8414 §2",
    ),
    "MD-05": (
        "L2: authorization_grant_profiles_supported JSON array of strings containing urn:ietf:params:oauth:grant-profile:id-jag (SHOULD) and then grant_type...",
        "IDJAG §7.2",
    ),
    "MD-06": (
        '"Resource Authorization Servers MUST NOT use authorization_grant_profiles_supported to disclose issuer allow lists"; any per-issuer acceptance disc...',
        "IDJAG §9.5",
    ),
    "MD-07": (
        "L1: identity_chaining_requested_token_types_supported includes urn:ietf:params:oauth:token-type:id-jag; grant_types_supported includes token-exchange",
        "IDJAG §7.1; CHAIN §3 (MAY omit for disclosure reasons)",
    ),
    "MD-08": ("Optional protected_resources (RFC9728 §4) cross-checked with PRM authorization_servers", "RFC9728 §4"),
    "MD-09": (
        "PRM resource REQUIRED, identical to identifier; authorization_servers (MCP MUST); scopes_supported RECOMMENDED; bearer_methods_supported OPTIONAL; ...",
        "RFC9728 §2, §3.2, §3.3",
    ),
    "MD-10": (
        "PRM for a path-bearing resource at /.well-known/oauth-protected-resource/<path> (terminating / after host removed before insertion)",
        "RFC9728 §3.1",
    ),
    "MD-11": (
        "DPoP support advertised: AS dpop_signing_alg_values_supported; PRM dpop_signing_alg_values_supported, dpop_bound_access_tokens_required",
        "RFC9449 §5.1; RFC9728 §2",
    ),
    "MD-12": (
        "JWKS: public members only; kid on every key; use/alg set; keys used with one alg",
        "8725bis §3.1; RFC8414 §2 jwks_uri (use REQUIRED when signing and encryption k...",
    ),
    "MD-13": (
        "Metadata served over HTTPS; client_id_metadata_document_supported: true only if CIMD implemented",
        "MCP-AZ security; CIMD-02 §6",
    ),
    "MD-14": (
        "Client metadata (DCR RFC 7591 / CIMD): a client advertising authorization_grant_profiles_supported containing urn:ietf:params:oauth:grant-profile:i...",
        "IDJAG §8; MCP-AZ client-registration",
    ),
    "IR-01": ("Introspection requires caller authorization (RS credentials)", "RFC7662 §2.1"),
    "IR-02": ('Inactive/unknown/foreign token → {"active": false} only, no reason', "RFC7662 §2.2"),
    "IR-03": (
        "Active response includes active, and scope, client_id, sub, aud, iss, exp, iat, jti, token_type as applicable; aud mirrors the AT",
        "RFC7662 §2.2; RFC8707 §2",
    ),
    "IR-04": (
        "Revocation: client auth; 200 for invalid tokens; unsupported_token_type; revocation visible to RS (introspection or deny-list)",
        "RFC7009 §2.1–2.2.1",
    ),
    "N01": ("GET /idp/token -> 405 (Allow: POST)", "RFC6749 §3.2"),
    "N02": ("Body sent as application/json -> 400 invalid_request", "RFC6749 §3.2, §5.2"),
    "N03": ("grant_type missing -> 400 invalid_request", "RFC6749 §5.2"),
    "N04": ("grant_type=password (unsupported) -> 400 unsupported_grant_type", "RFC6749 §5.2"),
    "N06": ("subject_token missing -> 400 invalid_request", "RFC8693 §2.1"),
    "N07": ("subject_token_type missing -> 400 invalid_request", "RFC8693 §2.1"),
    "N08": (
        "requested_token_type missing, or =…:access_token -> 400 invalid_request",
        "IDJAG §4.3 (REQUIRED, fixed value)",
    ),
    "N09": ("audience missing -> 400 invalid_request", "IDJAG §4.3; XAA error table"),
    "N11": ("Body 1 MiB (oversized) -> 413 (before parsing) — or 400 invalid_request", "Policy"),
    "N12": ("No client authentication (public client) -> 401 invalid_client", "EMA §7.7; IDJAG §9.1"),
    "N13": (
        'Wrong secret via Authorization: Basic -> 401 invalid_client + WWW-Authenticate: Basic realm="…"',
        "RFC6749 §5.2",
    ),
    "N14": ("Wrong secret via client_secret_post -> 401 invalid_client (400 also allowed)", "RFC6749 §5.2"),
    "N16": ("private_key_jwt with aud = token endpoint URL (not issuer) -> 401 invalid_client", "7523bis §3 item 3"),
    "N17": ("private_key_jwt replayed (same jti) -> 401 invalid_client", "OIDC Core §9; L1-17"),
    "N18": (
        "private_key_jwt signed HS256 with the client's public key as secret -> 401 invalid_client",
        "8725bis §2.1",
    ),
    "N19": ("private_key_jwt sub ≠ client_id -> 401 invalid_client", "RFC7523 §3 item 2 / §3.2"),
    "N21": (
        "subject_token_type=urn:ietf:params:oauth:token-type:access_token (or …:jwt, …:saml2 when SAML not supported) -> 400 invalid_request",
        "RFC8693 §2.1/§2.2.2",
    ),
    "N22": ("subject_token not a JWT (bad base64url, 2 segments, { in it) -> 400 invalid_grant*", "8725bis §3.14"),
    "N23": ("ID token alg: none (empty signature) -> 400 invalid_grant*", "8725bis §2.1/§3.2"),
    "N24": ('ID token alg: "noNE" / "None" -> 400 invalid_grant*', "8725bis §2.11/§3.1"),
    "N26": (
        "ID token signed by a key not in the IdP's JWKS (attacker key, plausible kid) -> 400 invalid_grant*; exactly one JWKS refetch observed",
        "L1-24, L1-31",
    ),
    "N27": ("ID token from an issuer not in the trust config -> 400 invalid_grant*", "L1-23"),
    "N28": ("iss = trusted IdP A but signed with trusted IdP B's key -> 400 invalid_grant*", "8725bis §3.8"),
    "N29": (
        'ID token aud = another client (other-app) -> 400 invalid_grant* ("Audience validation failed")',
        "IDJAG §4.3.3 MUST",
    ),
    "N31": ("Expired ID token (exp = now − 120 s) -> 400 invalid_grant*", "OIDC Core §3.1.3.7"),
    "N32": ("iat or nbf 10 min in the future -> 400 invalid_grant*", "RFC7519 §4.1.5; L1-26"),
    "N33": ("ID token without sub -> 400 invalid_grant*", "OIDC Core §2"),
    "N34": (
        "An access token (typ: at+jwt) or an ID-JAG (typ: oauth-id-jag+jwt) sent as …:id_token -> 400 invalid_grant*",
        "PR:stt MUST reject",
    ),
    "N36": (
        "jku: https://attacker/jwks + attacker-signed token -> 400 invalid_grant*; **no outbound fetch** to jku",
        "8725bis §3.10",
    ),
    "N37": (
        "ID token for tenant B (multi-tenant IdP tid/tenant) with a client configured for tenant A -> 400 invalid_grant*",
        "IDJAG §6.4",
    ),
    "N38": (
        "auth_time older than policy / acr too weak -> 400 insufficient_user_authentication (+max_age)",
        "IDJAG §9.3",
    ),
    "N39": ('Duplicate "aud" member in the ID token payload JSON -> 400 invalid_grant*', "RFC7519 §4; L1-30"),
    "N41": (
        "audience = L2 issuer but resource=https://other-as-governed.example/mcp (aud/resource mismatch) -> 400 invalid_target",
        "EMA §7.6.1; PR:resource-iss; XAA",
    ),
    "N42": ("resource=https://mcp.example.com/files/mcp#frag -> 400 invalid_target", "RFC8707 §2"),
    "N43": ("resource=/files/mcp (relative) -> 400 invalid_target", "RFC8707 §2"),
    "N44": ("Two audience values -> 400 invalid_target", "RFC8693 §2.1.1"),
    "N46": (
        "scope=files:admin not allowed for client×user×resource -> 400 invalid_scope (if nothing grantable) — or 200 with narrowed scope member",
        "IDJAG §4.3.3; XAA",
    ),
    "N47": (
        "Client/user not entitled to this audience (policy deny) -> 400 access_denied (*PR*) — XAA returns invalid_target",
        "OQ-5",
    ),
    "N48": ('authorization_details=[{"no_type":1}] / not JSON -> 400 invalid_authorization_details', "RFC9396 §5"),
    "N49": (
        "DPoP proof with htm=GET or htu ≠ L1 token endpoint, or typ ≠ dpop+jwt, or two DPoP headers -> 400 invalid_dpop_proof",
        "RFC9449 §4.3, §5",
    ),
    "N51": ("assertion missing -> 400 invalid_request", "RFC7523 §2.1"),
    "N52": ("Two assertion params / comma-joined JWTs -> 400 invalid_request", 'RFC7523 §2.1 ("single JWT")'),
    "N53": ("No client authentication -> 401 invalid_client", "IDJAG §4.4; EMA §7.7"),
    "N54": ("Client authenticated but jwt-bearer grant not enabled for it -> 400 unauthorized_client", "RFC6749 §5.2"),
    "N56": (
        "resource=https://mcp.example.com/tickets/mcp not in ID-JAG resource -> 400 invalid_target",
        "RFC8707 §2; OQ-7",
    ),
    "N57": ("Assertion 100 KiB -> 400 invalid_grant (cap 8 KiB)", "Policy; RFC7523 §3.1"),
    "N58": ("alg: none, empty signature -> 400 invalid_grant", "EMA §7.4.1 MUST NOT"),
    "N59": ("alg case variants NONE/None -> 400 invalid_grant", "8725bis §2.11"),
    "N61": ("alg: ES256 header but kid resolves to an RSA key (alg/key mismatch) -> 400 invalid_grant", "8725bis §3.1"),
    "N62": (
        "alg outside the issuer's allow-list (e.g. RS384 when only ES256 configured) -> 400 invalid_grant",
        "EMA §7.4.1",
    ),
    "N63": ("typ missing, JWT, jwt -> 400 invalid_grant", "IDJAG §4.4.1"),
    "N64": ("typ: at+jwt (an access token replayed as grant) -> 400 invalid_grant", "IDJAG §4.4.1; 8725bis §3.12"),
    "N66": ("typ: application/oauth-id-jag+jwt (and OAUTH-ID-JAG+JWT) -> **200** (positive)", "8725bis §3.11; OQ-11"),
    "N67": (
        "Unknown kid; JWKS refetched once; still unknown -> 400 invalid_grant; ≤1 refetch per cooldown even under 100 parallel requests",
        "EMA §7.4.1",
    ),
    "N68": (
        "Unknown kid and JWKS endpoint 500/timeout -> 400 invalid_grant (fail closed; known kids keep working from cache)",
        "Policy",
    ),
    "N69": ("Payload byte flipped (signature invalid) -> 400 invalid_grant", "RFC7523 §3 item 9"),
    "N71": ('JWS JSON serialization ({"payload":…,"signatures":[…]}) -> 400 invalid_grant', "8725bis §2.13/§3.14"),
    "N72": ('Duplicate "aud" (first ours, last foreign) in payload JSON -> 400 invalid_grant', "RFC7519 §4"),
    "N73": (
        "5-segment JWE when encryption not configured; or plain JWS when encryption required -> 400 invalid_grant",
        "PR:jwe §3.2.3",
    ),
    "N74": ("Unknown crit header member -> 400 invalid_grant", "RFC7515 §4.1.11"),
    "N76": ("iss not a trusted ID-JAG issuer -> 400 invalid_grant", "IDJAG §4.1; RFC7523 §3"),
    "N77": ("iss = trusted Okta issuer, signed with L1's key (cross-issuer key) -> 400 invalid_grant", "8725bis §3.8"),
    "N78": ("aud = another AS (https://other-as.example/) -> 400 invalid_grant", "IDJAG §4.4.1"),
    "N79": (
        'aud = [https://broker.example/as, https://other-as.example] -> 400 invalid_grant ("exactly one element")',
        "IDJAG §4.4.1",
    ),
    "N81": (
        "aud = https://broker.example/as/ (trailing slash) or different case -> 400 invalid_grant (simple string comparison)",
        "RFC7523 §3 item 3; OQ-8 (CONF accepts both slash forms)",
    ),
    "N82": ("exp missing -> 400 invalid_grant", "RFC7523 §3 item 4"),
    "N83": ("exp = now − 120 s -> 400 invalid_grant", "RFC7523 §3 item 4"),
    "N84": (
        "exp = now − 30 s (inside skew) -> **200** (positive; proves skew is bounded, then N83 proves the bound)",
        "RFC9068 §4 leeway",
    ),
    "N86": ("iat missing -> 400 invalid_grant", "IDJAG §3.1 REQUIRED"),
    "N87": ("iat = now + 10 min -> 400 invalid_grant", "Policy / RFC7523 §3 item 6"),
    "N88": ("nbf = now + 10 min -> 400 invalid_grant", "RFC7523 §3 item 5"),
    "N89": ("jti missing -> 400 invalid_grant", "IDJAG §3.1; EMA §7.4.2"),
    "N91": (
        "Same ID-JAG presented 50× concurrently to 2 replicas (strict mode) -> exactly 1 × 200, 49 × 400 invalid_grant (idempotent mode: exactly one AT mint...",
        "L2-40/41",
    ),
    "N92": (
        "Redis down during replay check -> 500 server_error (or 503); **no token**; no fallback to in-memory",
        "L2-42; OQ-18",
    ),
    "N93": ("jti of 10 000 chars -> 400 invalid_grant", "L2-43"),
    "N94": ("client_id claim missing -> 400 invalid_grant", "IDJAG §3.1"),
    "N96": ("sub missing -> 400 invalid_grant", "RFC7523 §3 item 2"),
    "N97": ("sub unknown and JIT disabled -> 400 invalid_grant", "CHAIN §2.4.2"),
    "N98": (
        "sub known but user not licensed/entitled for the resource -> 400 access_denied (*PR*)",
        "PR:access_denied",
    ),
    "N99": ("resource = an MCP server not governed by L2 -> 400 invalid_grant", "EMA §7.6.2; PR:resource-iss"),
    "N101": (
        "scope claim contains a scope of another MCP server (tickets:read with resource = files) -> 400 invalid_grant (EMA) or AT issued without it (narrowi...",
        "EMA §7.6.2; RFC9068 §2.2.3",
    ),
    "N102": (
        "tenant claim of another tenant (token from tenant B used with tenant-A client) -> 400 invalid_grant",
        "IDJAG §6.4",
    ),
    "N103": (
        'cnf.jkt present, no DPoP header -> 400 invalid_grant ("Proof of possession required for this authorization grant")',
        "IDJAG §9.9.1.2.2",
    ),
    "N104": ("cnf.jkt present, DPoP proof with a different key -> 400 invalid_grant", "IDJAG §9.9.1.2.1"),
    "N106": (
        'Resource requires sender-constrained tokens; no cnf, no DPoP -> 400 invalid_grant ("Sender-constrained tokens required for this resource server")',
        "IDJAG §9.9.1.2.4",
    ),
    "N107": ("Type confusion: aud as number, exp as string, scope as array -> 400 invalid_grant", "RFC7523 §3 item 10"),
    "N108": ("sub_id.issuer not associated with iss (when sub_id used) -> 400 invalid_grant", "IDJAG §9.6, §3.2.2"),
    "N109": ("ID-JAG whose iss is the L2 issuer itself (self-issued, same domain) -> 400 invalid_grant", "IDJAG §9.4"),
    "N111": (
        'No Authorization header -> 401, WWW-Authenticate: Bearer resource_metadata="…"[, scope="…"], **no** error',
        "RFC6750 §3.1; MCP-AZ",
    ),
    "N112": ("Authorization: Basic … -> 401 as N111 (unsupported method = no credentials)", "RFC6750 §3.1"),
    "N113": ("Authorization: Bearer (empty) or Bearer a b -> 400 invalid_request", "RFC6750 §3.1"),
    "N114": ("Token only in ?access_token= -> 401 as N111 (query never read)", 'MCP-AZ "Token Requirements"'),
    "N116": ("Expired AT -> 401 invalid_token", "MCP-AZ; RFC9068 §4"),
    "N117": ("AT for …/tickets/mcp sent to …/files/mcp -> 401 invalid_token", 'RFC9068 §4; MCP-AZ "Token Handling"'),
    "N118": ("AT typ: JWT (or missing) -> 401 invalid_token", "RFC9068 §4"),
    "N119": ("ID-JAG sent as bearer token -> 401 invalid_token (typ + aud fail)", "RFC9068 §4"),
    "N121": (
        'Valid Okta-issued AT (other iss) -> 401 invalid_token ("MUST NOT accept or transit any other tokens")',
        "MCP-AZ",
    ),
    "N122": ("AT alg: none / HS256-with-public-key -> 401 invalid_token", "RFC9068 §4"),
    "N123": ("AT with unknown kid after one JWKS refresh -> 401 invalid_token", "RFC9068 §4"),
    "N124": (
        'Valid AT lacking files:write for a write tool -> 403 WWW-Authenticate: Bearer error="insufficient_scope", scope="files:write", resource_metadata="…"',
        'MCP-AZ "Runtime Insufficient Scope Errors"',
    ),
    "N126": ("DPoP-bound AT (cnf.jkt) sent with Bearer scheme -> 401 invalid_token", "RFC9449 §7.2"),
    "N127": (
        "Tool calls an upstream API: outbound request must not carry the inbound AT -> (assert)",
        'MCP-AZ "Access Token Privilege Restriction"; MCP-SBP',
    ),
    "N128": (
        "GET /.well-known/oauth-protected-resource/files/mcp -> 200 JSON, resource == https://mcp.example.com/files/mcp exactly",
        "RFC9728 §3.3",
    ),
    "N129": (
        "GET /.well-known/oauth-authorization-server/as -> 200, issuer == https://broker.example/as exactly; contains authorization_grant_profiles_supported...",
        "RFC8414 §3.3; IDJAG §7.2",
    ),
    "N131": ("JWKS contains no private members (d,p,q,dp,dq,qi,k) -> (assert)", "Policy"),
    "N132": ("Introspection without caller credentials -> 401", "RFC7662 §2.1"),
    "N133": ("Revocation of an unknown token -> 200", "RFC7009 §2.2"),
}
"""ID -> (behaviour, source)."""
