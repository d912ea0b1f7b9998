-- 0009_tenant_isolation: row-level security and the runtime role's privileges.
--
-- Every table that carries client_account_id (client_accounts: its own id) has RLS enabled
-- and forced, with one policy tenant_isolation: a row is visible and writable when it
-- belongs to the tenant of the transaction (app.client_account_id) or the transaction runs
-- in platform scope (app.platform = 'on'). Rows whose client_account_id is NULL are
-- therefore reachable only in platform scope.
--
-- No RLS: users, user_profiles (identity), platform_adapters (global catalogue),
-- agent_performance_daily (platform aggregate), agent_task_history_task_ids (internal,
-- no privileges for the runtime role).

ALTER TABLE migration.client_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE migration.client_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON migration.client_accounts
    FOR ALL
    USING (id = migration.current_client_account_id() OR migration.is_platform_scope())
    WITH CHECK (id = migration.current_client_account_id() OR migration.is_platform_scope());

DO $$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY[
        'engagements',
        'user_roles',
        'crewai_flow_state_extensions',
        'discovery_flows',
        'assessment_flows',
        'collection_flows',
        'assets',
        'asset_dependencies',
        'platform_credentials',
        'agent_task_history',
        'llm_usage_log',
        'agent_learning_patterns',
        'security_audit_logs'
    ]
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

-- Runtime role privileges. Nothing on schema migration_partitions.
GRANT USAGE ON SCHEMA migration TO modernize_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA migration TO modernize_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA migration TO modernize_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA migration TO modernize_app;

-- Internal: maintained only by the SECURITY DEFINER trigger function.
REVOKE ALL ON migration.agent_task_history_task_ids FROM modernize_app;
REVOKE ALL ON FUNCTION migration.agent_task_history_maintain_task_ids() FROM modernize_app;

-- Objects created later in schema migration by the migrating role get the same privileges.
-- (A table that must stay private needs an explicit REVOKE in its migration.)
ALTER DEFAULT PRIVILEGES IN SCHEMA migration
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO modernize_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA migration
    GRANT USAGE ON SEQUENCES TO modernize_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA migration
    GRANT EXECUTE ON FUNCTIONS TO modernize_app;
