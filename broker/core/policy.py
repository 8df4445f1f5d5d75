"""Trust lookups and the policy decision (IdP x client x resource x scope x groups).

Pure: built once from the validated settings, queried per request. The decision follows DESIGN
OQ-5: an unknown or unpermitted target is ``invalid_target``; a scope outside what may be granted
is ``invalid_scope``; a user outside the allowed groups is ``invalid_grant`` with a generic text,
the precise reason going to the audit log only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from broker.errors import InvalidGrant, InvalidScope, InvalidTarget
from broker.settings import (
    BrokerSettings,
    ClientConfig,
    ExternalAuthorizationServer,
    IdpTrust,
    PolicyRule,
    ResourceConfig,
)

__all__ = ["Target", "TrustIndex"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where an ID-JAG or access token will be used: one authorization server and (optionally) one resource."""

    audience: str
    """The authorization server's issuer (the ID-JAG ``aud``)."""
    resource: str | None
    """The MCP server's resource identifier (RFC 8707)."""
    ours: bool
    """True when ``audience`` is the broker's own leg 2."""
    scopes: frozenset[str] | None
    """Scopes meaningful for the resource (None: unknown, an external AS's resource)."""


class TrustIndex:
    """Precomputed lookups over the operator's trust configuration."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.settings = settings
        self.idp_by_issuer: Mapping[str, IdpTrust] = {i.issuer: i for i in settings.idp}
        self.idp_by_name: Mapping[str, IdpTrust] = {i.name: i for i in settings.idp}
        self.clients: Mapping[str, ClientConfig] = {c.client_id: c for c in settings.client}
        self.resources: Mapping[str, ResourceConfig] = {r.resource: r for r in settings.resource}
        self.externals: Mapping[str, ExternalAuthorizationServer] = {e.issuer: e for e in settings.external_as}
        rules: dict[tuple[str, str, str], list[PolicyRule]] = {}
        for rule in settings.policy:
            for client in rule.clients:
                for res in rule.resources:
                    rules.setdefault((rule.idp, client, res), []).append(rule)
        self._rules = rules

    def resolve_target(self, audience: str, resource: str | None) -> Target:
        """Check the ``(audience, resource)`` pair against the pair table (EMA §7.6.1, ID-JAG §4.3).

        Our own leg 2 requires a registered ``resource`` (DESIGN OQ-6); an external AS may omit it.

        Raises:
            InvalidTarget: unknown audience, missing/unknown resource, or a resource another AS governs.
        """
        if audience == self.settings.as_issuer:
            if resource is None:
                raise InvalidTarget("The resource parameter is required for this audience.")
            res = self.resources.get(resource)
            if res is None:
                raise InvalidTarget(
                    "The resource is not governed by the requested audience.",
                    detail=f"resource not registered at {audience}",
                )
            return Target(audience, resource, True, frozenset(res.scopes))
        ext = self.externals.get(audience)
        if ext is None:
            raise InvalidTarget("The audience is not a known authorization server.", detail="unknown audience")
        if resource is not None and resource not in ext.resources:
            raise InvalidTarget(
                "The resource is not governed by the requested audience.",
                detail="resource not in external_as",
            )
        return Target(audience, resource, False, None)

    def allowed_scopes(
        self, idp: IdpTrust, client_id: str, target: Target, groups: Iterable[str] | None
    ) -> frozenset[str]:
        """Scopes policy grants this user and client for the target.

        ``groups`` None means the caller already enforced group membership upstream (an ID-JAG minted by
        our own leg 1); otherwise a rule with ``groups`` matches only if the user is in one of them.

        Raises:
            InvalidTarget: no rule names this IdP, client and resource.
            InvalidGrant: rules exist but the user is in none of their groups (generic text, OQ-5).
        """
        key_resource = target.resource if target.resource is not None else target.audience
        rules = self._rules.get((idp.name, client_id, key_resource))
        if not rules:
            raise InvalidTarget(
                "The client is not allowed to access the requested resource.",
                detail=f"no policy rule for idp={idp.name} client={client_id}",
            )
        user_groups = None if groups is None else frozenset(groups)
        matching = [r for r in rules if not r.groups or user_groups is None or user_groups & set(r.groups)]
        if not matching:
            raise InvalidGrant(
                "The user is not allowed to access the requested resource.",
                detail=f"user not in any group of the policy rules for idp={idp.name} client={client_id}",
            )
        granted = frozenset(s for r in matching for s in r.scopes)
        if target.scopes is not None:
            granted &= target.scopes
        return granted

    @staticmethod
    def narrow(requested: frozenset[str] | None, allowed: frozenset[str], *, ceiling: str) -> frozenset[str]:
        """Scope rule: a request outside ``allowed`` is refused; an omitted scope means all allowed.

        ID-JAG §4.3.3 / RFC 7521 §4.1 / DESIGN OQ-9. ``ceiling`` names what bounds the scope, for the text.

        Raises:
            InvalidScope: a requested scope is not allowed, or nothing at all can be granted.
        """
        if requested is None:
            if not allowed:
                raise InvalidScope(f"No scope can be granted within the {ceiling}.")
            return allowed
        extra = requested - allowed
        if extra:
            raise InvalidScope(
                f"The requested scope exceeds the {ceiling}.",
                detail=f"not grantable: {' '.join(sorted(extra))}",
            )
        if not requested:
            raise InvalidScope(f"No scope can be granted within the {ceiling}.")
        return requested

    def subject_for(self, idp: IdpTrust, sub: str) -> str:
        """The broker's subject for a user: ``<idp name>|<sub>`` or the plain ``sub`` (DESIGN OQ-1)."""
        return f"{idp.name}|{sub}" if idp.subject == "namespaced" else sub
