-- 0022_imports: file imports into the asset inventory (crates/engine/src/import).
--
-- - import_sessions: one import of one file into one engagement: what was read (format,
--   detected layout and its confidence), how it ended (status, error code and message) and
--   its counts; summary holds the full report.
-- - import_rows: every raw row of an import as read (values by header), with its outcome:
--   accepted, fixed (warnings) or rejected (issue codes), and the asset it created or updated.
--   The row-level report of an import is a query on this table.
-- - import_column_mappings: the column mappings of an import (source column → attribute,
--   custom attribute or ignore) with confidence, status and, once reviewed, who decided.
-- - A lookup index of assets by source system and source id for identity reconciliation.
-- All new tables carry client_account_id with RLS enabled, forced, policy tenant_isolation.

CREATE TABLE migration.import_sessions (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    client_account_id UUID NOT NULL,
    engagement_id UUID NOT NULL,
    flow_id UUID,
    file_name VARCHAR(255) NOT NULL,
    file_size_bytes BIGINT,
    file_sha256 VARCHAR(64),
    format VARCHAR(20),
    layout VARCHAR(50),
    layout_confidence FLOAT,
    source_system VARCHAR(100),
    dry_run BOOLEAN NOT NULL DEFAULT false,
    status VARCHAR(20) NOT NULL DEFAULT 'staged',
    rows_read BIGINT NOT NULL DEFAULT 0,
    rows_rejected BIGINT NOT NULL DEFAULT 0,
    assets_created BIGINT NOT NULL DEFAULT 0,
    assets_updated BIGINT NOT NULL DEFAULT 0,
    assets_unchanged BIGINT NOT NULL DEFAULT 0,
    dependencies_created BIGINT NOT NULL DEFAULT 0,
    summary JSONB NOT NULL DEFAULT '{}',
    error_code VARCHAR(50),
    error_message TEXT,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    CONSTRAINT import_sessions_pkey PRIMARY KEY (id),
    -- Target of the composite foreign keys of import_rows and import_column_mappings.
    CONSTRAINT uq_import_sessions_id_client_account_id UNIQUE (id, client_account_id),
    CONSTRAINT fk_import_sessions_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_import_sessions_engagement_id_engagements
        FOREIGN KEY (engagement_id, client_account_id)
        REFERENCES migration.engagements (id, client_account_id) ON DELETE RESTRICT,
    CONSTRAINT fk_import_sessions_flow_id_crewai_flow_state_extensions
        FOREIGN KEY (flow_id, client_account_id)
        REFERENCES migration.crewai_flow_state_extensions (flow_id, client_account_id)
        ON DELETE SET NULL (flow_id),
    CONSTRAINT fk_import_sessions_created_by_users
        FOREIGN KEY (created_by) REFERENCES migration.users (id) ON DELETE SET NULL,
    CONSTRAINT ck_import_sessions_status CHECK (status IN (
        'staged', 'mapping_review', 'committed', 'dry_run_completed', 'failed'
    )),
    CONSTRAINT ck_import_sessions_layout_confidence CHECK (layout_confidence BETWEEN 0 AND 1),
    CONSTRAINT ck_import_sessions_counts CHECK (
        rows_read >= 0 AND rows_rejected >= 0 AND assets_created >= 0 AND assets_updated >= 0
        AND assets_unchanged >= 0 AND dependencies_created >= 0
    )
);
CREATE INDEX ix_import_sessions_client_account_id_engagement_id
    ON migration.import_sessions (client_account_id, engagement_id, created_at);
CREATE INDEX ix_import_sessions_engagement_id ON migration.import_sessions (engagement_id);
CREATE INDEX ix_import_sessions_flow_id ON migration.import_sessions (flow_id);
CREATE INDEX ix_import_sessions_created_by ON migration.import_sessions (created_by);
CREATE TRIGGER tr_import_sessions_updated_at
    BEFORE UPDATE ON migration.import_sessions
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();

