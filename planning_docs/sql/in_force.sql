-- Plans in force on %(as_of)s as the dossiers say (iocgis/planning_docs/asof.py).
WITH governing AS (
    SELECT id, project_code, adjusts_id, replaces_all, effective_from, effective_to
    FROM planning_docs.dossiers
    WHERE status = ANY(%(approved)s)
), live AS (
    SELECT * FROM governing
    WHERE effective_from <= %(as_of)s AND (effective_to IS NULL OR %(as_of)s < effective_to)
), adjusting AS (
    SELECT * FROM live WHERE adjusts_id IS NOT NULL
)
SELECT
    ARRAY(SELECT project_code FROM governing) AS governed,
    ARRAY(SELECT project_code FROM live) AS in_force,
    ARRAY(SELECT DISTINCT p.project_code FROM adjusting a
          JOIN planning_docs.dossiers p ON p.id = a.adjusts_id WHERE a.replaces_all) AS replaced,
    ARRAY(SELECT DISTINCT s.zone_code FROM adjusting a
          JOIN planning_docs.superseded_zones s ON s.adjustment_id = a.id) AS superseded
