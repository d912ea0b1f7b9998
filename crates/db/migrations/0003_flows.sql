-- 0003_flows: the master flow (orchestrator) and the discovery, assessment and collection
-- child flows. No CHECK constraints on status/phase columns here: the flow engine owns those.

CREATE TABLE migration.crewai_flow_state_extensions (
    flow_id UUID NOT NULL DEFAULT gen_random_uuid(), -- CrewAI Flow ID
    flow_type VARCHAR(50) NOT NULL, -- 'discovery', 'assessment', 'planning', 'execution'

    -- Associations
    client_account_id UUID NOT NULL,
    engagement_id UUID NOT NULL,

    -- Flow Metadata
    display_name VARCHAR(255),
    description TEXT,
    config JSONB DEFAULT '{}',

    -- State Management
    crew_ai_state JSONB,
    current_phase VARCHAR(100),
    phase_history JSONB DEFAULT '[]',
    execution_metrics JSONB DEFAULT '{}',

    -- Child Flow Tracking
    child_flows JSONB DEFAULT '{}', -- {discovery: uuid, assessment: uuid, ...}

    -- Timestamps
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT crewai_flow_state_extensions_pkey PRIMARY KEY (flow_id),
    -- Target of the composite (master_flow_id, client_account_id) foreign keys: a row can only
    -- reference a master flow of its own client.
    CONSTRAINT uq_crewai_flow_state_extensions_flow_id_client_account_id
        UNIQUE (flow_id, client_account_id),
    CONSTRAINT fk_crewai_flow_state_extensions_client_account_id_client_accoun
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    -- Composite: the engagement belongs to the same client.
    CONSTRAINT fk_crewai_flow_state_extensions_engagement_id_engagements
        FOREIGN KEY (engagement_id, client_account_id)
        REFERENCES migration.engagements (id, client_account_id) ON DELETE RESTRICT
);

CREATE INDEX ix_crewai_flow_state_extensions_client_account_id_engagement_id
    ON migration.crewai_flow_state_extensions (client_account_id, engagement_id);
CREATE INDEX ix_crewai_flow_state_extensions_engagement_id
    ON migration.crewai_flow_state_extensions (engagement_id);
CREATE INDEX ix_crewai_flow_state_extensions_child_flows
    ON migration.crewai_flow_state_extensions USING gin (child_flows);

CREATE TRIGGER tr_crewai_flow_state_extensions_updated_at
    BEFORE UPDATE ON migration.crewai_flow_state_extensions
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();


CREATE TABLE migration.discovery_flows (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    flow_id UUID NOT NULL, -- CrewAI Flow ID
    master_flow_id UUID,

    -- Associations
    client_account_id UUID NOT NULL,
    engagement_id UUID NOT NULL,
    user_id UUID NOT NULL,

    -- Discovery Configuration
    discovery_type VARCHAR(50) DEFAULT 'automated',
    target_platforms JSONB DEFAULT '[]',
    discovery_scope JSONB DEFAULT '{}',

    -- State Management
    status VARCHAR(50) DEFAULT 'initialized',
    phases JSONB DEFAULT '{
        "initialization": {"status": "pending"},
        "agent_loading": {"status": "pending"},
        "environment_scanning": {"status": "pending"},
        "data_collection": {"status": "pending"},
        "analysis": {"status": "pending"},
        "reporting": {"status": "pending"}
    }',

    -- Results
    discovered_assets_count INTEGER DEFAULT 0,
    discovered_patterns JSONB DEFAULT '[]',
    recommendations JSONB DEFAULT '[]',

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT discovery_flows_pkey PRIMARY KEY (id),
    CONSTRAINT uq_discovery_flows_flow_id UNIQUE (flow_id),
    -- Target of the tenant-consistent provenance links (assessment/collection flows, assets).
    CONSTRAINT uq_discovery_flows_id_client_account_id UNIQUE (id, client_account_id),
    -- Composite: the master flow and the engagement belong to the same client.
    CONSTRAINT fk_discovery_flows_master_flow_id_crewai_flow_state_extensions
        FOREIGN KEY (master_flow_id, client_account_id)
        REFERENCES migration.crewai_flow_state_extensions (flow_id, client_account_id)
        ON DELETE CASCADE,
    CONSTRAINT fk_discovery_flows_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_discovery_flows_engagement_id_engagements
        FOREIGN KEY (engagement_id, client_account_id)
        REFERENCES migration.engagements (id, client_account_id) ON DELETE RESTRICT,
    CONSTRAINT fk_discovery_flows_user_id_users
        FOREIGN KEY (user_id) REFERENCES migration.users (id) ON DELETE RESTRICT,
    CONSTRAINT ck_discovery_flows_discovered_assets_count CHECK (discovered_assets_count >= 0)
);

CREATE INDEX ix_discovery_flows_master_flow_id ON migration.discovery_flows (master_flow_id);
CREATE INDEX ix_discovery_flows_client_account_id_engagement_id
    ON migration.discovery_flows (client_account_id, engagement_id);
CREATE INDEX ix_discovery_flows_engagement_id ON migration.discovery_flows (engagement_id);
CREATE INDEX ix_discovery_flows_user_id ON migration.discovery_flows (user_id);

CREATE TRIGGER tr_discovery_flows_updated_at
    BEFORE UPDATE ON migration.discovery_flows
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();


