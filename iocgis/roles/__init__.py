"""PostgreSQL roles that carry the access plan into the database: group roles per data level,
column grants on personal data, masked views, commune row-level security (``dbroles``), and the
QGIS projects and styles stored per role (``qgis``, ``qgis_project``)."""
