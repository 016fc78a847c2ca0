"""Requests run as the least-privileged database role when ``serving_role`` names it:
every kind of path still answers, and the audit trail cannot be changed from the server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest

from iocgis.layers import get_registry
from iocgis.roles import dbroles
from iocgis.settings import Settings

from ..conftest import LiveServer, scratch_database
from .security_helpers import _create, api_key_for, insert_sample, login, run_async


@pytest.fixture(scope="module")
def served(base_settings: Settings) -> Iterator[tuple[LiveServer, str, dict[str, str]]]:
    with scratch_database(base_settings, "role") as url:
        settings = base_settings.model_copy(update={"database_url": url})
        with psycopg.connect(url, autocommit=True) as conn:
            dbroles.sync(conn, get_registry(), settings.security)
            insert_sample(conn, "emergency.incidents")
            insert_sample(conn, "land.parcels")
        api = dbroles.api_role(settings.security)
        analyst = run_async(_create(url, settings, "role_analyst", ["analyst"]))
        officer = run_async(_create(url, settings, "role_officer", ["gis_officer"]))
        admin = run_async(_create(url, settings, "role_admin", ["admin"], totp=True))
        server = LiveServer(settings.model_copy(update={"serving_role": api})).start()
        try:
            yield server, api, {"analyst": analyst, "officer": officer, "admin": admin,
                                "analyst_key": api_key_for(url, "role_analyst"), "url": url}
        finally:
            server.stop()


def test_the_server_connects_as_the_serving_role(served) -> None:  # noqa: ANN001
    server, api, _ = served
    ready = httpx.get(server.url + "/ready", timeout=30).json()
    assert ready["db_role"] == api


def test_every_kind_of_path_answers_under_the_serving_role(served) -> None:  # noqa: ANN001
    server, _, who = served
    key = {"X-API-Key": who["analyst_key"]}
    paths = [
        "/collections?f=json",
        "/collections/emergency.incidents/items?f=json",
        "/collections/land.parcels/items?f=json",
        "/collections/catalog/items?f=json",
        "/tiles/basemap.json",
        "/tiles/land/14/13174/7575.mvt",
        "/collections/emergency.incidents/tiles/WebMercatorQuad/10/482/815?f=mvt",
        "/query/radius?lon=106.82&lat=10.95&radius_m=2000&layers=emergency.incidents",
        "/query/kpi/alerts",
        "/scenarios",
        "/styles/basemap.json",
    ]
    for path in paths:
        response = httpx.get(server.url + path, headers=key, timeout=60)
        assert response.status_code in (200, 204), (path, response.status_code, response.text[:300])
    # Logging in writes the session and the audit trail: granted to the serving role.
    token = login(server.url, who["officer"])["access_token"]
    me = httpx.get(server.url + "/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


def test_account_lifecycle_over_the_admin_api_under_the_serving_role(served) -> None:  # noqa: ANN001
    server, _, who = served
    token = login(server.url, who["admin"], who["url"])["access_token"]
    admin = {"Authorization": f"Bearer {token}"}
    created = httpx.post(server.url + "/admin/accounts", headers=admin,
                         json={"name": "role.created", "roles": ["viewer"]})
    assert created.status_code == 201, created.text
    for action, payload in (("grant", {"roles": ["analyst"]}), ("lock", {"reason": "x"}),
                            ("unlock", {}), ("revoke", {})):
        response = httpx.post(f"{server.url}/admin/accounts/role.created/{action}",
                              headers=admin, json=payload)
        assert response.status_code == 200, (action, response.text)


def test_the_serving_role_cannot_change_the_audit_trail(served, base_settings) -> None:  # noqa: ANN001
    server, api, _ = served
    url = server.app.state.iocgis.serving_url
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == api
        assert conn.execute("SELECT count(*) FROM audit.events").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit.events")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE land.parcels")