CREATE TABLE migration.import_rows (
    import_session_id UUID NOT NULL,
    client_account_id UUID NOT NULL,
    table_name VARCHAR(255) NOT NULL,
    row_number BIGINT NOT NULL,
    raw JSONB NOT NULL DEFAULT '{}',
    status VARCHAR(20) NOT NULL DEFAULT 'accepted',
    issues JSONB NOT NULL DEFAULT '[]',
    asset_id UUID,
    action VARCHAR(20),
    CONSTRAINT import_rows_pkey PRIMARY KEY (import_session_id, table_name, row_number),
    CONSTRAINT fk_import_rows_import_session_id_import_sessions
        FOREIGN KEY (import_session_id, client_account_id)
        REFERENCES migration.import_sessions (id, client_account_id) ON DELETE CASCADE,
    CONSTRAINT fk_import_rows_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT ck_import_rows_status CHECK (status IN ('accepted', 'fixed', 'rejected')),
    CONSTRAINT ck_import_rows_action CHECK (action IN ('created', 'updated', 'unchanged'))
);
CREATE INDEX ix_import_rows_client_account_id ON migration.import_rows (client_account_id);
CREATE INDEX ix_import_rows_asset_id ON migration.import_rows (asset_id);
CREATE INDEX ix_import_rows_import_session_id_status
    ON migration.import_rows (import_session_id, status);

CREATE TABLE migration.import_column_mappings (
    import_session_id UUID NOT NULL,
    client_account_id UUID NOT NULL,
    table_name VARCHAR(255) NOT NULL,
    source_column VARCHAR(255) NOT NULL,
    column_index INTEGER NOT NULL DEFAULT 0,
    target VARCHAR(255),
    target_kind VARCHAR(20) NOT NULL,
    confidence FLOAT NOT NULL DEFAULT 0,
    status VARCHAR(20) NOT NULL,
    reason TEXT,
    decided_by UUID,
    decided_at TIMESTAMPTZ,
    CONSTRAINT import_column_mappings_pkey
        PRIMARY KEY (import_session_id, table_name, source_column),
    CONSTRAINT fk_import_column_mappings_import_session_id_import_sessions
        FOREIGN KEY (import_session_id, client_account_id)
        REFERENCES migration.import_sessions (id, client_account_id) ON DELETE CASCADE,
    CONSTRAINT fk_import_column_mappings_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_import_column_mappings_decided_by_users
        FOREIGN KEY (decided_by) REFERENCES migration.users (id) ON DELETE SET NULL,
    CONSTRAINT ck_import_column_mappings_target_kind
        CHECK (target_kind IN ('attribute', 'custom', 'ignore')),
    CONSTRAINT ck_import_column_mappings_status
        CHECK (status IN ('approved', 'needs_review', 'rejected', 'edited')),
    CONSTRAINT ck_import_column_mappings_confidence CHECK (confidence BETWEEN 0 AND 1)
);
CREATE INDEX ix_import_column_mappings_client_account_id
    ON migration.import_column_mappings (client_account_id);
CREATE INDEX ix_import_column_mappings_decided_by
    ON migration.import_column_mappings (decided_by);

-- Identity reconciliation: assets of an engagement by the source system's identifier.
CREATE INDEX ix_assets_engagement_id_source_system_source_id
    ON migration.assets (engagement_id, source_system, source_id)
    WHERE source_id IS NOT NULL;
CREATE INDEX ix_assets_import_session_id ON migration.assets (import_session_id);

DO $$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['import_sessions', 'import_rows', 'import_column_mappings']
    LOOP
        EXECUTE format('ALTER TABLE migration.%I ENABLE ROW LEVEL SECURITY', v_table);
        EXECUTE format('ALTER TABLE migration.%I FORCE ROW LEVEL SECURITY', v_table);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON migration.%I FOR ALL '
            'USING (client_account_id = migration.current_client_account_id() '
            '       OR migration.is_platform_scope()) '
            'WITH CHECK (client_account_id = migration.current_client_account_id() '
            '            OR migration.is_platform_scope())',
            v_table);
    END LOOP;
END
$$;
