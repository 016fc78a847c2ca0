-- Dossiers and documents matching %(q)s with or without diacritics (planning_docs.vn_folded),
-- exact-accent matches first; only what the caller may read (statuses, sensitivity levels).
WITH q AS (
    SELECT websearch_to_tsquery('planning_docs.vn_folded', %(q)s) AS folded,
           websearch_to_tsquery('pg_catalog.simple', %(q)s) AS exact
), hits AS (
    SELECT 'dossier' AS type, d.id AS dossier_id, NULL::bigint AS document_id, d.title,
           d.project_code, d.status, NULL::text AS kind, NULL::text AS media_type,
           d.tsv_exact @@ q.exact AS exact,
           ts_rank_cd(d.tsv_folded, q.folded) + ts_rank_cd(d.tsv_exact, q.exact) AS rank,
           d.search_text
    FROM planning_docs.dossiers d, q
    WHERE d.tsv_folded @@ q.folded AND d.status = ANY(%(statuses)s)
    UNION ALL
    SELECT 'document', doc.dossier_id, doc.id, doc.title, d.project_code, d.status, doc.kind,
           doc.media_type, doc.tsv_exact @@ q.exact,
           ts_rank_cd(doc.tsv_folded, q.folded) + ts_rank_cd(doc.tsv_exact, q.exact),
           doc.search_text
    FROM planning_docs.documents doc
    JOIN planning_docs.dossiers d ON d.id = doc.dossier_id, q
    WHERE doc.tsv_folded @@ q.folded AND d.status = ANY(%(statuses)s)
      AND doc.sensitivity = ANY(%(levels)s)
)
SELECT type, dossier_id, document_id, title, project_code, status, kind, media_type, exact,
       rank, ts_headline('planning_docs.vn_folded', search_text, (SELECT folded FROM q),
                         'MaxFragments=2, MaxWords=20, MinWords=6, StartSel=«, StopSel=»')
           AS snippet,
       count(*) OVER () AS matched
FROM hits
ORDER BY exact DESC, rank DESC, dossier_id, document_id NULLS FIRST
LIMIT %(limit)s OFFSET %(offset)s
