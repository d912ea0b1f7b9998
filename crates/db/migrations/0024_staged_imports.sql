-- 0024_staged_imports: imports staged before their mapping is reviewed (discovery flow).
--
-- - import_rows.status 'staged': a raw row read and stored, not yet cleansed or reconciled.
-- - import_sessions.plan: what the reader decided (format, table, headers, layout, the proposed
--   column mapping with units and fallbacks, or the relationship fields), so that a staged
--   import is applied later from its rows with the mapping a user approved or edited.
ALTER TABLE migration.import_rows DROP CONSTRAINT ck_import_rows_status;
ALTER TABLE migration.import_rows ADD CONSTRAINT ck_import_rows_status
    CHECK (status IN ('staged', 'accepted', 'fixed', 'rejected'));
ALTER TABLE migration.import_sessions ADD COLUMN plan JSONB;
