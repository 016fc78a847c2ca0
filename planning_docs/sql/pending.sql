-- Adjustments of the found plans that are not in force on %(as_of)s yet: still being
-- prepared (the statuses the caller may see) or approved with a later effective date.
SELECT p.project_code AS adjusted_code, adj.id, adj.project_code, adj.title, adj.status,
       adj.effective_from, adj.replaces_all,
       ARRAY(SELECT s.zone_code FROM planning_docs.superseded_zones s
             WHERE s.adjustment_id = adj.id ORDER BY s.zone_code) AS zones
FROM planning_docs.dossiers adj
JOIN planning_docs.dossiers p ON p.id = adj.adjusts_id
WHERE p.project_code = ANY(%(codes)s)
  AND (adj.status = ANY(%(pending)s)
       OR (adj.status = ANY(%(approved)s) AND adj.effective_from > %(as_of)s))
ORDER BY adj.id
