"""The JWT signing key: from the environment, or from a file generated on first use.

Never from the repository: the default file lives in ``var/`` (ignored by git), mode 0600.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from iocgis.errors import ConfigError
from iocgis.settings import Settings

MIN_SECRET_BYTES = 32


def jwt_secret_path(settings: Settings) -> Path:
    return settings.security.jwt_secret_file or settings.var_dir / "jwt_secret"


def jwt_signing_key(settings: Settings) -> bytes:
    """``IOCGIS_JWT_SECRET``, else the secret file (created with 0600 when missing)."""
    if settings.security.jwt_secret:
        key = settings.security.jwt_secret.encode()
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigError("IOCGIS_JWT_SECRET is too short", where="IOCGIS_JWT_SECRET",
                              hint=f"use at least {MIN_SECRET_BYTES} random characters")
        return key
    path = jwt_secret_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError("the JWT secret file is readable by other users", where=str(path),
                          hint=f"run: chmod 600 {path}")
    key = path.read_text().strip().encode()
    if len(key) < MIN_SECRET_BYTES:
        raise ConfigError("the JWT secret file is too short", where=str(path),
                          hint=f"delete it to generate a new one, or write {MIN_SECRET_BYTES}+ "
                               "random characters")
    return key
