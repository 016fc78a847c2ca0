"""The level-3 security values, each configurable (prefix ``IOCGIS_SECURITY_``).

Defaults are the stricter values of TCVN 14423:2026 clause 5 as summarised publicly; a
province may tighten them, and loosening below the floors marked here is refused at start-up.
Built when the app (or a CLI command) is built, never at import.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROLE_NAMES = ("public", "viewer", "analyst", "gis_officer", "admin")
PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128",
                    "fc00::/7"]


class SecuritySettings(BaseSettings):
    """Accounts, sessions, audit and HTTP hardening."""

    model_config = SettingsConfigDict(env_prefix="IOCGIS_SECURITY_", extra="ignore")

    # --- multi-factor login ---
    # The organisation's networks; a login from anywhere else needs TOTP whatever the role.
    internal_networks: list[str] = Field(default_factory=lambda: list(PRIVATE_NETWORKS))
    totp_required_roles: list[str] = Field(default_factory=lambda: ["admin"])
    totp_issuer: str = "iocgis"
    # --- passwords ---
    password_min_length: int = Field(default=14, ge=8)  # without a second factor
    password_min_length_with_totp: int = Field(default=8, ge=8)
    password_require_classes: bool = True  # lower, upper, digit, symbol (without 2FA)
    admin_password_max_age_days: int = Field(default=60, ge=1)
    password_history: int = Field(default=10, ge=0)
    # --- lockout (iocgis/security/throttle.py), sessions, inactivity ---
    # Failed logins of one account name from one address lock that pair (not the account: its
    # sessions, API keys and other addresses keep working) for lockout_minutes.
    lockout_threshold: int = Field(default=5, ge=1, le=20)
    lockout_minutes: int = Field(default=30, ge=0)  # 0: locked until an administrator unlocks
    # A failure counts this long, and only until the account's next login, unlock or reset.
    login_failure_window_minutes: int = Field(default=1440, ge=15)
    # Progressive delay (429 + Retry-After), doubling per failure up to the maximum: for an
    # account after lockout_threshold failures over all addresses (not for addresses that
    # logged into it in the last login_known_source_days), and for an address after
    # login_source_threshold failures over all account names (not for rate_limit_exempt ones).
    login_source_threshold: int = Field(default=10, ge=1, le=100)
    login_delay_base_seconds: float = Field(default=1.0, gt=0, le=60)
    login_delay_max_seconds: int = Field(default=120, ge=1, le=3600)
    login_known_source_days: int = Field(default=30, ge=1)
    idle_timeout_minutes: int = Field(default=15, ge=1)
    admin_idle_timeout_minutes: int = Field(default=5, ge=1)
    access_token_minutes: int = Field(default=5, ge=1, le=60)
    session_max_hours: int = Field(default=12, ge=1)
    inactive_disable_days: int = Field(default=45, ge=1)
    review_interval_days: int = Field(default=90, ge=1)
    # --- secrets: environment first, else a file generated on first use (mode 0600) ---
    jwt_secret: str = Field(default="", validation_alias="IOCGIS_JWT_SECRET", repr=False)
    jwt_secret_file: Path | None = Field(default=None, validation_alias="IOCGIS_JWT_SECRET_FILE")
    # --- audit ---
    audit_retention_months: int = Field(default=12)
    # --- HTTP hardening ---
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # Uploads (imports) may be larger; paths starting with these prefixes get upload_max_bytes.
    upload_paths: list[str] = Field(default_factory=lambda: ["/imports", "/uploads"])
    upload_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    rate_limit_per_minute: int = Field(default=600, ge=1)
    rate_limit_burst: int = Field(default=120, ge=1)
    login_rate_limit_per_minute: int = Field(default=20, ge=1)
    # Loopback is exempt by default (local tools, benchmarks, a reverse proxy without
    # trusted_proxies set); a deployment behind a proxy sets trusted_proxies instead.
    rate_limit_exempt: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    trusted_proxies: list[str] = Field(default_factory=list)
    cors_origins: list[str] = Field(default_factory=list)
    hsts: bool = True
    # --- PostgreSQL roles for QGIS ---
    db_role_prefix: str = "iocgis_"
    qgis_service: str = "iocgis"  # pg_service.conf entry named in the stored QGIS projects

    @field_validator("internal_networks", "rate_limit_exempt", "trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not a network (write it as 10.0.0.0/8)") from exc
        return value

    @field_validator("totp_required_roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ROLE_NAMES))
        if unknown:
            raise ValueError(f"unknown roles {unknown}; known: {', '.join(ROLE_NAMES)}")
        return value

    @field_validator("audit_retention_months")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value < 3:
            raise ValueError("audit retention may not be below 3 months (level-3 floor)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SecuritySettings:
        if self.password_min_length_with_totp > self.password_min_length:
            raise ValueError("password_min_length_with_totp may not exceed password_min_length")
        if self.admin_idle_timeout_minutes > self.idle_timeout_minutes:
            raise ValueError("admin_idle_timeout_minutes may not exceed idle_timeout_minutes")
        return self

    def networks(self, which: list[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return _parse_networks(tuple(which))

    def is_internal(self, client: str | None) -> bool:
        return _in_networks(client, self.networks(self.internal_networks))

    def idle_timeout_for(self, roles: frozenset[str] | set[str]) -> int:
        """Minutes of inactivity after which a session ends (shorter for admin sessions)."""
        return self.admin_idle_timeout_minutes if "admin" in roles else self.idle_timeout_minutes


def _in_networks(client: str | None, networks: tuple) -> bool:  # noqa: ANN001 - ip networks
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in net for net in networks if net.version == address.version)


@lru_cache(maxsize=64)
def _parse_networks(cidrs: tuple[str, ...]) -> tuple:
    # Parsed once per list: this runs on every request (trusted proxies, rate-limit exemptions).
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def in_networks(client: str | None, cidrs: list[str]) -> bool:
    return _in_networks(client, _parse_networks(tuple(cidrs)))
