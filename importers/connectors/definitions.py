"""Read the source definitions (``layers/sources/*.yaml``) and the credentials they name.

A file holds ``sources: {id: definition}``; a wrong file fails with the file, the source and
the key (iocgis.yamlfile). Credentials live in a secrets file outside the repository, never
in a definition: ``{entry: {username, password} | {token} | {headers: {name: value}}}``.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iocgis.errors import ConfigError, NotFound
from iocgis.importers import mapping as mappingmod
from iocgis.importers.connectors.model import SourceDef
from iocgis.layers import Registry
from iocgis.yamlfile import read_definitions, validated

WHAT = "source definition"
SECRET_KEYS = {"username", "password", "token", "headers"}


def load_sources(directory: Path, registry: Registry) -> dict[str, SourceDef]:
    """Every source of every ``*.yaml`` in ``directory`` (none when it does not exist)."""
    sources: dict[str, SourceDef] = {}
    seen: dict[str, Path] = {}
    if not directory.is_dir():
        return sources
    for path in sorted(directory.glob("*.yaml")):
        raw = read_definitions(path, WHAT) or {}
        if not isinstance(raw, dict) or not isinstance(raw.get("sources", {}), dict):
            raise ConfigError(f"invalid {WHAT}: expected a mapping 'sources: {{id: ...}}'",
                              where=str(path), hint="see README, section Connectors")
        for source_id, body in (raw.get("sources") or {}).items():
            where = f"{path}: sources.{source_id}"
            if not isinstance(body, dict):
                raise ConfigError(f"invalid {WHAT}: a source is a mapping", where=where)
            if source_id in seen:
                raise ConfigError(f"invalid {WHAT}: source {source_id!r} is also defined in "
                                  f"{seen[source_id]}", where=where, hint="rename one of them")
            source = validated(SourceDef, {**body, "id": source_id}, WHAT, where)
            if source.layer not in registry:
                raise ConfigError(f"invalid {WHAT}: unknown layer {source.layer!r}",
                                  where=f"{where}: layer", hint="list the layers with "
                                                                "`iocgis layers`")
            layer = registry.get(source.layer)
            if source.mode == "upsert" or source.incremental:
                if not layer.key:
                    raise ConfigError(f"invalid {WHAT}: {layer.id} has no key to upsert by",
                                      where=f"{where}: mode", hint="use mode replace")
            try:
                mappingmod.load(source.mapping, layer)
            except Exception as exc:  # the mapping's own message names its key
                raise ConfigError(f"invalid {WHAT}: {exc}", where=f"{where}: mapping") from None
            seen[source_id] = path
            sources[source_id] = source
    return sources


def get_source(sources: dict[str, SourceDef], source_id: str) -> SourceDef:
    try:
        return sources[source_id]
    except KeyError:
        raise NotFound(f"no source {source_id[:80]!r}", where="source",
                       hint="list the sources with `iocgis sources list`") from None


@dataclass(frozen=True)
class Credentials:
    """What a source presents: HTTP basic user/password, a token, extra headers."""

    username: str | None = None
    password: str | None = None
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def load_credentials(secrets_file: Path, entry: str | None) -> Credentials:
    """The entry ``entry`` of the secrets file (empty credentials when ``entry`` is None)."""
    if entry is None:
        return Credentials()
    if not secrets_file.is_file():
        raise ConfigError(f"the secrets file {secrets_file} does not exist, so credentials "
                          f"{entry!r} cannot be read", where=str(secrets_file),
                          hint="create it (mode 0600) or set IOCGIS_SOURCES_SECRETS_FILE")
    mode = secrets_file.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"the secrets file {secrets_file} is readable by others "
                          f"(mode {stat.S_IMODE(mode):o})", where=str(secrets_file),
                          hint=f"chmod 600 {secrets_file}")
    raw: Any = read_definitions(secrets_file, "secrets file") or {}
    body = raw.get(entry) if isinstance(raw, dict) else None
    if not isinstance(body, dict):
        raise ConfigError(f"the secrets file has no entry {entry!r}", where=str(secrets_file),
                          hint=f"add '{entry}: {{username: ..., password: ...}}' (or token, "
                               "headers)")
    unknown = set(body) - SECRET_KEYS
    if unknown:
        raise ConfigError(f"entry {entry!r} of the secrets file has unknown keys "
                          f"{sorted(unknown)}", where=str(secrets_file),
                          hint=f"use {', '.join(sorted(SECRET_KEYS))}")
    headers = body.get("headers") or {}
    return Credentials(username=_text(body.get("username")), password=_text(body.get("password")),
                       token=_text(body.get("token")),
                       headers={str(k): str(v) for k, v in dict(headers).items()})


def _text(value: object) -> str | None:
    return None if value is None else str(value)
