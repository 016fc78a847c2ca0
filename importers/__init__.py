"""Importers: every format GIS officers bring, into the registry's layers, atomically.

    from iocgis.importers import ImportOptions, import_path
    report = import_path("parcels.gpkg", "land.parcels", ImportOptions(crs="EPSG:5899"))

Errors are ``iocgis.errors.InvalidInput`` (the file or an option is wrong), ``NotFound``
(unknown layer) or ``ImportFailed`` (a rule aborted the import); in every case the live layer
is unchanged and the attempt, with its quality report, is in ``meta.imports``. A layer whose
group needs approval stops at *pending* (``iocgis.importers.review``) until a steward decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iocgis.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from iocgis.importers.options import ImportOptions
    from iocgis.importers.pipeline import import_path
    from iocgis.importers.report import Finding, ImportReport

# Loaded on first use: ``iocgis.settings`` imports ``iocgis.importers.settings`` at start-up,
# before the database modules the pipeline needs exist.
# (``history`` and ``rollback`` live in ``iocgis.importers.history``, a module of the same
# name as the first: exported here, either could shadow the other.)
_EXPORTS = {"Finding": "report", "ImportReport": "report", "ImportOptions": "options",
            "import_path": "pipeline"}

__all__ = ["Finding", "ImportOptions", "ImportReport", "import_path"]


__getattr__ = lazy_exports("iocgis.importers", _EXPORTS, globals())
