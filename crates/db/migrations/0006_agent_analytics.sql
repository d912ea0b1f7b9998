-- 0006_agent_analytics: agent task history (partitioned weekly), daily agent performance,
-- LLM usage log (partitioned monthly) and the learned-pattern knowledge base.
--
-- Partitioned tables carry created_at NOT NULL in their primary key (PostgreSQL requires the
-- partition key in every primary/unique key). Their partitions live in migration_partitions;
-- the DEFAULT partition is created here, the dated ones by migration.ensure_partitions()
-- (0008_partition_maintenance).

CREATE TABLE migration.agent_task_history (
    id UUID NOT NULL DEFAULT gen_random_uuid(),

    -- Task Identification
    task_id VARCHAR(255) NOT NULL, -- globally unique via agent_task_history_task_ids
    parent_task_id VARCHAR(255),

    -- Flow Association
    flow_id UUID,
    flow_type VARCHAR(50),
    master_flow_id UUID,

    -- Tenant (nullable: platform-level tasks have none)
    client_account_id UUID,

    -- Agent Information
    agent_name VARCHAR(100) NOT NULL,
    agent_type VARCHAR(50),
    agent_version VARCHAR(20),

    -- Task Details
    task_type VARCHAR(100),
    task_description TEXT,
    input_data JSONB DEFAULT '{}',

    -- Execution
    status VARCHAR(50) DEFAULT 'pending',
    started_at TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE,
    duration_seconds FLOAT,

    -- Results
    output_data JSONB DEFAULT '{}',
    error_message TEXT,
    error_details JSONB,

    -- Performance
    tokens_used INTEGER,
    api_calls_made INTEGER,
    memory_used_mb FLOAT,

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT agent_task_history_pkey PRIMARY KEY (id, created_at),
    -- Composite: the master flow belongs to the task's client. A composite foreign key is not
    -- checked when one of its columns is NULL (MATCH SIMPLE), hence the CHECK below: a task
    -- of a flow is tenant data.
    CONSTRAINT fk_agent_task_history_master_flow_id_crewai_flow_state_extensio
        FOREIGN KEY (master_flow_id, client_account_id)
        REFERENCES migration.crewai_flow_state_extensions (flow_id, client_account_id)
        ON DELETE SET NULL (master_flow_id),
    CONSTRAINT ck_agent_task_history_master_flow_requires_client
        CHECK (master_flow_id IS NULL OR client_account_id IS NOT NULL),
    CONSTRAINT fk_agent_task_history_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT ck_agent_task_history_tokens_used CHECK (tokens_used >= 0),
    CONSTRAINT ck_agent_task_history_api_calls_made CHECK (api_calls_made >= 0)
) PARTITION BY RANGE (created_at);

CREATE TABLE migration_partitions.agent_task_history_default
    PARTITION OF migration.agent_task_history DEFAULT;

-- Declared inline in the schema design.
CREATE INDEX ix_agent_task_history_flow_id ON migration.agent_task_history (flow_id);
CREATE INDEX ix_agent_task_history_agent_name ON migration.agent_task_history (agent_name);
CREATE INDEX ix_agent_task_history_status ON migration.agent_task_history (status);
-- Lookup by task id, tenant and foreign-key indexes.
CREATE INDEX ix_agent_task_history_task_id ON migration.agent_task_history (task_id);
CREATE INDEX ix_agent_task_history_master_flow_id ON migration.agent_task_history (master_flow_id);
CREATE INDEX ix_agent_task_history_client_account_id
    ON migration.agent_task_history (client_account_id);

-- Global uniqueness of task_id. A unique index on a partitioned table must contain the
-- partition key, so UNIQUE (task_id) cannot be declared on agent_task_history itself. This
-- side table holds one row per task_id and is maintained by the trigger below: a duplicate
-- task_id fails with unique_violation on constraint agent_task_history_task_ids_pkey.
-- The runtime role has no privilege on it; the trigger function is SECURITY DEFINER.
CREATE TABLE migration.agent_task_history_task_ids (
    task_id VARCHAR(255) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT agent_task_history_task_ids_pkey PRIMARY KEY (task_id)
);

CREATE FUNCTION migration.agent_task_history_maintain_task_ids() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, migration
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO migration.agent_task_history_task_ids (task_id, created_at)
        VALUES (NEW.task_id, NEW.created_at);
    ELSIF TG_OP = 'UPDATE' THEN
        -- Re-key (task_id changed) and/or follow a moved created_at.
        UPDATE migration.agent_task_history_task_ids
        SET task_id = NEW.task_id, created_at = NEW.created_at
        WHERE task_id = OLD.task_id;
        IF NOT FOUND THEN
            INSERT INTO migration.agent_task_history_task_ids (task_id, created_at)
            VALUES (NEW.task_id, NEW.created_at);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM migration.agent_task_history_task_ids WHERE task_id = OLD.task_id;
    ELSIF TG_OP = 'TRUNCATE' THEN
        TRUNCATE migration.agent_task_history_task_ids;
    END IF;
    RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION migration.agent_task_history_maintain_task_ids() FROM PUBLIC;

