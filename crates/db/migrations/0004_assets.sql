-- 0004_assets: the asset inventory and the dependency graph between assets.

CREATE TABLE migration.assets (
    id UUID NOT NULL DEFAULT gen_random_uuid(),

    -- Flow Associations (for cross-phase tracking)
    master_flow_id UUID,
    discovery_flow_id UUID,
    assessment_flow_id UUID,

    -- Tenant Associations
    client_account_id UUID NOT NULL,
    engagement_id UUID NOT NULL,

    -- Asset Identification
    asset_name VARCHAR(255) NOT NULL,
    asset_type VARCHAR(100),
    asset_subtype VARCHAR(100),

    -- Technical Details
    hostname VARCHAR(255),
    fqdn VARCHAR(255),
    ip_address VARCHAR(45),
    mac_address VARCHAR(17),
    os_type VARCHAR(50),
    os_version VARCHAR(50),

    -- Infrastructure Details
    environment VARCHAR(50),
    datacenter VARCHAR(100),
    region VARCHAR(50),
    availability_zone VARCHAR(50),
    rack_location VARCHAR(50),

    -- Application Details
    application_name VARCHAR(255),
    application_version VARCHAR(50),
    technology_stack JSONB DEFAULT '[]',
    dependencies JSONB DEFAULT '[]',

    -- Business Context
    business_unit VARCHAR(100),
    business_owner VARCHAR(255),
    technical_owner VARCHAR(255),
    business_criticality VARCHAR(20),

    -- Performance Metrics
    cpu_cores INTEGER,
    memory_gb FLOAT,
    storage_gb FLOAT,
    cpu_utilization_percent FLOAT,
    memory_utilization_percent FLOAT,

    -- Migration Analysis
    six_r_strategy VARCHAR(20),
    migration_complexity VARCHAR(20),
    migration_priority INTEGER,
    migration_wave INTEGER,
    blockers JSONB DEFAULT '[]',

    -- Data Quality
    completeness_score FLOAT,
    confidence_score FLOAT,
    last_validated_at TIMESTAMP WITH TIME ZONE,

    -- Import Tracking
    source_system VARCHAR(100),
    source_id VARCHAR(255),
    import_session_id UUID,
    raw_data JSONB,

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,
    created_by UUID,

    -- Similarity search (pgvector section of the schema design)
    embedding vector(1536),

    CONSTRAINT assets_pkey PRIMARY KEY (id),
    -- Target of the composite foreign keys of asset_dependencies (same-tenant guarantee).
    CONSTRAINT uq_assets_id_client_account_id UNIQUE (id, client_account_id),
    -- Composite: the master flow and the engagement belong to the same client. SET NULL
    -- clears only master_flow_id (client_account_id is NOT NULL and stays).
    CONSTRAINT fk_assets_master_flow_id_crewai_flow_state_extensions
        FOREIGN KEY (master_flow_id, client_account_id)
        REFERENCES migration.crewai_flow_state_extensions (flow_id, client_account_id)
        ON DELETE SET NULL (master_flow_id),
    CONSTRAINT fk_assets_discovery_flow_id_discovery_flows
        FOREIGN KEY (discovery_flow_id, client_account_id)
        REFERENCES migration.discovery_flows (id, client_account_id)
        ON DELETE SET NULL (discovery_flow_id),
    CONSTRAINT fk_assets_assessment_flow_id_assessment_flows
        FOREIGN KEY (assessment_flow_id, client_account_id)
        REFERENCES migration.assessment_flows (id, client_account_id)
        ON DELETE SET NULL (assessment_flow_id),
    CONSTRAINT fk_assets_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_assets_engagement_id_engagements
        FOREIGN KEY (engagement_id, client_account_id)
        REFERENCES migration.engagements (id, client_account_id) ON DELETE RESTRICT,
    CONSTRAINT fk_assets_created_by_users
        FOREIGN KEY (created_by) REFERENCES migration.users (id) ON DELETE SET NULL,
    CONSTRAINT ck_assets_asset_type CHECK (asset_type IN (
        'server', 'application', 'database', 'service', 'network', 'storage'
    )),
    CONSTRAINT ck_assets_six_r_strategy CHECK (six_r_strategy IN (
        'rehost', 'replatform', 'refactor', 'repurchase', 'retire', 'retain'
    )),
    CONSTRAINT ck_assets_environment CHECK (environment IN (
        'production', 'staging', 'development', 'test', 'dr'
    )),
    CONSTRAINT ck_assets_business_criticality CHECK (business_criticality IN (
        'critical', 'high', 'medium', 'low'
    )),
    CONSTRAINT ck_assets_cpu_cores CHECK (cpu_cores >= 0),
    CONSTRAINT ck_assets_cpu_utilization_percent CHECK (cpu_utilization_percent BETWEEN 0 AND 100),
    CONSTRAINT ck_assets_memory_utilization_percent
        CHECK (memory_utilization_percent BETWEEN 0 AND 100),
    CONSTRAINT ck_assets_completeness_score CHECK (completeness_score BETWEEN 0 AND 1),
    CONSTRAINT ck_assets_confidence_score CHECK (confidence_score BETWEEN 0 AND 1)
);

