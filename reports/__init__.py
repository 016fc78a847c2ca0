"""Leaders' dashboard and meeting reports generated from the platform (issue 18): report
definitions as data (``definitions/*.yaml``), PDF and XLSX outputs, maps rendered on the
server, the record of every generation, and the ``/dashboard`` page. Imported as
``iocgis.reports``."""
