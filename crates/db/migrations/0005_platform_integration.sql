-- 0005_platform_integration: the global adapter catalogue and per-tenant credentials.

CREATE TABLE migration.platform_adapters (
    id UUID NOT NULL DEFAULT gen_random_uuid(),

    -- Adapter Information
    adapter_name VARCHAR(100) NOT NULL,
    adapter_type VARCHAR(50) NOT NULL,
    version VARCHAR(20) NOT NULL,

    -- Capabilities
    supported_platforms JSONB DEFAULT '[]',
    capabilities JSONB DEFAULT '[]',
    configuration_schema JSONB DEFAULT '{}',

    -- Status
    status VARCHAR(20) DEFAULT 'active',
    health_check_url VARCHAR(500),
    last_health_check_at TIMESTAMP WITH TIME ZONE,

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT platform_adapters_pkey PRIMARY KEY (id),
    CONSTRAINT uq_platform_adapters_adapter_name_version UNIQUE (adapter_name, version),
    CONSTRAINT ck_platform_adapters_adapter_type
        CHECK (adapter_type IN ('discovery', 'assessment', 'migration', 'collection'))
);

CREATE TRIGGER tr_platform_adapters_updated_at
    BEFORE UPDATE ON migration.platform_adapters
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();


CREATE TABLE migration.platform_credentials (
    id UUID NOT NULL DEFAULT gen_random_uuid(),

    -- Associations
    client_account_id UUID NOT NULL,
    platform_adapter_id UUID NOT NULL,

    -- Credential Information
    credential_name VARCHAR(255) NOT NULL,
    credential_type VARCHAR(50),

    -- Secure Storage
    encrypted_credentials BYTEA NOT NULL, -- Encrypted with KMS
    encryption_key_id VARCHAR(255),
    vault_path VARCHAR(500),

    -- Status
    status VARCHAR(50) DEFAULT 'active',
    expires_at TIMESTAMP WITH TIME ZONE,
    last_rotated_at TIMESTAMP WITH TIME ZONE,

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT platform_credentials_pkey PRIMARY KEY (id),
    CONSTRAINT uq_platform_credentials_client_account_id_platform_adapter_id_c
        UNIQUE (client_account_id, platform_adapter_id, credential_name),
    CONSTRAINT fk_platform_credentials_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE CASCADE,
    CONSTRAINT fk_platform_credentials_platform_adapter_id_platform_adapters
        FOREIGN KEY (platform_adapter_id) REFERENCES migration.platform_adapters (id)
        ON DELETE RESTRICT,
    CONSTRAINT fk_platform_credentials_created_by_users
        FOREIGN KEY (created_by) REFERENCES migration.users (id) ON DELETE SET NULL,
    CONSTRAINT ck_platform_credentials_credential_type
        CHECK (credential_type IN ('api_key', 'oauth2', 'basic_auth'))
);

-- The unique constraint leads with client_account_id and serves that foreign key.
CREATE INDEX ix_platform_credentials_platform_adapter_id
    ON migration.platform_credentials (platform_adapter_id);
CREATE INDEX ix_platform_credentials_created_by ON migration.platform_credentials (created_by);

CREATE TRIGGER tr_platform_credentials_updated_at
    BEFORE UPDATE ON migration.platform_credentials
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();
