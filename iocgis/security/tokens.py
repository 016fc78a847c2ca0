"""Signed JWT access and refresh tokens (HS256) and API keys (random, stored hashed).

A token alone never grants access: every request also checks the session and the account in
the database, so a logout, lock or revocation takes effect at once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from iocgis.errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "iocgis"
AUDIENCE = "iocgis-api"
API_KEY_PREFIX = "iocgis_"


@dataclass(frozen=True)
class TokenClaims:
    account: str
    session_id: str
    kind: str  # "access" or "refresh"
    token_id: str
    mfa: bool
    expires_at: datetime


def issue(key: bytes, *, account: str, session_id: str, kind: str, minutes: float,
          mfa: bool, now: datetime | None = None) -> tuple[str, TokenClaims]:
    now = now or datetime.now(UTC)
    expires = now + timedelta(minutes=minutes)
    token_id = str(uuid.uuid4())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": account, "sid": session_id, "typ": kind,
              "jti": token_id, "mfa": mfa, "iat": int(now.timestamp()),
              "nbf": int(now.timestamp()) - 5, "exp": int(expires.timestamp())}
    token = jwt.encode(claims, key, algorithm=ALGORITHM)
    return token, TokenClaims(account, session_id, kind, token_id, mfa, expires)


def decode(key: bytes, token: str, *, kind: str) -> TokenClaims:
    """The verified claims, or Unauthorized (forged, expired, wrongly signed, wrong kind)."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "sid", "typ", "jti"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired", where="Authorization",
                           hint="refresh it at /auth/refresh or log in again at /auth/token") from None
    except jwt.PyJWTError:
        raise Unauthorized("the token is not valid", where="Authorization",
                           hint="log in at /auth/token for a new one") from None
    if claims.get("typ") != kind or not isinstance(claims.get("sub"), str):
        raise Unauthorized(f"this is not an {kind} token", where="Authorization",
                           hint="send the access token as Bearer; the refresh token only to "
                                "/auth/refresh")
    return TokenClaims(claims["sub"], str(claims["sid"]), kind, str(claims["jti"]),
                       bool(claims.get("mfa")),
                       datetime.fromtimestamp(claims["exp"], UTC))


def new_api_key() -> tuple[str, str, str]:
    """(the key shown once, its lookup prefix, its SHA-256 stored in the database).

    API keys carry 256 random bits, so a fast hash is enough (no dictionary to attack) and
    lets every request check them without an argon2 cost.
    """
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_prefix(key: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    parts = key[len(API_KEY_PREFIX):].split("_", 1)
    if len(parts) != 2 or len(parts[0]) != 8 or not parts[1] or len(key) > 200:
        return None
    return parts[0]
