"""The files a restore needs beside the database: the planning dossiers' file store, imported
rasters, and the keys in ``var/`` without which restored rows cannot be read (citizen
identities are encrypted with ``citizen_keys.json``; sessions are signed with ``jwt_secret``).

They go into one tar per backup set, each member with its SHA-256 in the manifest.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from iocgis.planning_docs.filestore import CHUNK, file_sha256
from iocgis.settings import Settings


def kept_folders(settings: Settings) -> dict[str, Path]:
    """Folders kept whole, by the name they have in the tar."""
    planning = settings.planning
    folders = {"rasters": settings.rasters_dir}
    if planning.store == "local":
        folders["planning-files"] = planning.files_dir or settings.var_dir / "files"
    return folders


def kept_keys(settings: Settings) -> dict[str, Path]:
    """Single files of ``var/`` (keys, the audit anchor), by their name in the tar."""
    from iocgis.citizen.keyring import keys_path
    from iocgis.security.keys import jwt_secret_path

    return {"var/pg_password": settings.var_dir / "pg_password",
            "var/jwt_secret": jwt_secret_path(settings),
            "var/citizen_keys.json": keys_path(settings),
            "var/audit_anchor.json": settings.var_dir / "audit_anchor.json"}


def _members(settings: Settings) -> list[tuple[str, Path]]:
    members = [(name, path) for name, path in kept_keys(settings).items() if path.is_file()]
    for prefix, root in kept_folders(settings).items():
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and relative.parts[0] != "incoming":  # uploads still arriving
                members.append((f"{prefix}/{relative.as_posix()}", path))
    return members


def pack(settings: Settings, target: Path) -> list[dict[str, str | int]]:
    """Write the tar; the manifest entries (name, size, sha256) of what it holds."""
    entries: list[dict[str, str | int]] = []
    with tarfile.open(target, "w") as tar:
        for name, path in _members(settings):
            entries.append({"name": name, "size": path.stat().st_size, "sha256": file_sha256(path)})
            tar.add(path, arcname=name, recursive=False)
    return entries


def check(tar_path: Path, entries: list[dict]) -> list[str]:
    """Problems found reading the tar back against its manifest entries (none: all intact)."""
    expected = {e["name"]: e for e in entries}
    seen: set[str] = set()
    problems: list[str] = []
    with tarfile.open(tar_path) as tar:
        for member in tar:
            if not member.isfile():
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            digest = hashlib.sha256()
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
            entry = expected.get(member.name)
            if entry is None:
                problems.append(f"{member.name}: in the tar, not in the manifest")
            elif digest.hexdigest() != entry["sha256"]:
                problems.append(f"{member.name}: fails its SHA-256 check")
            elif (member.name.startswith("planning-files/")
                  and member.name.rsplit("/", 1)[1] != entry["sha256"]):
                problems.append(f"{member.name}: content-addressed file under another name")
            seen.add(member.name)
    problems += [f"{name}: missing from the tar" for name in sorted(expected.keys() - seen)]
    return problems


def unpack(tar_path: Path, settings: Settings, into: Path | None = None) -> int:
    """Put the files back where ``settings`` keeps them (or under ``into``); the count."""
    places = {**kept_folders(settings)}
    keys = kept_keys(settings)
    count = 0
    with tarfile.open(tar_path) as tar:
        for member in tar:
            if not member.isfile():
                continue
            prefix, _, rest = member.name.partition("/")
            if into is not None:
                target = into / member.name
            elif member.name in keys:
                target = keys[member.name]
            elif prefix in places:
                target = places[prefix] / rest
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            source = tar.extractfile(member)
            assert source is not None
            with target.open("wb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
            target.chmod(0o600)
            count += 1
    return count