CREATE TRIGGER tr_agent_task_history_task_ids_insert
    AFTER INSERT ON migration.agent_task_history
    FOR EACH ROW EXECUTE FUNCTION migration.agent_task_history_maintain_task_ids();

CREATE TRIGGER tr_agent_task_history_task_ids_update
    AFTER UPDATE ON migration.agent_task_history
    FOR EACH ROW
    WHEN (OLD.task_id IS DISTINCT FROM NEW.task_id OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION migration.agent_task_history_maintain_task_ids();

CREATE TRIGGER tr_agent_task_history_task_ids_delete
    AFTER DELETE ON migration.agent_task_history
    FOR EACH ROW EXECUTE FUNCTION migration.agent_task_history_maintain_task_ids();

CREATE TRIGGER tr_agent_task_history_task_ids_truncate
    AFTER TRUNCATE ON migration.agent_task_history
    FOR EACH STATEMENT EXECUTE FUNCTION migration.agent_task_history_maintain_task_ids();


CREATE TABLE migration.agent_performance_daily (
    id UUID NOT NULL DEFAULT gen_random_uuid(),

    -- Dimensions
    date DATE NOT NULL,
    agent_name VARCHAR(100) NOT NULL,
    flow_type VARCHAR(50),

    -- Task Metrics
    total_tasks INTEGER DEFAULT 0,
    successful_tasks INTEGER DEFAULT 0,
    failed_tasks INTEGER DEFAULT 0,

    -- Performance Metrics
    avg_duration_seconds FLOAT,
    p50_duration_seconds FLOAT,
    p95_duration_seconds FLOAT,
    p99_duration_seconds FLOAT,

    -- Resource Usage
    total_tokens_used INTEGER DEFAULT 0,
    total_api_calls INTEGER DEFAULT 0,
    total_cost DECIMAL(10, 4) DEFAULT 0,

    -- Quality Metrics
    error_rate FLOAT,
    retry_rate FLOAT,

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT agent_performance_daily_pkey PRIMARY KEY (id),
    -- NULLS NOT DISTINCT: one row per (date, agent, flow type) even when flow_type is NULL,
    -- so a recomputation upserts instead of duplicating.
    CONSTRAINT uq_agent_performance_daily_date_agent_name_flow_type
        UNIQUE NULLS NOT DISTINCT (date, agent_name, flow_type),
    CONSTRAINT ck_agent_performance_daily_total_tasks CHECK (total_tasks >= 0),
    CONSTRAINT ck_agent_performance_daily_successful_tasks CHECK (successful_tasks >= 0),
    CONSTRAINT ck_agent_performance_daily_failed_tasks CHECK (failed_tasks >= 0),
    CONSTRAINT ck_agent_performance_daily_total_tokens_used CHECK (total_tokens_used >= 0),
    CONSTRAINT ck_agent_performance_daily_total_api_calls CHECK (total_api_calls >= 0)
);


CREATE TABLE migration.llm_usage_log (
    id UUID NOT NULL DEFAULT gen_random_uuid(),

    -- Request Context
    flow_id UUID,
    task_id VARCHAR(255),
    user_id UUID,
    -- Tenant (nullable: platform-level calls have none)
    client_account_id UUID,
    engagement_id UUID,

    -- LLM Details
    provider VARCHAR(50) NOT NULL, -- 'openai', 'anthropic', 'deepinfra'
    model VARCHAR(100) NOT NULL,

    -- Usage Metrics
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,

    -- Cost Tracking
    prompt_cost DECIMAL(10, 6),
    completion_cost DECIMAL(10, 6),
    total_cost DECIMAL(10, 6),

    -- Request/Response
    request_payload JSONB,
    response_payload JSONB,

    -- Performance
    latency_ms INTEGER,
    status_code INTEGER,
    error_message TEXT,

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT llm_usage_log_pkey PRIMARY KEY (id, created_at),
    CONSTRAINT fk_llm_usage_log_user_id_users
        FOREIGN KEY (user_id) REFERENCES migration.users (id) ON DELETE SET NULL,
    CONSTRAINT fk_llm_usage_log_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    -- Composite: the engagement belongs to the same client. A composite foreign key is not
    -- checked when one of its columns is NULL (MATCH SIMPLE), hence the CHECK below.
    CONSTRAINT fk_llm_usage_log_engagement_id_engagements
        FOREIGN KEY (engagement_id, client_account_id)
        REFERENCES migration.engagements (id, client_account_id) ON DELETE RESTRICT,
    CONSTRAINT ck_llm_usage_log_engagement_requires_client
        CHECK (engagement_id IS NULL OR client_account_id IS NOT NULL),
    CONSTRAINT ck_llm_usage_log_prompt_tokens CHECK (prompt_tokens >= 0),
    CONSTRAINT ck_llm_usage_log_completion_tokens CHECK (completion_tokens >= 0),
    CONSTRAINT ck_llm_usage_log_total_tokens CHECK (total_tokens >= 0)
) PARTITION BY RANGE (created_at);

CREATE TABLE migration_partitions.llm_usage_log_default
    PARTITION OF migration.llm_usage_log DEFAULT;

-- Declared inline in the schema design.
CREATE INDEX ix_llm_usage_log_provider_model ON migration.llm_usage_log (provider, model);
CREATE INDEX ix_llm_usage_log_created_at ON migration.llm_usage_log (created_at);
-- Tenant and foreign-key indexes.
CREATE INDEX ix_llm_usage_log_client_account_id_engagement_id
    ON migration.llm_usage_log (client_account_id, engagement_id);
CREATE INDEX ix_llm_usage_log_engagement_id ON migration.llm_usage_log (engagement_id);
CREATE INDEX ix_llm_usage_log_user_id ON migration.llm_usage_log (user_id);


CREATE TABLE migration.agent_learning_patterns (
    id UUID NOT NULL DEFAULT gen_random_uuid(),

    -- Multi-tenant context
    client_account_id UUID NOT NULL,
    engagement_id UUID,
    master_flow_id UUID,

    -- Learning metadata
    insight_type VARCHAR(50) NOT NULL,

    -- AI content
    embedding vector(1536) NOT NULL,  -- OpenAI embedding dimension
    raw_evidence JSONB NOT NULL,      -- Original data/context
    confidence_score FLOAT,

    -- Usage tracking
    discovered_by VARCHAR(100),       -- Which agent found this
    validated BOOLEAN DEFAULT false,
    applied_count INTEGER DEFAULT 0,  -- Times this pattern was used
    success_rate FLOAT,               -- Success when applied

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    last_applied_at TIMESTAMP WITH TIME ZONE,
    expires_at TIMESTAMP WITH TIME ZONE,  -- For time-bound insights

    CONSTRAINT agent_learning_patterns_pkey PRIMARY KEY (id),
    CONSTRAINT fk_agent_learning_patterns_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE CASCADE,
    -- Composite: engagement and master flow belong to the same client. SET NULL clears only
    -- the referencing id (client_account_id is NOT NULL and stays).
    CONSTRAINT fk_agent_learning_patterns_engagement_id_engagements
        FOREIGN KEY (engagement_id, client_account_id)
        REFERENCES migration.engagements (id, client_account_id) ON DELETE SET NULL (engagement_id),
    CONSTRAINT fk_agent_learning_patterns_master_flow_id_crewai_flow_state_ext
        FOREIGN KEY (master_flow_id, client_account_id)
        REFERENCES migration.crewai_flow_state_extensions (flow_id, client_account_id)
        ON DELETE SET NULL (master_flow_id),
    CONSTRAINT ck_agent_learning_patterns_insight_type CHECK (insight_type IN (
        'field_mapping_suggestion',
        'risk_pattern',
        'optimization_opportunity',
        'anomaly_detection',
        'workflow_improvement'
    )),
    CONSTRAINT ck_agent_learning_patterns_confidence_score
        CHECK (confidence_score BETWEEN 0 AND 1),
    CONSTRAINT ck_agent_learning_patterns_applied_count CHECK (applied_count >= 0)
);

CREATE INDEX ix_agent_learning_patterns_client_account_id_engagement_id
    ON migration.agent_learning_patterns (client_account_id, engagement_id);
CREATE INDEX ix_agent_learning_patterns_engagement_id
    ON migration.agent_learning_patterns (engagement_id);
CREATE INDEX ix_agent_learning_patterns_master_flow_id
    ON migration.agent_learning_patterns (master_flow_id);
CREATE INDEX ix_agent_learning_patterns_raw_evidence
    ON migration.agent_learning_patterns USING gin (raw_evidence jsonb_path_ops);
-- Approximate nearest-neighbour search, cosine distance (embedding <=> query).
CREATE INDEX ix_agent_learning_patterns_embedding
    ON migration.agent_learning_patterns USING hnsw (embedding vector_cosine_ops);
