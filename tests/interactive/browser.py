"""A scripted browser for the interactive flow: follows redirects with a cookie jar, fills forms.

It stops at a redirect to the OAuth client's redirect URI (never contacted) or at a page, so tests
can look at each step. Forms are read with the standard library's HTML parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

__all__ = ["Browser", "Form", "Stop", "read_form"]


@dataclass
class Form:
    """The first form of a page: its method, absolute action and hidden fields."""

    method: str
    action: str
    hidden: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.form is None:
            self.form = Form(a.get("method", "get").lower(), a.get("action", ""))
        elif self.form is not None and tag == "input" and a.get("type") == "hidden":
            self.form.hidden[a.get("name", "")] = a.get("value", "")
        elif self.form is not None and tag == "button" and a.get("name"):
            self.form.buttons.append((a["name"], a.get("value", "")))


def read_form(html: str, base: str) -> Form:
    """The page's first form, its action made absolute against ``base``."""
    parser = _FormParser()
    parser.feed(html)
    assert parser.form is not None, "the page has no form"
    parser.form.action = urljoin(base, parser.form.action)
    return parser.form


@dataclass
class Stop:
    """Where the walk stopped: a redirect to the client (``params``), or a page (``response``)."""

    response: httpx.Response
    location: str | None = None

    @property
    def params(self) -> dict[str, str]:
        """Query parameters of the redirect to the client."""
        assert self.location is not None, f"stopped at a page: {self.response.status_code} {self.response.text[:300]}"
        return {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}

    @property
    def page(self) -> str:
        """The HTML of the page the walk stopped at."""
        assert self.location is None, f"stopped at a redirect to {self.location}"
        return self.response.text


class Browser:
    """One browser: its own cookie jar."""

    def __init__(self, client_redirect_prefix: str) -> None:
        self.http = httpx.AsyncClient(follow_redirects=False, timeout=10.0)
        self.client_redirect_prefix = client_redirect_prefix

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def walk(self, url: str, *, method: str = "GET", data: dict[str, str] | None = None) -> Stop:
        """Request ``url`` and follow redirects until the client's redirect URI or a page."""
        response = await self.http.request(method, url, data=data)
        for _ in range(10):
            location = response.headers.get("location")
            if response.status_code not in (302, 303) or location is None:
                return Stop(response)
            target = urljoin(str(response.url), location)
            if target.startswith(self.client_redirect_prefix):
                return Stop(response, target)
            response = await self.http.get(target)
        raise AssertionError("too many redirects")

    async def submit(self, stop: Stop, **fields: str) -> Stop:
        """Submit the page's first form with its hidden fields plus ``fields``."""
        form = read_form(stop.page, str(stop.response.url))
        data = {**form.hidden, **fields}
        if form.method == "post":
            return await self.walk(form.action, method="POST", data=data)
        return await self.walk(str(httpx.URL(form.action, params=data)))
