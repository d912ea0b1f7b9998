-- 0007_security_audit: security-sensitive operation log, partitioned monthly.
--
-- client_account_id is nullable (platform-level events have none) and deliberately has no
-- foreign key: audit rows must outlive every other row and are never rewritten by a
-- referential action.

CREATE TABLE migration.security_audit_logs (
    id UUID NOT NULL DEFAULT gen_random_uuid(),

    -- Tenant (nullable, no foreign key)
    client_account_id UUID,

    -- Event Information
    event_type VARCHAR(100) NOT NULL,
    event_category VARCHAR(50) NOT NULL,
    severity VARCHAR(20) DEFAULT 'INFO',

    -- Actor Information
    actor_user_id VARCHAR(36) NOT NULL,
    actor_email VARCHAR(255),
    actor_role VARCHAR(50),

    -- Target Information
    target_type VARCHAR(50), -- 'user', 'engagement', 'asset', etc.
    target_id VARCHAR(36),
    target_details JSONB DEFAULT '{}',

    -- Request Context
    ip_address VARCHAR(45),
    user_agent TEXT,
    request_id VARCHAR(255),
    session_id VARCHAR(255),

    -- Event Details
    action VARCHAR(100) NOT NULL,
    result VARCHAR(20) NOT NULL,
    error_code VARCHAR(50),
    details JSONB DEFAULT '{}',

    -- Compliance
    requires_review BOOLEAN DEFAULT false,
    reviewed_at TIMESTAMP WITH TIME ZONE,
    reviewed_by VARCHAR(36),

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT security_audit_logs_pkey PRIMARY KEY (id, created_at),
    CONSTRAINT ck_security_audit_logs_event_category
        CHECK (event_category IN ('auth', 'access', 'data', 'config')),
    CONSTRAINT ck_security_audit_logs_severity
        CHECK (severity IN ('INFO', 'WARNING', 'ERROR', 'CRITICAL')),
    CONSTRAINT ck_security_audit_logs_result CHECK (result IN ('success', 'failure', 'error'))
) PARTITION BY RANGE (created_at);

CREATE TABLE migration_partitions.security_audit_logs_default
    PARTITION OF migration.security_audit_logs DEFAULT;

-- Declared inline in the schema design.
CREATE INDEX ix_security_audit_logs_event_type ON migration.security_audit_logs (event_type);
CREATE INDEX ix_security_audit_logs_actor_user_id ON migration.security_audit_logs (actor_user_id);
CREATE INDEX ix_security_audit_logs_created_at ON migration.security_audit_logs (created_at);
-- Tenant and JSONB search.
CREATE INDEX ix_security_audit_logs_client_account_id
    ON migration.security_audit_logs (client_account_id);
CREATE INDEX ix_security_audit_logs_details
    ON migration.security_audit_logs USING gin (details jsonb_path_ops);