-- Declared inline in the schema design.
CREATE INDEX ix_assets_master_flow_id ON migration.assets (master_flow_id);
CREATE INDEX ix_assets_asset_type ON migration.assets (asset_type);
CREATE INDEX ix_assets_environment ON migration.assets (environment);
CREATE INDEX ix_assets_six_r_strategy ON migration.assets (six_r_strategy);
-- Tenant and foreign-key indexes.
CREATE INDEX ix_assets_client_account_id_engagement_id
    ON migration.assets (client_account_id, engagement_id);
CREATE INDEX ix_assets_engagement_id ON migration.assets (engagement_id);
CREATE INDEX ix_assets_discovery_flow_id ON migration.assets (discovery_flow_id);
CREATE INDEX ix_assets_assessment_flow_id ON migration.assets (assessment_flow_id);
CREATE INDEX ix_assets_created_by ON migration.assets (created_by);
-- JSONB search.
CREATE INDEX ix_assets_technology_stack ON migration.assets USING gin (technology_stack);
CREATE INDEX ix_assets_raw_data ON migration.assets USING gin (raw_data jsonb_path_ops);
-- Approximate nearest-neighbour search, cosine distance (embedding <=> query).
CREATE INDEX ix_assets_embedding ON migration.assets USING hnsw (embedding vector_cosine_ops);

CREATE TRIGGER tr_assets_updated_at
    BEFORE UPDATE ON migration.assets
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();


CREATE TABLE migration.asset_dependencies (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    -- Tenant of both assets; part of both composite foreign keys below.
    client_account_id UUID NOT NULL,
    source_asset_id UUID NOT NULL,
    target_asset_id UUID NOT NULL,

    -- Dependency Details
    dependency_type VARCHAR(50), -- 'runtime', 'compile', 'network', 'data'
    direction VARCHAR(20) DEFAULT 'outbound',
    strength VARCHAR(20) DEFAULT 'strong',

    -- Discovery
    discovered_by VARCHAR(50),
    confidence_score FLOAT DEFAULT 1.0,
    evidence JSONB DEFAULT '{}',

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    validated_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT asset_dependencies_pkey PRIMARY KEY (id),
    -- Prevent duplicate dependencies
    CONSTRAINT uq_asset_dependencies_source_asset_id_target_asset_id_dependenc
        UNIQUE (source_asset_id, target_asset_id, dependency_type),
    -- Composite: a dependency can never join assets of two tenants.
    CONSTRAINT fk_asset_dependencies_source_asset_id_assets
        FOREIGN KEY (source_asset_id, client_account_id)
        REFERENCES migration.assets (id, client_account_id) ON DELETE CASCADE,
    CONSTRAINT fk_asset_dependencies_target_asset_id_assets
        FOREIGN KEY (target_asset_id, client_account_id)
        REFERENCES migration.assets (id, client_account_id) ON DELETE CASCADE,
    CONSTRAINT ck_asset_dependencies_not_self CHECK (source_asset_id <> target_asset_id),
    CONSTRAINT ck_asset_dependencies_direction
        CHECK (direction IN ('inbound', 'outbound', 'bidirectional')),
    CONSTRAINT ck_asset_dependencies_strength CHECK (strength IN ('weak', 'strong', 'critical')),
    CONSTRAINT ck_asset_dependencies_discovered_by
        CHECK (discovered_by IN ('agent', 'manual', 'import')),
    CONSTRAINT ck_asset_dependencies_confidence_score CHECK (confidence_score BETWEEN 0 AND 1)
);

-- The unique constraint leads with source_asset_id and serves the source foreign key.
CREATE INDEX ix_asset_dependencies_target_asset_id ON migration.asset_dependencies (target_asset_id);
CREATE INDEX ix_asset_dependencies_client_account_id
    ON migration.asset_dependencies (client_account_id);
