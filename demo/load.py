"""Load a built demo into PostGIS through the importers, file by file, as an officer would."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from iocgis.demo.manifest import ManifestEntry, read_manifest
from iocgis.errors import ImportFailed, IocgisError

# Called with (entry, the importer's progress event) while a file loads.
LoadProgress = Callable[[ManifestEntry, dict[str, Any]], None]


@dataclass(frozen=True)
class LoadResult:
    entry: ManifestEntry
    rows_loaded: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.rows_loaded == self.entry.rows


def load_demo(
    directory: Path,
    *,
    url: str | None = None,
    user: str = "demo",
    progress: LoadProgress | None = None,
    on_result: Callable[[LoadResult], None] | None = None,
    only: set[str] | None = None,
    strict: bool = True,
) -> list[LoadResult]:
    """Import every manifest entry (``verify`` entries as dry runs), or the paths in ``only``.

    With ``strict``, raise ImportFailed at the end when a file failed or loaded another number
    of rows than the demo wrote; otherwise return the results and let the caller decide."""
    from iocgis.db import connect
    from iocgis.importers import ImportOptions, import_path

    directory = Path(directory)
    manifest = read_manifest(directory)
    with connect(url):  # one clear error when the database is down, not one per file
        pass
    source_date = date.fromisoformat(manifest.as_of[:10])
    results: list[LoadResult] = []
    for entry in manifest.files:
        if only is not None and entry.path not in only:
            continue
        options = dict(entry.options)
        if "mapping" in options:
            options["mapping"] = directory / options["mapping"]
        import_options = ImportOptions(
            mode=entry.mode if entry.load == "import" else "replace",
            dry_run=entry.load == "verify",
            user=user,
            source_date=source_date,
            approval="auto",  # the demo's departments' files go live at once (README: approval)
            **options,
        )
        sink = (lambda event, _e=entry: progress(_e, event)) if progress else None
        try:
            report = import_path(
                directory / entry.path, entry.layer, import_options, url=url, progress=sink
            )
            result = LoadResult(entry, report.rows_loaded)
            if not result.ok:
                result = LoadResult(
                    entry,
                    report.rows_loaded,
                    f"loaded {report.rows_loaded} of {entry.rows} rows "
                    f"({report.rows_rejected} rejected)",
                )
        except IocgisError as exc:
            result = LoadResult(entry, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - an importer bug must not hide the other files
            result = LoadResult(entry, None, f"importer error {type(exc).__name__}: {exc}")
        results.append(result)
        if on_result:
            on_result(result)
    failed = [r for r in results if not r.ok]
    if failed and strict:
        listing = "; ".join(f"{r.entry.path}: {r.error}" for r in failed[:5])
        raise ImportFailed(
            f"{len(failed)} of {len(results)} demo files did not load: {listing}",
            where=str(directory),
            hint="see `iocgis import history LAYER` for the quality reports",
        )
    return results
