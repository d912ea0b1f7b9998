-- 0008_partition_maintenance: creation of dated partitions ahead of time.
--
--   llm_usage_log, security_audit_logs  monthly  <table>_pYYYY_MM     [1st of month 00:00 UTC, next 1st)
--   agent_task_history                  weekly   <table>_pIYYY_wIW    [Monday 00:00 UTC, next Monday)
--
-- All partitions live in schema migration_partitions. Rows outside every dated partition land
-- in <table>_default, so an insert never fails for lack of a partition. ensure_partitions()
-- creates every missing partition from the current period through N periods ahead; when the
-- default partition already holds rows of a new range, they are moved into the new partition
-- before it is attached. It is called once below, and by the platform at start-up and
-- periodically afterwards (it is idempotent and cheap when nothing is missing).

CREATE FUNCTION migration.ensure_partitions(
    p_months_ahead integer DEFAULT 6,
    p_weeks_ahead integer DEFAULT 13
) RETURNS integer
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, migration
AS $$
DECLARE
    v_created integer := 0;
    v_spec record;
    v_base timestamp;        -- start of the current period, UTC wall clock
    v_lo timestamp;
    v_hi timestamp;
    v_name text;
    v_default text;
    v_has_default boolean;
    v_cols text;
    i integer;
BEGIN
    IF p_months_ahead IS NULL OR p_months_ahead < 0 OR p_months_ahead > 120 THEN
        RAISE EXCEPTION 'p_months_ahead must be between 0 and 120, got %', p_months_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_weeks_ahead IS NULL OR p_weeks_ahead < 0 OR p_weeks_ahead > 520 THEN
        RAISE EXCEPTION 'p_weeks_ahead must be between 0 and 520, got %', p_weeks_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Serialize concurrent callers (key = the bytes 'ModParts' as bigint). Transaction-scoped.
    PERFORM pg_advisory_xact_lock(5579788759730386035);

    FOR v_spec IN
        SELECT s.table_name, s.period, s.ahead
        FROM (VALUES
            ('llm_usage_log'::text,       'month'::text, p_months_ahead),
            ('security_audit_logs'::text, 'month'::text, p_months_ahead),
            ('agent_task_history'::text,  'week'::text,  p_weeks_ahead)
        ) AS s(table_name, period, ahead)
    LOOP
        v_base := date_trunc(v_spec.period, now(), 'UTC') AT TIME ZONE 'UTC';
        v_default := v_spec.table_name || '_default';
        v_has_default := to_regclass(format('migration_partitions.%I', v_default)) IS NOT NULL;

        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
        INTO v_cols
        FROM pg_attribute AS a
        WHERE a.attrelid = format('migration.%I', v_spec.table_name)::regclass
          AND a.attnum > 0
          AND NOT a.attisdropped;

        FOR i IN 0 .. v_spec.ahead LOOP
            IF v_spec.period = 'month' THEN
                v_lo := v_base + make_interval(months => i);
                v_hi := v_base + make_interval(months => i + 1);
                v_name := v_spec.table_name || to_char(v_lo, '"_p"YYYY"_"MM');
            ELSE
                v_lo := v_base + make_interval(weeks => i);
                v_hi := v_base + make_interval(weeks => i + 1);
                v_name := v_spec.table_name || to_char(v_lo, '"_p"IYYY"_w"IW');
            END IF;

            -- to_regclass sees the latest committed catalog state, also under REPEATABLE READ.
            CONTINUE WHEN to_regclass(format('migration_partitions.%I', v_name)) IS NOT NULL;

            -- Build the partition as a standalone table first.
            EXECUTE format(
                'CREATE TABLE migration_partitions.%I '
                '(LIKE migration.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                v_name, v_spec.table_name);

            IF v_has_default THEN
                -- ATTACH would fail while the default partition holds rows of the new range:
                -- block writers to it, then move those rows into the new table.
                EXECUTE format('LOCK TABLE migration_partitions.%I IN ACCESS EXCLUSIVE MODE',
                               v_default);
                -- Moving rows is not deleting them: tells the append-only guard of
                -- security_audit_logs (0010) to let this transaction's move through.
                PERFORM pg_catalog.set_config('modernize.moving_partition_rows', 'on', true);
                EXECUTE format(
                    'WITH moved AS ('
                    '  DELETE FROM migration_partitions.%I'
                    '  WHERE created_at >= $1 AND created_at < $2'
                    '  RETURNING %s'
                    ') INSERT INTO migration_partitions.%I (%s) SELECT %s FROM moved',
                    v_default, v_cols, v_name, v_cols, v_cols)
                USING (v_lo AT TIME ZONE 'UTC'), (v_hi AT TIME ZONE 'UTC');

                IF v_spec.table_name = 'agent_task_history' THEN
                    -- The delete trigger on the default partition dropped the task_id keys of
                    -- the moved rows; the rows still exist, so restore their keys.
                    EXECUTE format(
                        'INSERT INTO migration.agent_task_history_task_ids (task_id, created_at) '
                        'SELECT task_id, created_at FROM migration_partitions.%I '
                        'ON CONFLICT (task_id) DO NOTHING',
                        v_name);
                END IF;
            END IF;

            PERFORM pg_catalog.set_config('modernize.moving_partition_rows', '', true);

            EXECUTE format(
                'ALTER TABLE migration.%I ATTACH PARTITION migration_partitions.%I '
                'FOR VALUES FROM (%L) TO (%L)',
                v_spec.table_name, v_name,
                to_char(v_lo, 'YYYY-MM-DD HH24:MI:SS') || '+00',
                to_char(v_hi, 'YYYY-MM-DD HH24:MI:SS') || '+00');

            v_created := v_created + 1;
        END LOOP;
    END LOOP;

    RETURN v_created;
END
$$;

REVOKE ALL ON FUNCTION migration.ensure_partitions(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION migration.ensure_partitions(integer, integer) TO modernize_app;

SELECT migration.ensure_partitions();
