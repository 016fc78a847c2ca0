"""The keys that protect reporters' identities, kept outside the database.

``IOCGIS_CITIZEN_KEYS`` (the JSON below, for secret managers) or the file
``IOCGIS_CITIZEN_KEYS_FILE`` (default ``var/citizen_keys.json``, created on first use with mode
0600, refused when others may read it)::

    {"encryption": [{"id": "k2", "key": "<Fernet key>", "created": "..."}, {"id": "k1", ...}],
     "pseudonym": "<urlsafe base64 of 32 random bytes>"}

The first encryption key encrypts; every listed key decrypts (``MultiFernet``), so a rotation
adds a key in front, re-encrypts every row (``iocgis citizen rotate-key``) and retires the old
key once no row uses it. The pseudonym key makes the keyed hash (HMAC-SHA-256) that links one
reporter's reports; rotating it recomputes every pseudonym from the decrypted identities.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from iocgis.errors import ConfigError
from iocgis.settings import Settings

ENV_KEYS = "IOCGIS_CITIZEN_KEYS"
ENV_KEYS_FILE = "IOCGIS_CITIZEN_KEYS_FILE"


@dataclass(frozen=True)
class EncryptionKey:
    id: str
    key: str
    created: str


@dataclass(frozen=True)
class Keyring:
    keys: tuple[EncryptionKey, ...]  # the first one encrypts
    pseudonym_key: bytes
    source: str  # the file or the environment variable, for messages

    @property
    def primary(self) -> EncryptionKey:
        return self.keys[0]

    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(k.key.encode()) for k in self.keys])

    def encrypt(self, text: str | None) -> str | None:
        if text is None or text == "":
            return None
        return self._fernet().encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet().decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ConfigError("an identity cannot be decrypted with the configured keys",
                              where=self.source, hint="restore the key that encrypted it "
                              "(keys are never deleted while a row uses them)") from None

    def pseudonym(self, contact: str | None) -> str | None:
        """The keyed hash of a normalised contact (phone digits, or e-mail in lower case)."""
        if not contact:
            return None
        digest = hmac.new(self.pseudonym_key, contact.encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()[:32]

    def as_json(self) -> str:
        return json.dumps({"encryption": [k.__dict__ for k in self.keys],
                           "pseudonym": base64.urlsafe_b64encode(self.pseudonym_key).decode()},
                          indent=1)


def keys_path(settings: Settings) -> Path:
    configured = os.environ.get(ENV_KEYS_FILE)
    return Path(configured) if configured else settings.var_dir / "citizen_keys.json"


def new_encryption_key(key_id: str) -> EncryptionKey:
    return EncryptionKey(id=key_id, key=Fernet.generate_key().decode(),
                         created=datetime.now(UTC).isoformat(timespec="seconds"))


def _parse(text: str, source: str) -> Keyring:
    try:
        raw = json.loads(text)
        keys = tuple(EncryptionKey(id=str(k["id"]), key=str(k["key"]),
                                   created=str(k.get("created", ""))) for k in raw["encryption"])
        pseudonym = base64.urlsafe_b64decode(raw["pseudonym"])
        for k in keys:
            Fernet(k.key.encode())
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the citizen key set is not valid: {exc}", where=source,
                          hint="restore it from the backup; see README 'Citizen reports'") from None
    if not keys or len(pseudonym) < 32:
        raise ConfigError("the citizen key set needs an encryption key and a 32-byte "
                          "pseudonym key", where=source, hint="restore it from the backup")
    return Keyring(keys=keys, pseudonym_key=pseudonym, source=source)


def write_keyring(path: Path, keyring: Keyring) -> None:
    """Atomically, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(keyring.as_json())
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def load_keyring(settings: Settings, *, create: bool = True) -> Keyring:
    """The environment's key set, else the file's (generated with 0600 when missing)."""
    if os.environ.get(ENV_KEYS):
        return _parse(os.environ[ENV_KEYS], ENV_KEYS)
    path = keys_path(settings)
    if not path.exists():
        if not create:
            raise ConfigError("no citizen key set", where=str(path),
                              hint=f"set {ENV_KEYS} or restore the file from the backup")
        fresh = Keyring(keys=(new_encryption_key("k1"),),
                        pseudonym_key=secrets.token_bytes(32), source=str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: two processes starting at once must not write two different key sets
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(fresh.as_json())
    if path.stat().st_mode & 0o077:
        raise ConfigError("the citizen key file is readable by other users", where=str(path),
                          hint=f"run: chmod 600 {path}")
    return _parse(path.read_text(), str(path))
