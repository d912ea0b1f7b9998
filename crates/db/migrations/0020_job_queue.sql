-- 0020_job_queue: the durable job queue of the engine (crates/engine/src/queue).
--
-- jobs       one row per job: kind + JSON input, status, attempts, lease, error history.
-- job_lanes  one row per client (plus one for platform jobs): when the lane was last served,
--            so that claims go round-robin between clients (fairness).
--
-- Both carry client_account_id (NULL = platform job / platform lane) and follow the tenant
-- rules of 0009: RLS enabled and forced, policy tenant_isolation. Requests enqueue in their
-- tenant transaction; the worker claims in platform scope. The runtime role gets its
-- privileges through the default privileges of 0009.

CREATE TABLE migration.job_lanes (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    client_account_id UUID,
    -- The lane key: the client, or the nil UUID for platform jobs. A generated column so that
    -- jobs can join on an indexable NOT NULL key instead of IS NOT DISTINCT FROM.
    lane UUID NOT NULL GENERATED ALWAYS AS
        (COALESCE(client_account_id, '00000000-0000-0000-0000-000000000000'::uuid)) STORED,
    last_served_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ,
    CONSTRAINT job_lanes_pkey PRIMARY KEY (id),
    CONSTRAINT uq_job_lanes_lane UNIQUE (lane),
    CONSTRAINT fk_job_lanes_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE CASCADE
);

CREATE INDEX ix_job_lanes_client_account_id ON migration.job_lanes (client_account_id);
-- No index on last_served_at: every claim updates it, and leaving it unindexed keeps those
-- updates HOT (no index churn). The claim sorts the (few) lanes in memory.

CREATE TRIGGER tr_job_lanes_updated_at
    BEFORE UPDATE ON migration.job_lanes
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();

CREATE TABLE migration.jobs (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    client_account_id UUID,
    lane UUID NOT NULL GENERATED ALWAYS AS
        (COALESCE(client_account_id, '00000000-0000-0000-0000-000000000000'::uuid)) STORED,
    kind VARCHAR(100) NOT NULL,
    input JSONB NOT NULL DEFAULT '{}'::jsonb,
    status VARCHAR(20) NOT NULL DEFAULT 'queued',
    -- Attempts started so far (incremented by each claim).
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    -- Not claimed before this time (delayed jobs, retry backoff).
    run_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The current holder: a fresh token per claim. Every update by a worker is guarded by it,
    -- so a worker whose lease expired (and whose job was claimed again) changes nothing.
    lease_token UUID,
    lease_expires_at TIMESTAMPTZ,
    locked_by VARCHAR(255),
    last_error TEXT,
    -- One entry per failed attempt: {"attempt", "error", "at"}.
    error_history JSONB NOT NULL DEFAULT '[]'::jsonb,
    finished_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ,
    CONSTRAINT jobs_pkey PRIMARY KEY (id),
    CONSTRAINT fk_jobs_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE CASCADE,
    CONSTRAINT ck_jobs_status CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    CONSTRAINT ck_jobs_attempts CHECK (attempts >= 0 AND max_attempts >= 1),
    CONSTRAINT ck_jobs_lease
        CHECK ((status = 'running') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
);

CREATE INDEX ix_jobs_client_account_id ON migration.jobs (client_account_id);
-- The claim: the next due queued job of one lane.
CREATE INDEX ix_jobs_lane_run_at ON migration.jobs (lane, run_at) WHERE status = 'queued';
-- The reaper: running jobs whose lease expired.
CREATE INDEX ix_jobs_lease_expires_at ON migration.jobs (lease_expires_at) WHERE status = 'running';
-- list_dead.
CREATE INDEX ix_jobs_finished_at_dead ON migration.jobs (finished_at) WHERE status = 'dead';

CREATE TRIGGER tr_jobs_updated_at
    BEFORE UPDATE ON migration.jobs
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();

ALTER TABLE migration.job_lanes ENABLE ROW LEVEL SECURITY;
ALTER TABLE migration.job_lanes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON migration.job_lanes FOR ALL
    USING (client_account_id = migration.current_client_account_id() OR migration.is_platform_scope())
    WITH CHECK (client_account_id = migration.current_client_account_id() OR migration.is_platform_scope());

ALTER TABLE migration.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE migration.jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON migration.jobs FOR ALL
    USING (client_account_id = migration.current_client_account_id() OR migration.is_platform_scope())
    WITH CHECK (client_account_id = migration.current_client_account_id() OR migration.is_platform_scope());
