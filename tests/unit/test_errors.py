"""STYLE P3: one hierarchy, every code an RFC code, statuses in a small set."""

from __future__ import annotations

from pathlib import Path

import broker.errors as errors
from broker.errors import ERROR_CODES, InvalidClient, OAuthError, StoreUnavailable


def _subclasses(cls: type[OAuthError]) -> list[type[OAuthError]]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_every_error_class_has_a_registered_code_and_sane_status() -> None:
    for cls in _subclasses(OAuthError):
        assert cls.error in ERROR_CODES
        assert cls.status_code in {400, 401, 403, 500, 503}


def test_error_codes_are_spelled_only_in_errors_module() -> None:
    root = Path(errors.__file__).parent
    for path in root.rglob("*.py"):
        if path.name == "errors.py":
            continue
        text = path.read_text()
        for code in ERROR_CODES:
            assert f'"{code}"' not in text, f"{path}: spells {code}"


def test_private_detail_is_not_the_public_text() -> None:
    e = InvalidClient(detail="secret-ish reason")
    assert e.description == "Client authentication failed."
    assert "secret-ish" not in str(e)
    assert e.headers == {"WWW-Authenticate": 'Basic realm="xaa-broker"'}


def test_store_unavailable_is_503_with_retry_after() -> None:
    e = StoreUnavailable(detail="redis down")
    assert (e.status_code, e.error, e.headers) == (503, "temporarily_unavailable", {"Retry-After": "1"})
