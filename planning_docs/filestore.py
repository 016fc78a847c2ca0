"""Dossier files behind one interface: content-addressed by SHA-256, checked on every read.

``LocalFileStore`` keeps ``<root>/<aa>/<bb>/<sha256>`` (the first two byte pairs as folders)
and writes through a temporary file renamed into place, so a file is either whole or absent;
the same content uploaded twice is stored once. ``S3FileStore`` (``s3store``) keeps the same
names in an S3-compatible bucket (``IOCGIS_PLANNING_STORE=s3``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from iocgis.errors import IocgisError, PayloadTooLarge
from iocgis.planning_docs.settings import PlanningSettings

CHUNK = 1024 * 1024


class StoredFileCorrupt(IocgisError):
    """A stored file no longer matches its checksum: the server's fault, never served."""

    http_status = 500
    code = "StoredFileCorrupt"
    exit_code = 4


@dataclass(frozen=True)
class Incoming:
    """An upload received into the store's spool folder: its checksum and size known."""

    path: Path
    sha256: str
    size: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class FileStore(ABC):
    """Where dossier files are kept."""

    @abstractmethod
    def spool_dir(self) -> Path:
        """A folder for uploads being received (same filesystem as the store)."""

    @abstractmethod
    def keep(self, incoming: Incoming) -> None:
        """Store the received file under its checksum (once; a second copy is dropped)."""

    @abstractmethod
    def fetch(self, sha256: str) -> Path:
        """A local path of the file, after checking it still has this checksum."""


class LocalFileStore(FileStore):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def spool_dir(self) -> Path:
        spool = self.root / "incoming"
        spool.mkdir(parents=True, exist_ok=True, mode=0o700)
        return spool

    def keep(self, incoming: Incoming) -> None:
        target = self._path(incoming.sha256)
        if target.exists():
            incoming.discard()
            return
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(incoming.path, 0o600)
        os.replace(incoming.path, target)

    def fetch(self, sha256: str) -> Path:
        path = self._path(sha256)
        if not path.is_file():
            raise StoredFileCorrupt(f"the stored file {sha256[:12]}… is missing from the store",
                                    where=str(self.root),
                                    hint="restore the file store from its backup")
        if file_sha256(path) != sha256:
            raise StoredFileCorrupt(f"the stored file {sha256[:12]}… fails its SHA-256 check",
                                    where=str(self.root),
                                    hint="restore the file from the store's backup")
        return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def receive(source: BinaryIO, store: FileStore, limit: int) -> Incoming:
    """Copy an upload into the spool while hashing it; over ``limit`` bytes: 413. Blocking:
    run it in a worker thread."""
    digest = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(dir=store.spool_dir(), prefix="up-")
    path = Path(name)
    try:
        with open(fd, "wb") as handle:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the file is larger than {limit:,} bytes",
                                          where="file",
                                          hint="split the document or ask the operator to "
                                               "raise IOCGIS_PLANNING_MAX_FILE_BYTES")
                digest.update(chunk)
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Incoming(path=path, sha256=digest.hexdigest(), size=size)


def copy_out(store: FileStore, sha256: str, target: Path) -> None:
    """A checked copy of a stored file (for an import that deletes its own folder)."""
    shutil.copyfile(store.fetch(sha256), target)


def store_for(settings: PlanningSettings, var_dir: Path) -> FileStore:
    if settings.store == "s3":
        from iocgis.planning_docs.s3store import S3FileStore

        return S3FileStore.from_settings(settings, var_dir)
    return LocalFileStore(settings.files_dir or var_dir / "files")
