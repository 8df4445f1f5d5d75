"""The interactive fallback (issue 7): authorization code + PKCE at leg 2 with federated sign-in.

MCP clients that do not speak SEP-990 follow the MCP authorization spec's core flow (RFC 9728
discovery, then authorization code + PKCE). Here the broker's leg 2 serves that flow: it sends the
user to a trusted enterprise IdP as an OIDC relying party, validates the returned ID token with the
same per-IdP trust as leg 1, applies the same policy, and only then issues a code.
"""
