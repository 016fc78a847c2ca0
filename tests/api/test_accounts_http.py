"""The OGC API with real accounts (API keys through the security middleware): each caller sees
its level's collections, and personal data only with the PII right."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from iocgis.settings import Settings


async def _key(url: str, settings: Settings, name: str, roles: list[str], pii: bool) -> str:
    from iocgis.security import accounts, login

    actor = accounts.Actor("tests")
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await accounts.create(conn, settings.security, actor, name=name, roles=roles, pii=pii)
        # API keys work once no temporary password is left (what `accounts passwd` does).
        await conn.execute("UPDATE security.accounts SET must_change_password = false "
                           "WHERE name = %s", (name,))
        key, _ = await login.create_api_key(conn, actor, name, label="ogc tests", days=1)
    return key


@pytest.fixture(scope="module")
def keys(ogc_db_url: str, ogc_settings: Settings) -> dict[str, str]:
    return {name: asyncio.run(_key(ogc_db_url, ogc_settings, f"ogc_{name}", roles, pii))
            for name, roles, pii in (("analyst", ["analyst"], False),
                                     ("analyst_pii", ["analyst"], True),
                                     ("officer", ["gis_officer"], False),
                                     ("admin", ["admin"], True))}


def _ids(ogc: httpx.Client, key: str) -> set[str]:
    body = ogc.get("/collections", headers={"X-API-Key": key}).json()
    return {c["id"] for c in body["collections"]}


def test_each_level_sees_its_collections(ogc: httpx.Client, keys: dict[str, str]) -> None:
    analyst, officer = _ids(ogc, keys["analyst"]), _ids(ogc, keys["officer"])
    assert {"land.parcels", "housing.houses", "citizen.reports"} <= analyst
    assert "infra.substations" not in analyst
    assert "infra.substations" in officer
    response = ogc.get("/collections/infra.substations/items", headers={"X-API-Key": keys["analyst"]})
    assert response.status_code == 404


def test_personal_data_needs_the_pii_right(ogc: httpx.Client, keys: dict[str, str]) -> None:
    items = "/collections/land.parcels/items"
    analyst = ogc.get(items, headers={"X-API-Key": keys["analyst"]})
    assert analyst.status_code == 200
    assert "holder_name" not in analyst.text and "Nguyễn Văn A" not in analyst.text
    assert ogc.get(items, params={"sortby": "holder_name"},
                   headers={"X-API-Key": keys["analyst"]}).status_code == 400
    named = ogc.get(items, params={"filter": "holder_name LIKE 'Nguyễn%'"},
                    headers={"X-API-Key": keys["analyst_pii"]})
    assert named.status_code == 200, named.text[:300]
    assert named.json()["features"][0]["properties"]["holder_name"] == "Nguyễn Văn A"
    queryables = ogc.get("/collections/emergency.incidents/queryables",
                         headers={"X-API-Key": keys["analyst_pii"]}).json()
    assert "reporter_phone" in queryables["properties"]


def test_an_admin_key_reads_no_restricted_layer_nor_personal_data(
        ogc: httpx.Client, keys: dict[str, str]) -> None:
    """An administrator's API key has no second factor: it reads as an analyst (no restricted
    layer, no personal data); a TOTP session is needed for those."""
    admin = {"X-API-Key": keys["admin"]}
    assert "infra.substations" not in _ids(ogc, keys["admin"])
    assert ogc.get("/collections/infra.substations/items", headers=admin).status_code == 404
    items = ogc.get("/collections/land.parcels/items", headers=admin)
    assert items.status_code == 200 and "Nguyễn Văn A" not in items.text
    refused = ogc.get("/collections/land.parcels/items",
                      params={"filter": "holder_name LIKE 'Nguyễn%'"}, headers=admin)
    assert refused.status_code == 400 and "holder_name" in refused.text
