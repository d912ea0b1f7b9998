-- 0027_learned_pattern_outcomes: which learned mapping correction proposed a column's mapping,
-- so that a committed import settles whether the pattern was kept or overridden
-- (`agent_learning_patterns.success_rate`). A pattern deleted later leaves the column's
-- mapping as it was decided.
ALTER TABLE migration.import_column_mappings
    ADD COLUMN learned_pattern_id UUID,
    ADD CONSTRAINT fk_import_column_mappings_learned_pattern_id_agent_learning_patterns
        FOREIGN KEY (learned_pattern_id) REFERENCES migration.agent_learning_patterns (id)
        ON DELETE SET NULL;
CREATE INDEX ix_import_column_mappings_learned_pattern_id
    ON migration.import_column_mappings (learned_pattern_id)
    WHERE learned_pattern_id IS NOT NULL;
