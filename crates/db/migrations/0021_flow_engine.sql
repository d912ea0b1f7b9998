-- 0021_flow_engine: the flow engine (crates/engine/src/flows).
--
-- - Master flows get a status, the id of the current phase run and CHECKs on their status.
-- - Every child flow table has status, current_phase and phases ({phase: {status, ...}}), with
--   CHECKs: flow status names are exactly those of modernize_domain::flow::FlowStatus, phase
--   status names exactly those of PhaseStatus.
-- - planning_flows, execution_flows: the planning and execution child flows, in the style of
--   collection_flows.
-- - flow_events: every transition of a flow, written in the transaction of the transition;
--   streamed to clients (server-sent events) by any server process after a
--   pg_notify('modernize_flow_events', flow_id).
-- - flow_approvals: approval gates (requested, then decided by a user with a comment).
-- All new tables carry client_account_id with RLS enabled, forced, policy tenant_isolation.

CREATE FUNCTION migration.is_flow_status(v text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    RETURN v IN ('initialized', 'running', 'paused', 'waiting_for_approval', 'completed',
                 'failed', 'cancelled');

-- Every value of {phase: {"status": ...}} is a PhaseStatus name.
CREATE FUNCTION migration.are_phase_statuses(v jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    RETURN v IS NULL OR jsonb_typeof(v) <> 'object' OR NOT EXISTS (
        SELECT 1 FROM jsonb_each(v) AS e
        WHERE e.value->>'status' IS NULL
           OR e.value->>'status' NOT IN ('pending', 'running', 'waiting_for_approval',
                                        'completed', 'failed', 'skipped'));

ALTER TABLE migration.crewai_flow_state_extensions
    ADD COLUMN status VARCHAR(50) NOT NULL DEFAULT 'initialized',
    -- The phase run the flow waits for: a run_phase job is a no-op unless it carries this id.
    ADD COLUMN phase_run_id UUID,
    ADD COLUMN created_by UUID,
    ADD CONSTRAINT ck_crewai_flow_state_extensions_status CHECK (migration.is_flow_status(status));

ALTER TABLE migration.discovery_flows
    ADD COLUMN current_phase VARCHAR(100),
    ADD CONSTRAINT ck_discovery_flows_status CHECK (migration.is_flow_status(status)),
    ADD CONSTRAINT ck_discovery_flows_phases CHECK (migration.are_phase_statuses(phases));

-- assessment_flows.status defaulted to 'pending', which is no flow status.
UPDATE migration.assessment_flows SET status = 'initialized' WHERE status = 'pending';
ALTER TABLE migration.assessment_flows
    ALTER COLUMN status SET DEFAULT 'initialized',
    ADD COLUMN current_phase VARCHAR(100),
    ADD COLUMN phases JSONB NOT NULL DEFAULT '{}',
    ADD CONSTRAINT ck_assessment_flows_status CHECK (migration.is_flow_status(status)),
    ADD CONSTRAINT ck_assessment_flows_phases CHECK (migration.are_phase_statuses(phases));

ALTER TABLE migration.collection_flows
    ADD COLUMN phases JSONB NOT NULL DEFAULT '{}',
    ADD CONSTRAINT ck_collection_flows_status CHECK (migration.is_flow_status(status)),
    ADD CONSTRAINT ck_collection_flows_phases CHECK (migration.are_phase_statuses(phases));


CREATE TABLE migration.planning_flows (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    flow_id UUID NOT NULL,
    master_flow_id UUID,
    client_account_id UUID NOT NULL,
    engagement_id UUID NOT NULL,
    assessment_flow_id UUID,
    status VARCHAR(50) DEFAULT 'initialized',
    current_phase VARCHAR(100),
    phases JSONB NOT NULL DEFAULT '{}',
    progress_percentage FLOAT DEFAULT 0.0,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT planning_flows_pkey PRIMARY KEY (id),
    CONSTRAINT uq_planning_flows_flow_id UNIQUE (flow_id),
    CONSTRAINT fk_planning_flows_master_flow_id_crewai_flow_state_extensions
        FOREIGN KEY (master_flow_id, client_account_id)
        REFERENCES migration.crewai_flow_state_extensions (flow_id, client_account_id)
        ON DELETE CASCADE,
    CONSTRAINT fk_planning_flows_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_planning_flows_engagement_id_engagements
        FOREIGN KEY (engagement_id, client_account_id)
        REFERENCES migration.engagements (id, client_account_id) ON DELETE RESTRICT,
    CONSTRAINT fk_planning_flows_assessment_flow_id_assessment_flows
        FOREIGN KEY (assessment_flow_id, client_account_id)
        REFERENCES migration.assessment_flows (id, client_account_id)
        ON DELETE SET NULL (assessment_flow_id),
    CONSTRAINT ck_planning_flows_status CHECK (migration.is_flow_status(status)),
    CONSTRAINT ck_planning_flows_phases CHECK (migration.are_phase_statuses(phases)),
    CONSTRAINT ck_planning_flows_progress_percentage CHECK (progress_percentage BETWEEN 0 AND 100)
);
CREATE INDEX ix_planning_flows_master_flow_id ON migration.planning_flows (master_flow_id);
CREATE INDEX ix_planning_flows_client_account_id_engagement_id
    ON migration.planning_flows (client_account_id, engagement_id);
CREATE INDEX ix_planning_flows_engagement_id ON migration.planning_flows (engagement_id);
CREATE INDEX ix_planning_flows_assessment_flow_id ON migration.planning_flows (assessment_flow_id);
CREATE TRIGGER tr_planning_flows_updated_at
    BEFORE UPDATE ON migration.planning_flows
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();

CREATE TABLE migration.execution_flows (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    flow_id UUID NOT NULL,
    master_flow_id UUID,
    client_account_id UUID NOT NULL,
    engagement_id UUID NOT NULL,
    status VARCHAR(50) DEFAULT 'initialized',
    current_phase VARCHAR(100),
    phases JSONB NOT NULL DEFAULT '{}',
    progress_percentage FLOAT DEFAULT 0.0,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT execution_flows_pkey PRIMARY KEY (id),
    CONSTRAINT uq_execution_flows_flow_id UNIQUE (flow_id),
    CONSTRAINT fk_execution_flows_master_flow_id_crewai_flow_state_extensions
        FOREIGN KEY (master_flow_id, client_account_id)
        REFERENCES migration.crewai_flow_state_extensions (flow_id, client_account_id)
        ON DELETE CASCADE,
    CONSTRAINT fk_execution_flows_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_execution_flows_engagement_id_engagements
        FOREIGN KEY (engagement_id, client_account_id)
        REFERENCES migration.engagements (id, client_account_id) ON DELETE RESTRICT,
    CONSTRAINT ck_execution_flows_status CHECK (migration.is_flow_status(status)),
    CONSTRAINT ck_execution_flows_phases CHECK (migration.are_phase_statuses(phases)),
    CONSTRAINT ck_execution_flows_progress_percentage CHECK (progress_percentage BETWEEN 0 AND 100)
);
CREATE INDEX ix_execution_flows_master_flow_id ON migration.execution_flows (master_flow_id);
CREATE INDEX ix_execution_flows_client_account_id_engagement_id
    ON migration.execution_flows (client_account_id, engagement_id);
CREATE INDEX ix_execution_flows_engagement_id ON migration.execution_flows (engagement_id);
CREATE TRIGGER tr_execution_flows_updated_at
    BEFORE UPDATE ON migration.execution_flows
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();

CREATE TABLE migration.flow_events (
    id BIGSERIAL NOT NULL,
    flow_id UUID NOT NULL,
    client_account_id UUID NOT NULL,
    kind VARCHAR(50) NOT NULL,
    payload JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT flow_events_pkey PRIMARY KEY (id),
    CONSTRAINT fk_flow_events_flow_id_crewai_flow_state_extensions
        FOREIGN KEY (flow_id, client_account_id)
        REFERENCES migration.crewai_flow_state_extensions (flow_id, client_account_id)
        ON DELETE CASCADE,
    CONSTRAINT fk_flow_events_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT
);
CREATE INDEX ix_flow_events_flow_id_id ON migration.flow_events (flow_id, id);
CREATE INDEX ix_flow_events_client_account_id ON migration.flow_events (client_account_id);

CREATE TABLE migration.flow_approvals (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    flow_id UUID NOT NULL,
    client_account_id UUID NOT NULL,
    phase VARCHAR(100) NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_at TIMESTAMPTZ,
    decided_by UUID,
    decision VARCHAR(20),
    comment TEXT,
    CONSTRAINT flow_approvals_pkey PRIMARY KEY (id),
    CONSTRAINT fk_flow_approvals_flow_id_crewai_flow_state_extensions
        FOREIGN KEY (flow_id, client_account_id)
        REFERENCES migration.crewai_flow_state_extensions (flow_id, client_account_id)
        ON DELETE CASCADE,
    CONSTRAINT fk_flow_approvals_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_flow_approvals_decided_by_users
        FOREIGN KEY (decided_by) REFERENCES migration.users (id) ON DELETE SET NULL,
    CONSTRAINT ck_flow_approvals_decision CHECK (decision IN ('approve', 'reject')),
    CONSTRAINT ck_flow_approvals_decided
        CHECK ((decision IS NULL) = (decided_at IS NULL))
);
-- At most one open approval per flow.
CREATE UNIQUE INDEX ix_flow_approvals_flow_id_open
    ON migration.flow_approvals (flow_id) WHERE decided_at IS NULL;
CREATE INDEX ix_flow_approvals_flow_id ON migration.flow_approvals (flow_id);
CREATE INDEX ix_flow_approvals_client_account_id ON migration.flow_approvals (client_account_id);
CREATE INDEX ix_flow_approvals_decided_by ON migration.flow_approvals (decided_by);

DO $$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['planning_flows', 'execution_flows', 'flow_events',
                                   'flow_approvals']
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
