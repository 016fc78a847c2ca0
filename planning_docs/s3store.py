"""An S3-compatible dossier file store (AWS S3, MinIO, Ceph RGW ...) through boto3.

Objects are ``<prefix><aa>/<bb>/<sha256>``, as on the local disk; each is written with its
SHA-256 (``ChecksumSHA256``: the server checks it on arrival) and, when read, downloaded into a
local cache folder and hashed again before it is served (the same check as the local store:
a mismatch is ``StoredFileCorrupt``, never the file). Credentials come from boto3's usual chain
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an instance role): nothing of them
is in the project's settings. The cache is a copy and may be emptied at any time.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from iocgis.errors import ConfigError, TemporarilyUnavailable
from iocgis.planning_docs.filestore import FileStore, Incoming, StoredFileCorrupt, file_sha256
from iocgis.planning_docs.settings import PlanningSettings

MISSING = ("404", "NoSuchKey", "NotFound")


class S3FileStore(FileStore):
    def __init__(self, client: Any, bucket: str, prefix: str, local_dir: Path) -> None:
        self.client, self.bucket, self.prefix, self.local_dir = client, bucket, prefix, local_dir

    @classmethod
    def from_settings(cls, settings: PlanningSettings, var_dir: Path) -> S3FileStore:
        if not settings.s3_bucket:
            raise ConfigError("IOCGIS_PLANNING_STORE=s3 needs a bucket",
                              where="IOCGIS_PLANNING_S3_BUCKET",
                              hint="name the bucket (and IOCGIS_PLANNING_S3_ENDPOINT_URL for a "
                                   "server other than AWS)")
        client = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
            config=Config(s3={"addressing_style": settings.s3_addressing_style},
                          retries={"max_attempts": 3, "mode": "standard"},
                          connect_timeout=10, read_timeout=60))
        return cls(client, settings.s3_bucket, settings.s3_prefix,
                   settings.files_dir or var_dir / "files-s3")

    def key(self, sha256: str) -> str:
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def _unavailable(self, exc: Exception) -> TemporarilyUnavailable:
        return TemporarilyUnavailable(f"the dossier file store (bucket {self.bucket!r}) did not "
                                      f"answer: {str(exc)[:200]}", where="IOCGIS_PLANNING_S3_*",
                                      hint="retry later; the operator checks the S3 server")

    def spool_dir(self) -> Path:
        spool = self.local_dir / "incoming"
        spool.mkdir(parents=True, exist_ok=True, mode=0o700)
        return spool

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                return False
            raise self._unavailable(exc) from None
        except BotoCoreError as exc:
            raise self._unavailable(exc) from None
        return True

    def keep(self, incoming: Incoming) -> None:
        key = self.key(incoming.sha256)
        try:
            if not self._exists(key):
                checksum = base64.b64encode(bytes.fromhex(incoming.sha256)).decode()
                with incoming.path.open("rb") as body:
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=body,
                                           ChecksumSHA256=checksum,
                                           ContentLength=incoming.size)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc) from None
        finally:
            incoming.discard()

    def fetch(self, sha256: str) -> Path:
        """The object downloaded into the cache (or the cached copy), hashed before use."""
        target = self.local_dir / "cache" / sha256[:2] / sha256
        if target.is_file() and file_sha256(target) == sha256:
            return target
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix="down-")
        partial = Path(name)
        try:
            with open(fd, "wb") as handle:
                self.client.download_fileobj(self.bucket, self.key(sha256), handle)
            if file_sha256(partial) != sha256:
                raise StoredFileCorrupt(f"the stored file {sha256[:12]}… fails its SHA-256 check",
                                        where=f"s3://{self.bucket}/{self.key(sha256)}",
                                        hint="restore the object from the bucket's versions "
                                             "or backup")
            os.replace(partial, target)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                raise StoredFileCorrupt(f"the stored file {sha256[:12]}… is missing from the "
                                        "store", where=f"s3://{self.bucket}/{self.key(sha256)}",
                                        hint="restore the object from the bucket's backup"
                                        ) from None
            raise self._unavailable(exc) from None
        except BotoCoreError as exc:
            raise self._unavailable(exc) from None
        finally:
            partial.unlink(missing_ok=True)
        return target
