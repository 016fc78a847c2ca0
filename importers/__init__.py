"""Importers: every format GIS officers bring, into the registry's layers, atomically.

    from iocgis.importers import ImportOptions, import_path
    report = import_path("parcels.gpkg", "land.parcels", ImportOptions(crs="EPSG:5899"))

Errors are ``iocgis.errors.InvalidInput`` (the file or an option is wrong), ``NotFound``
(unknown layer) or ``ImportFailed`` (a rule aborted the import); in every case the live layer
is unchanged and the attempt, with its quality report, is in ``meta.imports``.
"""

from iocgis.importers.history import history, rollback
from iocgis.importers.options import ImportOptions
from iocgis.importers.pipeline import import_path
from iocgis.importers.report import Finding, ImportReport

__all__ = ["Finding", "ImportOptions", "ImportReport", "history", "import_path", "rollback"]
