"""The one error table: every 503 answer says when to retry (Retry-After), whichever part
raised it, and the security middleware's answers use the same headers."""

from __future__ import annotations

import importlib

import pytest

from iocgis.api.errors import error_headers, error_response
from iocgis.errors import IocgisError

# modules whose errors can reach an HTTP answer (the services a request may depend on)
for module in ("iocgis.redis_local", "iocgis.live.broker", "iocgis.errors"):
    importlib.import_module(module)


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


UNAVAILABLE = sorted({c for c in _subclasses(IocgisError) if c.http_status == 503},
                     key=lambda c: c.__qualname__)


def test_the_services_errors_are_found() -> None:
    names = {c.__name__ for c in UNAVAILABLE}
    assert {"DatabaseError", "TemporarilyUnavailable", "RedisUnavailable",
            "BrokerError"} <= names, names


@pytest.mark.parametrize("error", UNAVAILABLE, ids=lambda c: c.__name__)
def test_every_503_says_when_to_retry(error: type) -> None:
    exc = error("the service is away", where="service", hint="retry in a moment")
    response = error_response(exc)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert error_headers(exc) == {"Retry-After": response.headers["Retry-After"]}


def test_a_refusal_carries_no_retry_after() -> None:
    from iocgis.errors import InvalidInput

    assert "Retry-After" not in error_response(InvalidInput("bad", where="x", hint="y")).headers
