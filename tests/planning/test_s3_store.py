"""The S3-compatible dossier store against a real S3 server on loopback (moto's server, run as
a process): configured by settings only, content-addressed, stored once, and checked on every
read (an object changed or removed in the bucket is never served)."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from iocgis.errors import ConfigError
from iocgis.planning_docs.filestore import StoredFileCorrupt, receive, store_for
from iocgis.planning_docs.s3store import S3FileStore
from iocgis.planning_docs.settings import PlanningSettings

from ..conftest import free_port

BUCKET = "ho-so-quy-hoach"


@pytest.fixture(scope="module")
def s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H",
                               "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the S3 server stopped"
                assert time.monotonic() < deadline, "the S3 server did not start"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(10)
        log.close()


@pytest.fixture()
def store(s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3FileStore:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "iocgis-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "iocgis-test-secret")
    settings = PlanningSettings(store="s3", s3_bucket=BUCKET, s3_endpoint_url=s3_url,
                                s3_region="ap-southeast-1", s3_prefix="planning/",
                                s3_addressing_style="path", files_dir=tmp_path / "local")
    made = store_for(settings, tmp_path)
    assert isinstance(made, S3FileStore)
    if not made.client.list_buckets()["Buckets"]:
        made.client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={
            "LocationConstraint": "ap-southeast-1"})
    return made


def _objects(store: S3FileStore) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=BUCKET, Prefix="planning/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_files_go_to_the_bucket_once_and_come_back_checked(store: S3FileStore) -> None:
    content = "Thuyết minh quy hoạch phường Trấn Biên ".encode() * 2000
    sha = hashlib.sha256(content).hexdigest()
    for _ in range(2):
        incoming = receive(io.BytesIO(content), store, limit=1 << 20)
        assert incoming.sha256 == sha
        store.keep(incoming)
        assert not incoming.path.exists()  # the spool copy is gone either way
    assert _objects(store).count(f"planning/{sha[:2]}/{sha[2:4]}/{sha}") == 1
    head = store.client.head_object(Bucket=BUCKET, Key=store.key(sha), ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(content)
    assert store.fetch(sha).read_bytes() == content


def test_a_changed_or_missing_object_is_never_served(store: S3FileStore) -> None:
    content = b"%PDF-1.4 quyet dinh phe duyet 789/QD-UBND"
    incoming = receive(io.BytesIO(content), store, limit=1 << 20)
    store.keep(incoming)
    sha = incoming.sha256
    store.client.put_object(Bucket=BUCKET, Key=store.key(sha), Body=b"%PDF-1.4 altered")
    with pytest.raises(StoredFileCorrupt, match="SHA-256"):
        store.fetch(sha)
    assert not (store.local_dir / "cache" / sha[:2] / sha).exists()  # no bad copy kept
    store.client.delete_object(Bucket=BUCKET, Key=store.key(sha))
    with pytest.raises(StoredFileCorrupt, match="missing"):
        store.fetch(sha)


def test_the_s3_store_needs_its_bucket(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="bucket") as raised:
        store_for(PlanningSettings(store="s3"), tmp_path)
    assert raised.value.where == "IOCGIS_PLANNING_S3_BUCKET"
