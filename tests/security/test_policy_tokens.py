"""Password policy, TOTP, tokens and settings floors: the rules themselves, without HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pyotp
import pytest
from pydantic import ValidationError

from iocgis.errors import InvalidInput, Unauthorized
from iocgis.security import passwords, tokens, totp
from iocgis.security.settings import SecuritySettings

S = SecuritySettings()
KEY = b"k" * 48


def test_password_policy_without_second_factor_needs_14_characters_of_every_class() -> None:
    assert passwords.policy_problems("Abcdefgh1!xyz", has_totp=False, account_name="an",
                                     settings=S)  # 13 characters
    assert passwords.policy_problems("abcdefgh1!xyzw", has_totp=False, account_name="an",
                                     settings=S) == ["at least an upper-case letter"]
    assert passwords.policy_problems("Abcdefgh1!xyzw", has_totp=False, account_name="an",
                                     settings=S) == []
    # Vietnamese letters count as letters; NFC and NFD spellings are one password.
    assert passwords.policy_problems("Đường-Hùng-2026!", has_totp=False, account_name="an",
                                     settings=S) == []


def test_password_policy_with_second_factor_needs_8() -> None:
    assert passwords.policy_problems("abcdefgh", has_totp=True, account_name="an", settings=S) == []
    assert passwords.policy_problems("abcdefg", has_totp=True, account_name="an", settings=S)
    with pytest.raises(InvalidInput, match="policy"):
        passwords.check_policy("nguyenvana-1234567!A", has_totp=False, account_name="nguyenvana",
                               settings=S)


def test_password_hash_is_argon2id_and_nfc_insensitive() -> None:
    hashed = passwords.hash_password("Mật-khẩu-2026!!")
    assert hashed.startswith("$argon2id$")
    import unicodedata

    assert passwords.verify_password(hashed, unicodedata.normalize("NFD", "Mật-khẩu-2026!!"))
    assert not passwords.verify_password(hashed, "mật-khẩu-2026!!")
    assert not passwords.verify_password(None, "anything")
    assert len(passwords.generate_password()) == 20


def test_totp_refuses_wrong_codes_and_replays() -> None:
    secret = totp.new_secret()
    now = time.time()
    code = pyotp.TOTP(secret).at(now)
    step = totp.verify(secret, code, None, at=now)
    assert step is not None
    assert totp.verify(secret, code, step, at=now) is None  # the same code twice
    assert totp.verify(secret, "000000" if code != "000000" else "111111", None, at=now) is None
    assert totp.verify(secret, "12ab56", None, at=now) is None
    assert totp.provisioning_uri(secret, "ana", "iocgis").startswith("otpauth://totp/")


def test_forged_expired_and_wrongly_signed_tokens_are_refused() -> None:
    token, _ = tokens.issue(KEY, account="ana", session_id="s", kind="access", minutes=5, mfa=False)
    assert tokens.decode(KEY, token, kind="access").account == "ana"
    with pytest.raises(Unauthorized):
        tokens.decode(b"x" * 48, token, kind="access")  # wrong key
    with pytest.raises(Unauthorized):
        tokens.decode(KEY, token, kind="refresh")  # wrong kind
    old, _ = tokens.issue(KEY, account="ana", session_id="s", kind="access", minutes=5, mfa=False,
                          now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(Unauthorized, match="expired"):
        tokens.decode(KEY, old, kind="access")
    header, payload, signature = token.split(".")
    with pytest.raises(Unauthorized):  # payload swapped, signature kept
        forged_payload = jwt.utils.base64url_encode(b'{"sub":"admin"}').decode()
        tokens.decode(KEY, f"{header}.{forged_payload}.{signature}", kind="access")
    unsigned = jwt.encode({"sub": "ana", "sid": "s", "typ": "access", "jti": "j",
                           "iat": int(time.time()), "exp": int(time.time()) + 60,
                           "iss": tokens.ISSUER, "aud": tokens.AUDIENCE}, None, algorithm="none")
    with pytest.raises(Unauthorized):
        tokens.decode(KEY, unsigned, kind="access")


def test_api_key_format() -> None:
    key, prefix, key_hash = tokens.new_api_key()
    assert tokens.api_key_prefix(key) == prefix
    assert tokens.hash_api_key(key) == key_hash
    for bad in ("", "iocgis_", "iocgis_short_x", "other_12345678_abc", "iocgis_12345678_" + "a" * 300):
        assert tokens.api_key_prefix(bad) is None


def test_settings_refuse_values_below_the_floors() -> None:
    with pytest.raises(ValidationError, match="3 months"):
        SecuritySettings(audit_retention_months=2)
    with pytest.raises(ValidationError):
        SecuritySettings(password_min_length=6)
    with pytest.raises(ValidationError, match="network"):
        SecuritySettings(internal_networks=["not-a-network"])
    with pytest.raises(ValidationError, match="unknown roles"):
        SecuritySettings(totp_required_roles=["root"])
    defaults = SecuritySettings()
    assert (defaults.lockout_threshold, defaults.idle_timeout_minutes,
            defaults.admin_idle_timeout_minutes, defaults.inactive_disable_days,
            defaults.admin_password_max_age_days, defaults.password_history,
            defaults.audit_retention_months) == (5, 15, 5, 45, 60, 10, 12)
    assert defaults.is_internal("10.1.2.3") and not defaults.is_internal("203.0.113.9")


def test_signing_key_file_is_generated_private(tmp_path) -> None:  # noqa: ANN001
    from iocgis.errors import ConfigError
    from iocgis.security.keys import jwt_signing_key
    from iocgis.settings import Settings

    settings = Settings(var_dir=tmp_path)
    key = jwt_signing_key(settings)
    path = tmp_path / "jwt_secret"
    assert len(key) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert jwt_signing_key(settings) == key  # stable across restarts
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable"):
        jwt_signing_key(settings)
