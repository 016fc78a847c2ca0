-- The dossiers of the plans a lookup found, with their approving decision and its file, and
-- their documents served as map tiles (GeoTIFF scans: %(map_types)s), each with its level's
-- inputs (the caller's rule is applied in Python: rules.may_read_document).
SELECT d.id, d.project_code, d.title, d.kind, d.scale, d.status, d.effective_from,
       d.effective_to, d.adjusts_id, a.project_code AS adjusts_project_code,
       dec.number, dec.decision_date, dec.effective_date, dec.authority, dec.signer,
       dec.document_id, doc.sensitivity AS document_sensitivity, doc.media_type,
       doc.file_name,
       (SELECT coalesce(json_agg(json_build_object('id', s.id, 'title', s.title,
                                                   'sensitivity', s.sensitivity)
                                 ORDER BY s.id), '[]')
        FROM planning_docs.documents s
        WHERE s.dossier_id = d.id AND s.media_type = ANY(%(map_types)s)) AS scans
FROM planning_docs.dossiers d
LEFT JOIN planning_docs.dossiers a ON a.id = d.adjusts_id
LEFT JOIN planning_docs.decisions dec ON dec.dossier_id = d.id
LEFT JOIN planning_docs.documents doc ON doc.id = dec.document_id
WHERE d.project_code = ANY(%(codes)s)
