"""HTML for the sign-in page and the error page: plain, accessible, no script, every value escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final
from urllib.parse import urlsplit

from litestar import MediaType, Response

from idp_mock.settings import UserConfig

__all__ = ["error_page", "login_page"]

_STYLE: Final = """
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { margin: 0; background: #f3f4f6; color: #111827; }
main { max-width: 28rem; margin: 3rem auto; background: #fff; border: 1px solid #d1d5db;
       border-radius: 8px; padding: 2rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
p.lead { margin: 0 0 1.5rem; color: #374151; }
fieldset { border: 0; margin: 0 0 1.5rem; padding: 0; }
legend { font-weight: 600; margin-bottom: .5rem; }
label.user { display: flex; gap: .75rem; align-items: flex-start; padding: .75rem; margin-bottom: .5rem;
             border: 1px solid #d1d5db; border-radius: 6px; cursor: pointer; }
label.user:hover { border-color: #1d4ed8; }
input[type=radio] { margin-top: .3rem; width: 1.1rem; height: 1.1rem; accent-color: #1d4ed8; }
.name { font-weight: 600; display: block; }
.meta { color: #4b5563; font-size: .9rem; display: block; }
.actions { display: flex; gap: .75rem; }
button { font: inherit; padding: .6rem 1.2rem; border-radius: 6px; border: 1px solid #1d4ed8; cursor: pointer; }
button.primary { background: #1d4ed8; color: #fff; }
button.secondary { background: #fff; color: #1d4ed8; }
button:focus-visible, input:focus-visible, label.user:focus-within { outline: 3px solid #f59e0b; outline-offset: 2px; }
.error { background: #fef2f2; border: 1px solid #b91c1c; color: #7f1d1d; padding: .75rem; border-radius: 6px; }
footer { margin-top: 1.5rem; font-size: .8rem; color: #4b5563; }
"""

_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _csp(form_targets: Sequence[str]) -> str:
    """No script, no framing (clickjacking, RFC 6749 §10.13); forms may post here and redirect to the client."""
    targets = " ".join(["'self'", *form_targets])
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; "
        f"frame-ancestors 'none'; form-action {targets}"
    )


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )


def _user_option(user: UserConfig, index: int, checked: bool) -> str:
    groups = ", ".join(user.groups) or "no groups"
    ident = f"user-{index}"
    return (
        f'<label class="user" for="{ident}">'
        f'<input type="radio" id="{ident}" name="username" value="{escape(user.username)}" required'
        f'{" checked" if checked else ""} aria-labelledby="{ident}-name" aria-describedby="{ident}-meta">'
        f'<span><span class="name" id="{ident}-name">{escape(user.name)}</span>'
        f'<span class="meta" id="{ident}-meta">{escape(user.email)} · groups: {escape(groups)}</span></span>'
        "</label>"
    )


def login_page(
    *,
    action: str,
    client_id: str,
    redirect_uri: str,
    users: Sequence[UserConfig],
    login_id: str,
    csrf_token: str,
    error: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    """The sign-in form: pick a user, then "Sign in" (or "Cancel", which returns ``access_denied``)."""
    options = "\n".join(_user_option(u, i, checked=i == 0) for i, u in enumerate(users))
    alert = f'<p class="error" role="alert">{escape(error)}</p>\n' if error else ""
    body = (
        "<h1>Sign in</h1>\n"
        f'<p class="lead">to continue to <strong>{escape(client_id)}</strong></p>\n'
        f"{alert}"
        f'<form method="post" action="{escape(action)}">\n'
        f'<input type="hidden" name="login_id" value="{escape(login_id)}">\n'
        f'<input type="hidden" name="csrf_token" value="{escape(csrf_token)}">\n'
        f"<fieldset>\n<legend>Choose a user</legend>\n{options}\n</fieldset>\n"
        '<div class="actions">\n'
        '<button type="submit" class="primary" name="action" value="sign_in">Sign in</button>\n'
        '<button type="submit" class="secondary" name="action" value="cancel" formnovalidate>Cancel</button>\n'
        "</div>\n</form>\n"
        "<footer>idp_mock: a mock identity provider for demos and tests. No passwords.</footer>"
    )
    target = urlsplit(redirect_uri)
    headers = {**_HEADERS, "Content-Security-Policy": _csp([f"{target.scheme}://{target.netloc}"])}
    return Response(
        _document("Sign in · idp_mock", body), status_code=status_code, media_type=MediaType.HTML, headers=headers
    )


def error_page(message: str, *, status_code: int = 400) -> Response[str]:
    """An error shown to the user instead of redirecting to an unverified URI (RFC 6749 §4.1.2.1)."""
    body = (
        "<h1>Sign-in error</h1>\n"
        f'<p class="error" role="alert">{escape(message)}</p>\n'
        "<p>Return to the application and start again.</p>"
    )
    headers = {**_HEADERS, "Content-Security-Policy": _csp([])}
    return Response(
        _document("Sign-in error · idp_mock", body), status_code=status_code, media_type=MediaType.HTML, headers=headers
    )
