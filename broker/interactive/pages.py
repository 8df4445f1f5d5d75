"""The interactive flow's pages: plain HTML, no script, every value escaped.

Headers on every page: ``no-store``; ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` so the
consent form cannot be framed for clickjacking (RFC 9700 §4.16); no referrer leaks the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from litestar import MediaType, Response

__all__ = ["PAGE_HEADERS", "chooser_page", "consent_page", "error_page"]

PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.4rem}.box{border:1px solid #ccc;border-radius:8px;padding:1rem 1.25rem}"
    "button{font-size:1rem;padding:.5rem 1rem;margin:.25rem .5rem .25rem 0;cursor:pointer}"
    "ul{padding-left:1.25rem}code{background:#f3f3f3;padding:0 .25rem}.muted{color:#666;font-size:.9rem}"
)


def _page(title: str, body: str, status_code: int = 200) -> Response[str]:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return Response(html, status_code=status_code, media_type=MediaType.HTML, headers=PAGE_HEADERS)


def error_page(message: str, *, status_code: int = 400) -> Response[str]:
    """An error the user sees instead of a redirect (RFC 6749 §4.1.2.1: no verified redirect URI)."""
    return _page(
        "Sign-in error",
        f'<h1>Sign-in cannot continue</h1><div class="box" id="error"><p>{escape(message)}</p></div>'
        '<p class="muted">Return to the application and start again.</p>',
        status_code,
    )


def chooser_page(action: str, handle: str, idps: Sequence[tuple[str, str]]) -> Response[str]:
    """The IdP chooser: one button per IdP that allows sign-in (``(name, display name)`` pairs)."""
    buttons = "".join(
        f'<button type="submit" name="idp" value="{escape(name)}">{escape(label)}</button>' for name, label in idps
    )
    return _page(
        "Choose your organisation",
        "<h1>Sign in with your organisation</h1>"
        f'<form class="box" method="get" action="{escape(action)}">'
        f'<input type="hidden" name="signin" value="{escape(handle)}">{buttons}</form>',
    )


def consent_page(
    *,
    action: str,
    handle: str,
    csrf: str,
    client_name: str,
    client_id: str,
    redirect_host: str,
    resource_name: str,
    resource: str,
    scopes: Sequence[str],
    user: str,
) -> Response[str]:
    """Ask the signed-in user to allow the client the granted scopes at one resource."""
    items = "".join(f"<li><code>{escape(s)}</code></li>" for s in scopes)
    return _page(
        "Allow access?",
        f"<h1>Allow {escape(client_name)} to act for you?</h1>"
        f'<div class="box"><p>Signed in as <strong id="user">{escape(user)}</strong>.</p>'
        f'<p><strong id="client">{escape(client_name)}</strong> '
        f'<span class="muted">({escape(client_id)}, returning to <code>{escape(redirect_host)}</code>)</span> '
        f'asks for access to <strong id="resource">{escape(resource_name)}</strong> '
        f'<span class="muted">({escape(resource)})</span> with:</p><ul id="scopes">{items}</ul>'
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="signin" value="{escape(handle)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(csrf)}">'
        '<button type="submit" name="decision" value="allow" id="allow">Allow</button>'
        '<button type="submit" name="decision" value="deny" id="deny">Deny</button>'
        "</form></div>",
    )
