"""schemathesis against the OpenAPI document (the served one plus the security fragment),
without credentials, as a viewer and as an administrator: no 5xx, and no leak of personal
data or of a restricted layer to a caller without the right."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from .security_helpers import bearer, insert_sample, login

SECRET_NAME = "Phạm Thị Bí Mật"
PATHS = ("/auth/token", "/auth/refresh", "/auth/me", "/auth/password", "/admin/accounts",
         "/admin/accounts/{name}", "/admin/accounts/{name}/{action}",
         "/admin/accounts/{name}/apikeys", "/admin/apikeys/{key_id}", "/admin/review",
         "/collections", "/collections/land.parcels/items", "/collections/land.parcels",
         "/collections/infra.substations/items")


@pytest.fixture(scope="module")
def schema_document(live_server, db_url) -> dict:  # noqa: ANN001
    with psycopg.connect(db_url, autocommit=True) as conn:
        insert_sample(conn, "land.parcels", holder_name=SECRET_NAME, sheet_no=9200)
    served = httpx.get(live_server.url + "/openapi", params={"f": "json"}, timeout=60)
    assert served.status_code == 200, served.text[:300]
    document = served.json()
    # The served document itself carries the login and account routes.
    assert {"/auth/token", "/admin/accounts"} <= set(document["paths"])
    document["servers"] = [{"url": live_server.url}]
    return document


@pytest.mark.parametrize("who", ["anonymous", "viewer", "admin"])
def test_schemathesis_no_server_error_no_leak(live_server, schema_document, role_headers,
                                              role_accounts, db_url, who) -> None:  # noqa: ANN001
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    headers = dict(role_headers[who])
    if who == "admin":  # a session of its own: the generated calls may end sessions
        headers = bearer(login(live_server.url, role_accounts["admin"], db_url)["access_token"])
    schema = schemathesis.openapi.from_dict(schema_document)
    schema.config.update(base_url=live_server.url)
    failures: list[str] = []
    operations = 0
    for result in schema.include(path=list(PATHS)).get_all_operations():
        operation = result.ok()
        if operation.path == "/auth/logout":
            continue
        operations += 1

        @settings(max_examples=5, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case) -> None:  # noqa: ANN001
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")
            if who != "admin" and SECRET_NAME in response.text:
                failures.append(f"{case.method} {case.formatted_path} leaked personal data")
            if who != "admin" and '"infra.substations"' in response.text \
                    and response.status_code < 400:
                failures.append(f"{case.method} {case.formatted_path} named a restricted layer")
            case.validate_response(response, checks=(not_a_server_error,))

        check()
    assert operations >= 10
    assert not failures, failures
