"""Logins, tokens, API keys and the account lifecycle over real HTTP and a real database."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from .security_helpers import PASSWORD, api_key_for, audit_actions, bearer, cli, login, set_status, totp_now


def test_login_me_logout(live_server, make_account, db_url) -> None:  # noqa: ANN001
    account = make_account("analyst")
    tokens = login(live_server.url, account)
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] <= 300
    me = httpx.get(live_server.url + "/auth/me", headers=bearer(tokens["access_token"])).json()
    assert me["name"] == account.name and me["roles"] == ["analyst"] and not me["pii"]
    assert httpx.post(live_server.url + "/auth/logout",
                      headers=bearer(tokens["access_token"])).status_code == 204
    # Logged out: the same, still unexpired token is refused at once.
    after = httpx.get(live_server.url + "/auth/me", headers=bearer(tokens["access_token"]))
    assert after.status_code == 401
    actions = [a[0] for a in audit_actions(db_url, target=account.name)]
    assert "auth.login" in actions and "auth.logout" in actions


@pytest.mark.parametrize("username, password", [
    ("' OR 1=1 --", "x"), ("admin'; DROP TABLE security.accounts; --", PASSWORD),
    ("nobody", "' OR '1'='1"), ("", ""), ("a" * 5000, "b"),
    ("nul\x00name", "pass\x00word"),
])
def test_bad_and_sql_credentials_get_401_never_500(live_server, username, password) -> None:  # noqa: ANN001
    response = httpx.post(live_server.url + "/auth/token",
                          data={"username": username, "password": password})
    assert response.status_code in (400, 401), response.text
    assert "Traceback" not in response.text


def test_brute_force_locks_the_address_not_the_account(live_server, make_account, db_url) -> None:  # noqa: ANN001
    account = make_account("viewer")
    key = api_key_for(db_url, account.name)
    for _ in range(5):
        wrong = httpx.post(live_server.url + "/auth/token",
                           data={"username": account.name, "password": "Wrong-password-123!"})
        assert wrong.status_code == 401
    # Locked for this address: even the right password is refused, with the same answer.
    right = httpx.post(live_server.url + "/auth/token",
                       data={"username": account.name, "password": account.password})
    assert right.status_code == 401 and right.json()["description"] == wrong.json()["description"]
    events = audit_actions(db_url, target=account.name)
    assert [e[0] for e in events].count("auth.login") >= 6
    assert any(e[0] == "auth.lockout" and e[1] == "denied" for e in events)
    # The account itself is not locked: its machine clients' API key keeps working.
    with psycopg.connect(db_url, autocommit=True) as conn:
        status, = conn.execute("SELECT status FROM security.accounts WHERE name = %s",
                               (account.name,)).fetchone()
    assert status == "active"
    assert httpx.get(live_server.url + "/auth/me", headers={"X-API-Key": key}).status_code == 200
    # An administrator's unlock releases the address; the login works again.
    set_status(db_url, account.name, "active")
    login(live_server.url, account)


def test_lock_and_revoke_refuse_live_tokens_and_keys_at_once(live_server, make_account,
                                                             db_url) -> None:  # noqa: ANN001
    account = make_account("analyst")
    token = login(live_server.url, account)["access_token"]
    key = api_key_for(db_url, account.name)
    for headers in (bearer(token), {"X-API-Key": key}):
        assert httpx.get(live_server.url + "/auth/me", headers=headers).status_code == 200
    locked = cli(db_url, "accounts", "lock", account.name, "--reason", "test")
    assert locked.returncode == 0, locked.stderr
    for headers in (bearer(token), {"X-API-Key": key}):
        assert httpx.get(live_server.url + "/auth/me", headers=headers).status_code == 401
    set_status(db_url, account.name, "active")
    assert httpx.get(live_server.url + "/auth/me", headers={"X-API-Key": key}).status_code == 200
    assert httpx.get(live_server.url + "/auth/me", headers=bearer(token)).status_code == 401  # session ended
    set_status(db_url, account.name, "revoked")
    assert httpx.get(live_server.url + "/auth/me", headers={"X-API-Key": key}).status_code == 401
    refused = httpx.post(live_server.url + "/auth/token",
                         data={"username": account.name, "password": account.password})
    assert refused.status_code == 401
    from iocgis.errors import Forbidden

    with pytest.raises(Forbidden, match="revoked for good"):
        set_status(db_url, account.name, "active")


def test_revoked_api_key_is_refused_at_once(live_server, make_account, db_url) -> None:  # noqa: ANN001
    account = make_account("viewer")
    key = api_key_for(db_url, account.name)
    assert httpx.get(live_server.url + "/auth/me", headers={"X-API-Key": key}).json()["name"] \
        == account.name
    assert httpx.get(live_server.url + "/auth/me",
                     headers={"Authorization": f"Bearer {key}"}).status_code == 200
    with psycopg.connect(db_url, autocommit=True) as conn:
        key_id, = conn.execute("SELECT id FROM security.api_keys WHERE prefix = %s",
                               (key.split("_")[1],)).fetchone()
    revoked = cli(db_url, "accounts", "apikey", "revoke", str(key_id))
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(live_server.url + "/auth/me", headers={"X-API-Key": key}).status_code == 401
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    assert httpx.get(live_server.url + "/auth/me",
                     headers={"X-API-Key": tampered}).status_code == 401


def test_a_verified_key_is_served_from_the_worker_cache_until_a_notice(
        live_server, make_account, db_url) -> None:  # noqa: ANN001
    """A key, once verified, costs no database read (this worker's cache); the notice of a
    change drops it at once. Shown by revoking the key with the notice trigger switched off
    (the cached key still works: no read was made), then sending the notice by hand."""
    account = make_account("viewer")
    key = api_key_for(db_url, account.name)
    me = live_server.url + "/auth/me"
    assert httpx.get(me, headers={"X-API-Key": key}).status_code == 200  # read, then cached
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # no trigger: no notice
        (account_id,) = conn.execute(
            "UPDATE security.api_keys SET revoked_at = now() WHERE prefix = %s "
            "RETURNING account_id", (key.split("_")[1],)).fetchone()
    assert httpx.get(me, headers={"X-API-Key": key}).status_code == 200  # from the cache
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT pg_notify('iocgis_security', %s)", (str(account_id),))
    assert httpx.get(me, headers={"X-API-Key": key}).status_code == 401  # dropped at once


def test_api_key_bound_to_other_networks_is_refused(live_server, make_account, db_url) -> None:  # noqa: ANN001
    account = make_account("viewer")
    key = api_key_for(db_url, account.name, networks=["203.0.113.0/24"])
    assert httpx.get(live_server.url + "/auth/me", headers={"X-API-Key": key}).status_code == 401


@pytest.mark.parametrize("header", [
    "Bearer not-a-jwt", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.", "Basic YWRtaW46YWRtaW4=",
    "Bearer", "Token abc",
])
def test_malformed_authorization_is_401(live_server, header) -> None:  # noqa: ANN001
    response = httpx.get(live_server.url + "/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_token_signed_with_another_key_is_401(live_server, make_account) -> None:  # noqa: ANN001
    from iocgis.security import tokens

    account = make_account("viewer")
    real = login(live_server.url, account)
    import jwt

    claims = jwt.decode(real["access_token"], options={"verify_signature": False})
    forged, _ = tokens.issue(b"f" * 48, account=account.name, session_id=claims["sid"],
                             kind="access", minutes=5, mfa=True)
    assert httpx.get(live_server.url + "/auth/me", headers=bearer(forged)).status_code == 401
    # The refresh token is no access token.
    assert httpx.get(live_server.url + "/auth/me",
                     headers=bearer(real["refresh_token"])).status_code == 401


def test_refresh_rotates_and_a_replay_ends_the_session(live_server, make_account) -> None:  # noqa: ANN001
    account = make_account("viewer")
    first = login(live_server.url, account)
    second = httpx.post(live_server.url + "/auth/refresh",
                        data={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    new = second.json()
    assert httpx.get(live_server.url + "/auth/me", headers=bearer(new["access_token"])).status_code == 200
    replay = httpx.post(live_server.url + "/auth/refresh",
                        data={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert httpx.get(live_server.url + "/auth/me", headers=bearer(new["access_token"])).status_code == 401


def test_idle_session_times_out_sooner_for_admin(live_server, make_account, db_url) -> None:  # noqa: ANN001
    viewer = make_account("viewer")
    admin = make_account("admin", totp=True)
    viewer_token = login(live_server.url, viewer)["access_token"]
    admin_token = login(live_server.url, admin, db_url)["access_token"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        # 6 minutes of silence: over the admin limit (5), under the default (15).
        conn.execute("UPDATE security.sessions s SET last_seen_at = now() - interval '6 minutes' "
                     "FROM security.accounts a WHERE a.id = s.account_id AND a.name = ANY(%s)",
                     ([viewer.name, admin.name],))
    assert httpx.get(live_server.url + "/auth/me", headers=bearer(viewer_token)).status_code == 200
    idle = httpx.get(live_server.url + "/auth/me", headers=bearer(admin_token))
    assert idle.status_code == 401 and "idle" in idle.json()["description"]


def test_admin_needs_totp_and_admin_api_needs_an_mfa_session(live_server, make_account,
                                                             db_url) -> None:  # noqa: ANN001
    admin = make_account("admin", totp=True)
    assert admin.totp_secret  # enrolled at creation: mandatory for the role
    no_code = httpx.post(live_server.url + "/auth/token",
                         data={"username": admin.name, "password": admin.password})
    assert no_code.status_code == 401 and no_code.json()["code"] == "MfaRequired"
    token = login(live_server.url, admin, db_url)["access_token"]
    listing = httpx.get(live_server.url + "/admin/accounts", headers=bearer(token))
    assert listing.status_code == 200 and any(a["name"] == admin.name
                                              for a in listing.json()["accounts"])
    # An admin API key is a machine credential without a second factor: no administration.
    key = api_key_for(db_url, admin.name)
    assert httpx.get(live_server.url + "/admin/accounts",
                     headers={"X-API-Key": key}).status_code == 403


def test_admin_api_lifecycle(live_server, role_headers, db_url) -> None:  # noqa: ANN001
    admin = role_headers["admin"]
    url = live_server.url
    created = httpx.post(url + "/admin/accounts", headers=admin,
                         json={"name": "api.created1", "roles": ["analyst"], "pii": True,
                               "communes": ["26041"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["account"]["roles"] == ["analyst"] and "temporary_password" in body
    # A temporary password must be changed before first use.
    first = httpx.post(url + "/auth/token", data={"username": "api.created1",
                                                  "password": body["temporary_password"]})
    assert first.status_code == 403 and first.json()["code"] == "PasswordChangeRequired"
    changed = httpx.post(url + "/auth/password", json={
        "username": "api.created1", "password": body["temporary_password"],
        "new_password": "Một-mật-khẩu-mới-2026"})
    assert changed.status_code == 204, changed.text
    reuse = httpx.post(url + "/auth/password", json={
        "username": "api.created1", "password": "Một-mật-khẩu-mới-2026",
        "new_password": "Một-mật-khẩu-mới-2026"})
    assert reuse.status_code == 400 and "reused" in reuse.json()["description"]
    for action, payload in (("grant", {"roles": ["viewer"]}), ("lock", {"reason": "x"}),
                            ("unlock", {}), ("reset", {"totp": True}), ("expire", {})):
        response = httpx.post(f"{url}/admin/accounts/api.created1/{action}", headers=admin,
                              json=payload)
        assert response.status_code == 200, (action, response.text)
    key = httpx.post(url + "/admin/accounts/api.created1/apikeys", headers=admin, json={})
    assert key.status_code == 403  # expired account: no new keys
    assert httpx.post(url + "/admin/accounts/api.created1/fly", headers=admin,
                      json={}).status_code == 404
    review = httpx.get(url + "/admin/review", headers=admin).json()
    assert any(a["name"] == "api.created1" for a in review["accounts"])
    actions = [a[0] for a in audit_actions(db_url, target="api.created1")]
    for expected in ("account.create", "account.password", "account.grant", "account.lock",
                     "account.unlock", "account.reset", "account.expire"):
        assert expected in actions


def test_admin_api_sets_a_stewards_layer_groups(live_server, role_headers, db_url) -> None:  # noqa: ANN001
    """A data steward approves the imports of its layer groups: the admin API sets them at
    creation and on grant, checked against the registry and the role, and audited."""
    admin, url = role_headers["admin"], live_server.url
    created = httpx.post(url + "/admin/accounts", headers=admin, json={
        "name": "api.steward1", "roles": ["viewer", "data_steward"],
        "steward_groups": ["housing", "land", "housing"]})
    assert created.status_code == 201, created.text
    assert created.json()["account"]["steward_groups"] == ["housing", "land"]
    granted = httpx.post(url + "/admin/accounts/api.steward1/grant", headers=admin, json={
        "roles": ["viewer", "data_steward"], "steward_groups": ["infra"]})
    assert granted.status_code == 200, granted.text
    assert granted.json()["account"]["steward_groups"] == ["infra"]
    kept = httpx.post(url + "/admin/accounts/api.steward1/grant", headers=admin,
                      json={"roles": ["analyst", "data_steward"]})
    assert kept.json()["account"]["steward_groups"] == ["infra"]  # not given: kept
    for payload, where in (({"roles": ["viewer"], "steward_groups": ["land"]}, "steward_groups"),
                           ({"roles": ["data_steward"], "steward_groups": ["nowhere"]},
                            "steward_groups")):
        refused = httpx.post(url + "/admin/accounts/api.steward1/grant", headers=admin,
                             json=payload)
        assert refused.status_code == 400 and refused.json()["where"] == where, refused.text
    account = httpx.get(url + "/admin/accounts/api.steward1", headers=admin).json()["account"]
    assert account["roles"] == ["analyst", "data_steward"] and account["steward_groups"] == [
        "infra"]  # a refused grant changed nothing
    details = [d for a, *_, d in audit_actions(db_url, target="api.steward1")
               if a in ("account.create", "account.grant")]
    assert details[0]["steward_groups"] == ["housing", "land"]
    assert details[1]["steward_groups"] == ["infra"]


@pytest.mark.parametrize("payload", [
    {"name": "Bad Name", "roles": ["viewer"]}, {"name": "ok.name2", "roles": ["root"]},
    {"name": "ok.name3", "roles": "viewer", "communes": ["12"]},
    {"name": "ok.name4", "roles": ["viewer"], "password": "short"},
    {"name": ["x"]}, {"name": "ok.name5", "pii": "maybe"}, {"name": "ok.name6", "expires_at": "soon"},
])
def test_admin_api_bad_input_is_400(live_server, role_headers, payload) -> None:  # noqa: ANN001
    response = httpx.post(live_server.url + "/admin/accounts", headers=role_headers["admin"],
                          json=payload)
    assert response.status_code == 400, response.text


def test_non_admins_cannot_administer(live_server, role_headers) -> None:  # noqa: ANN001
    for role, headers in role_headers.items():
        if role == "admin":
            continue
        response = httpx.get(live_server.url + "/admin/accounts", headers=headers)
        assert response.status_code == (401 if role == "anonymous" else 403), role


def test_inactive_accounts_are_disabled(live_server, make_account, db_url) -> None:  # noqa: ANN001
    account = make_account("viewer")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE security.accounts SET last_seen_at = now() - interval '46 days', "
                     "last_login_at = NULL, created_at = now() - interval '100 days' "
                     "WHERE name = %s", (account.name,))
    refused = httpx.post(live_server.url + "/auth/token",
                         data={"username": account.name, "password": account.password})
    assert refused.status_code == 401
    with psycopg.connect(db_url, autocommit=True) as conn:
        status, = conn.execute("SELECT status FROM security.accounts WHERE name = %s",
                               (account.name,)).fetchone()
    assert status == "disabled"


def test_admin_password_rotation(live_server, make_account, db_url) -> None:  # noqa: ANN001
    admin = make_account("admin", totp=True)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE security.accounts SET password_changed_at = now() - interval "
                     "'61 days', totp_last_step = NULL WHERE name = %s", (admin.name,))
    response = httpx.post(live_server.url + "/auth/token", data={
        "username": admin.name, "password": admin.password, "totp": totp_now(admin.totp_secret)})
    assert response.status_code == 403 and "rotated" in response.json()["description"]


def test_cli_create_and_review(db_url) -> None:  # noqa: ANN001
    done = cli(db_url, "accounts", "create", "cli.officer1", "--role", "gis_officer",
               "--password-stdin", stdin="Mật-khẩu-đủ-dài-2026\n")
    assert done.returncode == 0, done.stderr
    weak = cli(db_url, "accounts", "create", "cli.weak1", "--password-stdin", stdin="short\n")
    assert weak.returncode == 2 and "policy" in weak.stderr and "Traceback" not in weak.stderr
    admin = cli(db_url, "accounts", "create", "cli.admin1", "--role", "admin")
    assert admin.returncode == 0 and "otpauth://" in admin.stdout
    review = cli(db_url, "accounts", "review", "--json")
    assert review.returncode == 0 and "cli.officer1" in review.stdout
    assert "role requires TOTP" not in review.stdout.split("cli.admin1")[1][:2000]
    assert cli(db_url, "accounts", "grant", "nobody.here", "--role", "viewer").returncode == 2


def test_api_key_waits_for_the_temporary_password_to_be_changed(live_server, settings,
                                                                db_url) -> None:  # noqa: ANN001
    from iocgis.security import accounts

    from .security_helpers import run_async

    async def create(name: str) -> str:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            secret = await accounts.create(conn, settings.security, accounts.Actor("test"),
                                           name=name, roles=["viewer"])
        return secret.password

    name = "temp.keyholder1"
    temporary = run_async(create(name))
    key = api_key_for(db_url, name)
    refused = httpx.get(live_server.url + "/auth/me", headers={"X-API-Key": key})
    assert refused.status_code == 401, refused.text
    assert "temporary password" in refused.json()["description"]
    assert "/auth/password" in refused.json()["hint"]
    changed = httpx.post(live_server.url + "/auth/password", json={
        "username": name, "password": temporary, "new_password": "Khóa-máy-chủ-2026-mới!"})
    assert changed.status_code == 204, changed.text
    me = httpx.get(live_server.url + "/auth/me", headers={"X-API-Key": key})
    assert me.status_code == 200 and me.json()["name"] == name
    # A reset hands out a new temporary password: the keys wait again until it is changed.
    assert cli(db_url, "accounts", "reset", name).returncode == 0
    again = httpx.get(live_server.url + "/auth/me", headers={"X-API-Key": key})
    assert again.status_code == 401 and "temporary password" in again.json()["description"]


def test_callers_say_how_they_signed_in(live_server, make_account, db_url) -> None:  # noqa: ANN001
    """What iocgis.access reads to hold admin credentials without a second factor back."""
    admin = make_account("admin", totp=True)
    viewer = make_account("viewer")
    with_code = login(live_server.url, admin, db_url)["access_token"]
    without_code = login(live_server.url, viewer)["access_token"]
    key = api_key_for(db_url, admin.name)
    seen = {label: httpx.get(live_server.url + "/auth/me", headers=headers).json()
            for label, headers in (("totp session", bearer(with_code)),
                                   ("password session", bearer(without_code)),
                                   ("api key", {"X-API-Key": key}), ("anonymous", {}))}
    assert {label: (me["auth"], me["mfa"]) for label, me in seen.items()} == {
        "totp session": ("bearer", True), "password session": ("bearer", False),
        "api key": ("api_key", False), "anonymous": ("anonymous", False)}
