"""Checklist rules the broker does not test here, each with the reason (reviewed, not a silent gap)."""

from __future__ import annotations

from typing import Final

_DPOP = "DPoP (RFC 9449) is not offered; key-bound ID-JAGs are refused (tested as N103)."
_RS = "Resource-server rule: enforced and tested by mcp_server (tests/mcp_server)."
_TENANT = "Multi-tenant IdPs are configured as one trust entry per tenant issuer; no tenant claim mapping yet."

NOT_APPLICABLE: Final[dict[str, str]] = {
    "L1-32": "Step-up (insufficient_user_authentication) is TBD in the draft (OQ-21); max_id_token_age covers age.",
    "N38": "Step-up is TBD in the draft (OQ-21).",
    "L1-33": _TENANT,
    "N37": _TENANT,
    "L2-29": _TENANT,
    "N102": _TENANT,
    "L1-34": "Refresh tokens and SAML assertions are not accepted as subject tokens (only id_token, tested as N21).",
    "L1-55": _DPOP,
    "N49": _DPOP,
    "N104": _DPOP,
    "N106": _DPOP,
    "L2-34": _DPOP,
    "L2-63": _DPOP,
    "MD-11": _DPOP,
    "MD-14": "No dynamic client registration; CIMD clients get the interactive grants only, never ID-JAG ones.",
    "L2-30": "sub_id is never read, so it can never establish trust; subjects come from sub only.",
    "N108": "sub_id is never read (see L2-30).",
    "N97": "The broker federates subjects; there is no local user directory or JIT provisioning to deny.",
    "N98": "No per-user entitlement store; policy denials use invalid_grant per DESIGN OQ-5 (tested as N47).",
    "MD-09": _RS,
    "MD-10": _RS,
    **{f"N{i}": _RS for i in (111, 112, 113, 114, 116, 117, 118, 119, 121, 122, 123, 124, 126, 127, 128)},
}
"""ID -> why no broker test performs it."""
