"""Hardening: body size (413), rate limits (429), security headers, CORS, no stack traces,
second factor from outside the organisation's networks, proxies."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from iocgis.security.settings import SecuritySettings
from iocgis.settings import Settings

from ..conftest import LiveServer
from .security_helpers import api_key_for, audit_actions, bearer, login, totp_now

ORIGIN = "https://ioc.dongnai.gov.vn"


def _server(settings: Settings, **security) -> LiveServer:
    strict = settings.model_copy(update={"security": SecuritySettings(**security)})
    return LiveServer(strict).start()


@pytest.fixture(scope="module")
def limited(live_server, settings) -> Iterator[object]:  # noqa: ANN001
    # 20 requests, then one a minute: the tests before the rate-limit test use fewer than 20,
    # and a slow machine cannot refill the bucket during it.
    server = _server(settings, rate_limit_exempt=[], rate_limit_per_minute=1,
                     rate_limit_burst=20, max_body_bytes=4096, cors_origins=[ORIGIN])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def outside(live_server, settings) -> Iterator[object]:  # noqa: ANN001
    """Every client counts as outside the organisation; 127.0.0.1 is a trusted proxy."""
    server = _server(settings, internal_networks=[],
                     trusted_proxies=["127.0.0.0/8"])
    yield server
    server.stop()


def test_oversized_body_is_413_before_it_is_read(limited) -> None:  # noqa: ANN001
    response = httpx.post(limited.url + "/auth/token", content=b"x" * 10_000,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413 and response.json()["code"] == "PayloadTooLarge"


def test_oversized_chunked_body_is_413(limited) -> None:  # noqa: ANN001
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"username=" + b"a" * 1000

    response = httpx.post(limited.url + "/auth/token", content=chunks(),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_security_headers_and_no_stack_traces(limited) -> None:  # noqa: ANN001
    for path in ("/health", "/admin/apikeys/not-a-number", "/auth/me"):
        response = httpx.get(limited.url + path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "Traceback" not in response.text and 'File "' not in response.text


def test_cors_follows_settings(limited) -> None:  # noqa: ANN001
    allowed = httpx.options(limited.url + "/auth/me", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    other = httpx.options(limited.url + "/auth/me", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in other.headers
    plain = httpx.get(limited.url + "/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


def test_rate_limit_is_429_with_retry_after_and_logged(limited, db_url) -> None:  # noqa: ANN001
    statuses = [httpx.get(limited.url + "/health").status_code for _ in range(40)]
    assert 429 in statuses
    refused = httpx.get(limited.url + "/health")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert any(e[5].get("status") == 429 for e in audit_actions(db_url, action="http.refused"))


def test_outside_the_network_a_second_factor_is_required(outside, make_account,
                                                         db_url) -> None:  # noqa: ANN001
    plain = make_account("viewer")
    refused = httpx.post(outside.url + "/auth/token",
                         data={"username": plain.name, "password": plain.password})
    assert refused.status_code == 401 and refused.json()["code"] == "MfaRequired"
    with_totp = make_account("viewer", totp=True)
    tokens = login(outside.url, with_totp, db_url)
    assert httpx.get(outside.url + "/auth/me",
                     headers=bearer(tokens["access_token"])).json()["mfa"] is True
    # A machine key bound to the (now empty) internal networks is refused from outside.
    key = api_key_for(db_url, plain.name)
    assert httpx.get(outside.url + "/auth/me", headers={"X-API-Key": key}).status_code == 401


def test_a_session_opened_inside_without_totp_cannot_be_used_outside(
        live_server, outside, make_account) -> None:  # noqa: ANN001
    account = make_account("analyst")
    token = login(live_server.url, account)["access_token"]  # inside: no second factor
    assert httpx.get(live_server.url + "/auth/me", headers=bearer(token)).status_code == 200
    assert httpx.get(outside.url + "/auth/me", headers=bearer(token)).status_code == 401


def test_trusted_proxy_gives_client_address_and_hsts(outside, db_url) -> None:  # noqa: ANN001
    response = httpx.get(outside.url + "/auth/me", headers={
        "X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https",
        "Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert any(e[0] == "http.refused" for e in audit_actions(db_url, client="198.51.100.7"))


def test_totp_code_is_single_use(live_server, make_account, db_url) -> None:  # noqa: ANN001
    """The very code that opened a session is refused the second time (the same code is
    replayed: asking for "the current code" again could fall in the next 30 s step)."""
    account = make_account("viewer", totp=True)
    data = {"username": account.name, "password": account.password,
            "totp": totp_now(account.totp_secret)}
    first = httpx.post(live_server.url + "/auth/token", data=data, timeout=30)
    assert first.status_code == 200, first.text
    again = httpx.post(live_server.url + "/auth/token", data=data, timeout=30)
    assert again.status_code == 401


@pytest.mark.parametrize("levels", [40, 100_000])  # past the limit; past Python's recursion
@pytest.mark.parametrize("path, params", [
    ("/auth/token", {}), ("/auth/refresh", {}), ("/auth/password", {}),
    ("/query/region", {"layers": "emergency.shelters"}),
])
def test_deeply_nested_json_is_a_clear_400(live_server, path, params, levels) -> None:  # noqa: ANN001
    nested = "[" * levels + "]" * levels
    body = f'{{"type": "Polygon", "username": {nested}, "coordinates": {nested}}}'
    response = httpx.post(live_server.url + path, params=params, content=body.encode(),
                          headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 400, response.text
    assert "nests deeper than 32 levels" in response.json()["description"]


def test_json_at_the_depth_limit_is_read() -> None:
    from iocgis.errors import InvalidInput
    from iocgis.jsonbody import MAX_DEPTH, parse_json

    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert parse_json('{"a": ' * (MAX_DEPTH - 1) + "[]" + "}" * (MAX_DEPTH - 1))
    with pytest.raises(InvalidInput, match="nests deeper"):
        parse_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(InvalidInput, match="not JSON"):
        parse_json(b"\xff{")
