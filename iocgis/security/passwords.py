"""Password hashing (argon2id) and the level-3 password policy."""

from __future__ import annotations

import secrets
import string
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from iocgis.errors import InvalidInput
from iocgis.security.settings import SecuritySettings

# argon2id with the library's RFC 9106 "low memory" profile: ~50 ms on these machines.
_HASHER = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal account names.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")
SYMBOLS = set(string.punctuation) | {" "}


def normalise(password: str) -> str:
    """NFC, so the same Vietnamese password typed on two keyboards hashes the same."""
    return unicodedata.normalize("NFC", password)


def hash_password(password: str) -> str:
    return _HASHER.hash(normalise(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, normalise(password)) and bool(
            password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def same_password(password_hash: str, password: str) -> bool:
    """For the history check: is ``password`` the one behind ``password_hash``?"""
    return verify_password(password_hash, password)


def policy_problems(password: str, *, has_totp: bool, account_name: str,
                    settings: SecuritySettings) -> list[str]:
    """What is wrong with a new password under the level-3 policy (empty: acceptable)."""
    password = normalise(password)
    problems: list[str] = []
    minimum = settings.password_min_length_with_totp if has_totp else settings.password_min_length
    if len(password) < minimum:
        problems.append(f"at least {minimum} characters"
                        + ("" if has_totp else " (8 once a second factor is enrolled)"))
    if not has_totp and settings.password_require_classes:
        classes = {
            "a lower-case letter": any(c.islower() for c in password),
            "an upper-case letter": any(c.isupper() for c in password),
            "a digit": any(c.isdigit() for c in password),
            "a symbol": any(c in SYMBOLS or unicodedata.category(c).startswith(("P", "S"))
                            for c in password),
        }
        problems += [f"at least {name}" for name, present in classes.items() if not present]
    if account_name and account_name.lower() in password.lower():
        problems.append("not containing the account name")
    if len(password) > 1024:
        problems.append("at most 1024 characters")
    return problems


def check_policy(password: str, *, has_totp: bool, account_name: str,
                 settings: SecuritySettings) -> None:
    problems = policy_problems(password, has_totp=has_totp, account_name=account_name,
                               settings=settings)
    if problems:
        raise InvalidInput("the password does not meet the policy: needs " + ", ".join(problems),
                           where="password", hint="choose a longer password with every class "
                                                  "of character, or enrol TOTP")


def generate_password(length: int = 20) -> str:
    """A temporary password that meets the strictest policy (every class, 20 characters)."""
    alphabet = string.ascii_letters + string.digits + "!#%+-=?@^_~"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.islower() for c in candidate) and any(c.isupper() for c in candidate)
                and any(c.isdigit() for c in candidate)
                and any(c in string.punctuation for c in candidate)):
            return candidate
