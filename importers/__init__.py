"""Importers: every format GIS officers bring, into the registry's layers, atomically.

    from iocgis.importers import ImportOptions, import_path
    report = import_path("parcels.gpkg", "land.parcels", ImportOptions(crs="EPSG:5899"))

Errors are ``iocgis.errors.InvalidInput`` (the file or an option is wrong), ``NotFound``
(unknown layer) or ``ImportFailed`` (a rule aborted the import); in every case the live layer
is unchanged and the attempt, with its quality report, is in ``meta.imports``. A layer whose
group needs approval stops at *pending* (``iocgis.importers.review``) until a steward decides.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iocgis.importers.history import history, rollback
    from iocgis.importers.options import ImportOptions
    from iocgis.importers.pipeline import import_path
    from iocgis.importers.report import Finding, ImportReport

# Loaded on first use: ``iocgis.settings`` imports ``iocgis.importers.settings`` at start-up,
# before the database modules the pipeline needs exist.
_EXPORTS = {"Finding": "report", "ImportReport": "report", "ImportOptions": "options",
            "import_path": "pipeline", "history": "history", "rollback": "history"}

__all__ = ["Finding", "ImportOptions", "ImportReport", "history", "import_path", "rollback"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'iocgis.importers' has no attribute {name!r}")
    module = import_module(f"iocgis.importers.{_EXPORTS[name]}")
    # Importing a submodule sets it as an attribute of this package: ``history`` (the
    # function) would then be the module ``history``. Put every export of it in its place.
    for export, home in _EXPORTS.items():
        if home == _EXPORTS[name]:
            globals()[export] = getattr(module, export)
    return globals()[name]
