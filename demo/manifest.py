"""``manifest.json``: what a demo build wrote, file by file, and how to import each file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from iocgis.errors import InvalidInput

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class ManifestEntry:
    """One file: which layer it feeds, in which format, CRS and encoding, with which options.

    ``load`` is ``import`` for the file that fills the layer, or ``verify`` for a second
    rendering of the same rows in another format (the CAD drawing): it is read and checked
    through the importer with ``dry_run`` so the live layer is not loaded twice."""

    path: str
    layer: str
    format: str
    crs: str
    encoding: str
    rows: int
    sha256: str
    load: Literal["import", "verify"] = "import"
    mode: str = "replace"
    options: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


@dataclass
class Manifest:
    scale: str
    seed: int
    as_of: str
    province: dict[str, Any]
    files: list[ManifestEntry] = field(default_factory=list)
    version: int = MANIFEST_VERSION
    name: str = "iocgis Đồng Nai demo"

    @property
    def layer_rows(self) -> dict[str, int]:
        """Rows per layer, from the files that load it (not the verification copies)."""
        rows: dict[str, int] = {}
        for entry in self.files:
            if entry.load == "import":
                rows[entry.layer] = rows.get(entry.layer, 0) + entry.rows
        return rows

    def to_json(self) -> str:
        body = {
            "name": self.name,
            "version": self.version,
            "scale": self.scale,
            "seed": self.seed,
            "as_of": self.as_of,
            "province": self.province,
            "layers": self.layer_rows,
            "files": [{k: v for k, v in asdict(e).items() if v is not None} for e in self.files],
        }
        return json.dumps(body, ensure_ascii=False, indent=2) + "\n"

    def write(self, directory: Path) -> Path:
        path = directory / MANIFEST_NAME
        path.write_text(self.to_json(), encoding="utf-8")
        return path


def read_manifest(path: Path) -> Manifest:
    """A manifest from a file or from the folder holding ``manifest.json``."""
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        files = [ManifestEntry(**f) for f in raw["files"]]
        return Manifest(
            scale=raw["scale"],
            seed=raw["seed"],
            as_of=raw["as_of"],
            province=raw["province"],
            files=files,
            version=raw.get("version", MANIFEST_VERSION),
            name=raw.get("name", ""),
        )
    except FileNotFoundError:
        raise InvalidInput(
            "no demo manifest found",
            where=str(path),
            hint="build the demo first with `iocgis demo`",
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            f"the demo manifest is not readable: {exc}",
            where=str(path),
            hint="rebuild the demo with `iocgis demo`",
        ) from exc


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