CREATE TABLE migration.assessment_flows (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    flow_id UUID NOT NULL,
    master_flow_id UUID,

    -- Associations
    client_account_id UUID NOT NULL,
    engagement_id UUID NOT NULL,
    discovery_flow_id UUID,

    -- Assessment Configuration
    assessment_type VARCHAR(50), -- 'technical', 'business', 'security'
    assessment_framework VARCHAR(50), -- '6R', 'custom'

    -- State Management
    status VARCHAR(50) DEFAULT 'pending',
    current_stage VARCHAR(100),
    stages_completed JSONB DEFAULT '[]',

    -- Results
    technical_debt_score FLOAT,
    complexity_score FLOAT,
    risk_score FLOAT,
    readiness_score FLOAT,
    recommendations JSONB DEFAULT '[]',

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT assessment_flows_pkey PRIMARY KEY (id),
    CONSTRAINT uq_assessment_flows_flow_id UNIQUE (flow_id),
    -- Target of the tenant-consistent provenance link assets.assessment_flow_id.
    CONSTRAINT uq_assessment_flows_id_client_account_id UNIQUE (id, client_account_id),
    -- Composite: the master flow and the engagement belong to the same client.
    CONSTRAINT fk_assessment_flows_master_flow_id_crewai_flow_state_extensions
        FOREIGN KEY (master_flow_id, client_account_id)
        REFERENCES migration.crewai_flow_state_extensions (flow_id, client_account_id)
        ON DELETE CASCADE,
    CONSTRAINT fk_assessment_flows_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_assessment_flows_engagement_id_engagements
        FOREIGN KEY (engagement_id, client_account_id)
        REFERENCES migration.engagements (id, client_account_id) ON DELETE RESTRICT,
    CONSTRAINT fk_assessment_flows_discovery_flow_id_discovery_flows
        FOREIGN KEY (discovery_flow_id, client_account_id)
        REFERENCES migration.discovery_flows (id, client_account_id)
        ON DELETE SET NULL (discovery_flow_id)
);

CREATE INDEX ix_assessment_flows_master_flow_id ON migration.assessment_flows (master_flow_id);
CREATE INDEX ix_assessment_flows_client_account_id_engagement_id
    ON migration.assessment_flows (client_account_id, engagement_id);
CREATE INDEX ix_assessment_flows_engagement_id ON migration.assessment_flows (engagement_id);
CREATE INDEX ix_assessment_flows_discovery_flow_id ON migration.assessment_flows (discovery_flow_id);

CREATE TRIGGER tr_assessment_flows_updated_at
    BEFORE UPDATE ON migration.assessment_flows
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();


CREATE TABLE migration.collection_flows (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    flow_id UUID NOT NULL,
    master_flow_id UUID,

    -- Associations
    client_account_id UUID NOT NULL,
    engagement_id UUID NOT NULL,
    discovery_flow_id UUID,

    -- Collection Configuration
    automation_tier VARCHAR(20),
    collection_methods JSONB DEFAULT '[]',
    target_systems JSONB DEFAULT '[]',

    -- Progress Tracking
    status VARCHAR(50) DEFAULT 'initialized',
    current_phase VARCHAR(100),
    progress_percentage FLOAT DEFAULT 0.0,

    -- Quality Metrics
    data_quality_score FLOAT,
    completeness_percentage FLOAT,
    validation_errors_count INTEGER DEFAULT 0,

    -- Results
    total_items_collected INTEGER DEFAULT 0,
    items_processed INTEGER DEFAULT 0,
    items_failed INTEGER DEFAULT 0,

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT collection_flows_pkey PRIMARY KEY (id),
    CONSTRAINT uq_collection_flows_flow_id UNIQUE (flow_id),
    -- Composite: the master flow and the engagement belong to the same client.
    CONSTRAINT fk_collection_flows_master_flow_id_crewai_flow_state_extensions
        FOREIGN KEY (master_flow_id, client_account_id)
        REFERENCES migration.crewai_flow_state_extensions (flow_id, client_account_id)
        ON DELETE CASCADE,
    CONSTRAINT fk_collection_flows_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_collection_flows_engagement_id_engagements
        FOREIGN KEY (engagement_id, client_account_id)
        REFERENCES migration.engagements (id, client_account_id) ON DELETE RESTRICT,
    CONSTRAINT fk_collection_flows_discovery_flow_id_discovery_flows
        FOREIGN KEY (discovery_flow_id, client_account_id)
        REFERENCES migration.discovery_flows (id, client_account_id)
        ON DELETE SET NULL (discovery_flow_id),
    CONSTRAINT ck_collection_flows_automation_tier
        CHECK (automation_tier IN ('tier_1', 'tier_2', 'tier_3', 'tier_4')),
    CONSTRAINT ck_collection_flows_progress_percentage
        CHECK (progress_percentage BETWEEN 0 AND 100),
    CONSTRAINT ck_collection_flows_completeness_percentage
        CHECK (completeness_percentage BETWEEN 0 AND 100),
    CONSTRAINT ck_collection_flows_validation_errors_count CHECK (validation_errors_count >= 0),
    CONSTRAINT ck_collection_flows_total_items_collected CHECK (total_items_collected >= 0),
    CONSTRAINT ck_collection_flows_items_processed CHECK (items_processed >= 0),
    CONSTRAINT ck_collection_flows_items_failed CHECK (items_failed >= 0)
);

CREATE INDEX ix_collection_flows_master_flow_id ON migration.collection_flows (master_flow_id);
CREATE INDEX ix_collection_flows_client_account_id_engagement_id
    ON migration.collection_flows (client_account_id, engagement_id);
CREATE INDEX ix_collection_flows_engagement_id ON migration.collection_flows (engagement_id);
CREATE INDEX ix_collection_flows_discovery_flow_id ON migration.collection_flows (discovery_flow_id);

CREATE TRIGGER tr_collection_flows_updated_at
    BEFORE UPDATE ON migration.collection_flows
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();
