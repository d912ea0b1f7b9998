-- 0028_retention: removing what has outlived its retention (configuration section
-- [retention], applied hourly by serve/worker and by `modernize db prune`).
--
-- drop_expired_partitions(months of llm_usage_log, months of security_audit_logs, weeks of
-- agent_task_history) detaches and drops every dated partition whose whole range ended more
-- than that many periods before the start of the current period; 0 or NULL keeps the table's
-- partitions for ever. Whole partitions only: rows are never deleted one by one (the
-- append-only guard of security_audit_logs stays intact) and rows in the default partitions
-- are never removed. The task_id keys (agent_task_history_task_ids) of dropped
-- agent_task_history rows go with them. Returns the names of the dropped partitions.
--
-- Finished jobs are purged by the application in platform scope (row-level security applies
-- to the table owner too); the index below serves that purge as ix_jobs_finished_at_dead
-- serves dead jobs.

CREATE INDEX ix_jobs_finished_at_succeeded ON migration.jobs (finished_at)
    WHERE status = 'succeeded';

CREATE FUNCTION migration.drop_expired_partitions(
    p_llm_usage_log_months integer,
    p_security_audit_logs_months integer,
    p_agent_task_history_weeks integer
) RETURNS SETOF text
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, migration
AS $$
DECLARE
    v_spec record;
    v_part record;
    v_cutoff timestamptz;
BEGIN
    IF p_llm_usage_log_months < 0 OR p_security_audit_logs_months < 0
       OR p_agent_task_history_weeks < 0 THEN
        RAISE EXCEPTION 'retention periods must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- The lock of ensure_partitions: creation and removal of partitions never interleave.
    PERFORM pg_advisory_xact_lock(5579788759730386035);

    FOR v_spec IN
        SELECT s.table_name, s.period, s.keep
        FROM (VALUES
            ('llm_usage_log'::text,       'month'::text, p_llm_usage_log_months),
            ('security_audit_logs'::text, 'month'::text, p_security_audit_logs_months),
            ('agent_task_history'::text,  'week'::text,  p_agent_task_history_weeks)
        ) AS s(table_name, period, keep)
    LOOP
        CONTINUE WHEN v_spec.keep IS NULL OR v_spec.keep = 0;
        -- Periods are counted on the UTC wall clock, as ensure_partitions names them.
        v_cutoff := ((date_trunc(v_spec.period, now(), 'UTC') AT TIME ZONE 'UTC')
                     - CASE v_spec.period
                           WHEN 'month' THEN make_interval(months => v_spec.keep)
                           ELSE make_interval(weeks => v_spec.keep)
                       END) AT TIME ZONE 'UTC';
        FOR v_part IN
            SELECT c.relname::text AS name,
                   substring(pg_get_expr(c.relpartbound, c.oid)
                             FROM 'TO \(''([^'']+)''\)')::timestamptz AS upper_bound
            FROM pg_inherits AS i
            JOIN pg_class AS c ON c.oid = i.inhrelid
            JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE i.inhparent = format('migration.%I', v_spec.table_name)::regclass
              AND n.nspname = 'migration_partitions'
            ORDER BY 2
        LOOP
            -- The default partition has no upper bound.
            CONTINUE WHEN v_part.upper_bound IS NULL OR v_part.upper_bound > v_cutoff;
            EXECUTE format('ALTER TABLE migration.%I DETACH PARTITION migration_partitions.%I',
                           v_spec.table_name, v_part.name);
            IF v_spec.table_name = 'agent_task_history' THEN
                EXECUTE format(
                    'DELETE FROM migration.agent_task_history_task_ids AS k '
                    'USING migration_partitions.%I AS t WHERE k.task_id = t.task_id',
                    v_part.name);
            END IF;
            EXECUTE format('DROP TABLE migration_partitions.%I', v_part.name);
            RETURN NEXT v_part.name;
        END LOOP;
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION migration.drop_expired_partitions(integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION migration.drop_expired_partitions(integer, integer, integer)
    TO modernize_app;
