"""``iocgis import … --submit`` and ``iocgis imports pending|show|approve|reject|list|steward``
at the shell (main() in this process, the real database), approval applying."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import psycopg
import pytest

from iocgis.security import accounts
from iocgis.security.accounts import Actor
from iocgis.security.settings import SecuritySettings

from .importer_fixtures import parcels, places, write_vector
from .test_import_cli import Done, cli  # noqa: F401 - the fixture

__all__ = ["Done"]


@pytest.fixture
def review_cli(cli, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201, F811
    monkeypatch.setenv("IOCGIS_IMPORTS_AUTO_APPROVE", "0")  # a province's platform
    return cli


def test_submit_show_refuse_approve_at_the_shell(review_cli, run, imp_conn,
                                                 tmp_path: Path) -> None:
    geoms, fields = parcels(3)
    run(write_vector(tmp_path / "cu.gpkg", geoms, fields), "land.parcels")
    fields["land_use"] = ["ODT", "TMD", "ODT"]
    changed = write_vector(tmp_path / "moi.gpkg", geoms, fields)
    done = review_cli("import", str(changed), "--layer", "land.parcels", "--user", "officer_c",
                      "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "pending"
    import_id = report["import_id"]
    plain = review_cli("import", str(changed), "--layer", "land.parcels")
    assert plain.returncode == 6 and "waiting for approval" in plain.stderr
    assert f"iocgis imports show {import_id}" in plain.stderr
    listed = json.loads(review_cli("imports", "pending", "--json").stdout)
    assert [r["import_id"] for r in listed] == [import_id]
    assert listed[0]["diff"]["changed"] == 1
    shown = json.loads(review_cli("imports", "show", str(import_id), "--changes", "changed",
                                  "--json").stdout)
    assert shown["changes"]["rows"][0]["after"] == {"land_use": "TMD"}
    table = review_cli("imports", "show", str(import_id), "--changes", "changed")
    assert "1 added" not in table.stdout and "1 changed" in table.stdout
    four_eyes = review_cli("imports", "approve", str(import_id), "--user", "officer_c")
    assert four_eyes.returncode != 0 and "four eyes" in four_eyes.stderr
    approved = review_cli("imports", "approve", str(import_id), "--user", "steward_c", "--json")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["status"] == "approved"
    assert dict(imp_conn.execute("SELECT parcel_no, land_use FROM land.parcels").fetchall())[
        2] == "TMD"
    both = review_cli("import", str(changed), "--layer", "land.parcels", "--submit",
                      "--auto-approve")
    assert both.returncode == 2 and "contradict" in both.stderr


def test_reject_list_and_steward_groups_at_the_shell(review_cli, imp_url: str,
                                                     tmp_path: Path) -> None:
    geoms, fields = places(2)
    path = write_vector(tmp_path / "diem.gpkg", geoms, fields)
    done = review_cli("import", str(path), "--layer", "base.places", "--json")
    assert done.returncode == 0, done.stderr
    import_id = json.loads(done.stdout)["import_id"]
    no_reason = review_cli("imports", "reject", str(import_id))
    assert no_reason.returncode == 2
    rejected = review_cli("imports", "reject", str(import_id), "--reason", "Sai hệ toạ độ")
    assert rejected.returncode == 0, rejected.stderr
    listed = json.loads(review_cli("imports", "list", "--status", "rejected", "--json").stdout)
    assert listed[0]["import_id"] == import_id and listed[0]["reason"] == "Sai hệ toạ độ"
    assert review_cli("imports", "list").returncode == 0
    again = review_cli("imports", "approve", str(import_id))
    assert again.returncode == 6 and "is rejected" in again.stderr

    async def make() -> None:
        async with await psycopg.AsyncConnection.connect(imp_url, autocommit=True) as conn:
            await accounts.create(conn, SecuritySettings(), Actor("pytest"), name="cli_steward",
                                  roles=["data_steward"], password="Quan-Ly-Du-Lieu-2026!")

    asyncio.run(make())
    set_groups = review_cli("imports", "steward", "cli_steward", "--group", "land", "--group",
                            "housing")
    assert set_groups.returncode == 0, set_groups.stderr
    with psycopg.connect(imp_url) as conn:
        assert conn.execute("SELECT steward_groups FROM security.accounts WHERE name = "
                            "'cli_steward'").fetchone()[0] == ["housing", "land"]
    unknown = review_cli("imports", "steward", "cli_steward", "--group", "thuy_loi")
    assert unknown.returncode == 2 and "unknown layer group" in unknown.stderr


def test_accounts_create_and_grant_name_the_stewards_groups(review_cli, imp_url: str) -> None:
    """`iocgis accounts create|grant NAME --role data_steward --group G`: the role and its
    groups in one command; a group without the role, or an unknown one, changes nothing."""
    def account(name: str) -> tuple[list[str], list[str]]:
        with psycopg.connect(imp_url) as conn:
            return conn.execute("SELECT roles, steward_groups FROM security.accounts WHERE "
                                "name = %s", (name,)).fetchone()

    created = review_cli("accounts", "create", "nha_steward", "--role", "data_steward",
                         "--group", "housing")
    assert created.returncode == 0, created.stderr
    assert "approves imports of housing" in created.stdout
    assert account("nha_steward") == (["data_steward"], ["housing"])
    granted = review_cli("accounts", "grant", "nha_steward", "--role", "data_steward",
                         "-g", "land", "-g", "housing", "-g", "land")
    assert granted.returncode == 0, granted.stderr
    assert account("nha_steward") == (["data_steward"], ["housing", "land"])
    with psycopg.connect(imp_url) as conn:
        assert conn.execute("SELECT details->'steward_groups' FROM audit.events WHERE target = "
                            "'nha_steward' AND action = 'account.grant' ORDER BY seq "
                            "DESC LIMIT 1").fetchone()[0] == ["housing", "land"]
    no_role = review_cli("accounts", "grant", "nha_steward", "--role", "viewer", "--group", "land")
    assert no_role.returncode == 2 and "add --role data_steward" in no_role.stderr
    unknown = review_cli("accounts", "grant", "nha_steward", "--role", "data_steward",
                         "--group", "thuy_loi")
    assert unknown.returncode == 2 and "unknown layer group(s) ['thuy_loi']" in unknown.stderr
    assert account("nha_steward") == (["data_steward"], ["housing", "land"])  # unchanged
    listed = json.loads(review_cli("accounts", "list", "--json").stdout)
    assert next(a for a in listed if a["name"] == "nha_steward")["steward_groups"] == [
        "housing", "land"]
