-- 0002_identity: tenants, users, engagements and role assignments.

CREATE TABLE migration.client_accounts (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    slug VARCHAR(100) NOT NULL,
    description TEXT,

    -- Organization Details
    industry VARCHAR(100),
    company_size VARCHAR(50),
    headquarters_location VARCHAR(255),

    -- Contact Information
    primary_contact_name VARCHAR(255),
    primary_contact_email VARCHAR(255),
    primary_contact_phone VARCHAR(50),

    -- Subscription and Limits
    subscription_tier VARCHAR(50) DEFAULT 'standard',
    max_users INTEGER,
    max_engagements INTEGER,
    storage_quota_gb INTEGER,
    api_quota_monthly INTEGER,

    -- Configuration
    settings JSONB DEFAULT '{}',
    branding JSONB DEFAULT '{}',
    agent_preferences JSONB DEFAULT '{
        "discovery_depth": "comprehensive",
        "automation_level": "assisted",
        "risk_tolerance": "moderate"
    }',

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,
    is_active BOOLEAN DEFAULT true,

    CONSTRAINT client_accounts_pkey PRIMARY KEY (id),
    CONSTRAINT uq_client_accounts_slug UNIQUE (slug),
    CONSTRAINT ck_client_accounts_slug_format
        CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$'),
    CONSTRAINT ck_client_accounts_max_users CHECK (max_users >= 0),
    CONSTRAINT ck_client_accounts_max_engagements CHECK (max_engagements >= 0),
    CONSTRAINT ck_client_accounts_storage_quota_gb CHECK (storage_quota_gb >= 0),
    CONSTRAINT ck_client_accounts_api_quota_monthly CHECK (api_quota_monthly >= 0)
);

CREATE TRIGGER tr_client_accounts_updated_at
    BEFORE UPDATE ON migration.client_accounts
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();


CREATE TABLE migration.users (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    auth0_user_id VARCHAR(255) NOT NULL,
    email VARCHAR(255) NOT NULL,
    full_name VARCHAR(255),
    avatar_url VARCHAR(500),

    -- Status
    is_active BOOLEAN DEFAULT true,
    last_login_at TIMESTAMP WITH TIME ZONE,

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT uq_users_auth0_user_id UNIQUE (auth0_user_id),
    CONSTRAINT uq_users_email UNIQUE (email)
);

CREATE TRIGGER tr_users_updated_at
    BEFORE UPDATE ON migration.users
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();


CREATE TABLE migration.engagements (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    client_account_id UUID NOT NULL,

    -- Basic Information
    name VARCHAR(255) NOT NULL,
    description TEXT,
    engagement_type VARCHAR(50),

    -- Timeline
    start_date DATE,
    end_date DATE,
    status VARCHAR(50) DEFAULT 'planning',

    -- Scope
    target_applications INTEGER,
    target_infrastructure_units INTEGER,
    estimated_complexity VARCHAR(20),

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,
    created_by UUID,

    CONSTRAINT engagements_pkey PRIMARY KEY (id),
    -- Target of the composite (engagement_id, client_account_id) foreign keys: a row can only
    -- reference an engagement of its own client.
    CONSTRAINT uq_engagements_id_client_account_id UNIQUE (id, client_account_id),
    CONSTRAINT fk_engagements_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_engagements_created_by_users
        FOREIGN KEY (created_by) REFERENCES migration.users (id) ON DELETE SET NULL,
    CONSTRAINT ck_engagements_engagement_type
        CHECK (engagement_type IN ('assessment', 'migration', 'modernization')),
    CONSTRAINT ck_engagements_estimated_complexity
        CHECK (estimated_complexity IN ('low', 'medium', 'high', 'very_high')),
    CONSTRAINT ck_engagements_target_applications CHECK (target_applications >= 0),
    CONSTRAINT ck_engagements_target_infrastructure_units CHECK (target_infrastructure_units >= 0)
);

CREATE INDEX ix_engagements_client_account_id ON migration.engagements (client_account_id);
CREATE INDEX ix_engagements_created_by ON migration.engagements (created_by);

CREATE TRIGGER tr_engagements_updated_at
    BEFORE UPDATE ON migration.engagements
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();


CREATE TABLE migration.user_profiles (
    user_id UUID NOT NULL,

    -- Profile Information
    department VARCHAR(100),
    job_title VARCHAR(100),
    phone VARCHAR(50),
    timezone VARCHAR(50) DEFAULT 'UTC',

    -- Preferences
    notification_preferences JSONB DEFAULT '{
        "email": true,
        "in_app": true,
        "discovery_complete": true,
        "assessment_ready": true
    }',
    ui_preferences JSONB DEFAULT '{}',

    -- Security
    mfa_enabled BOOLEAN DEFAULT false,
    password_changed_at TIMESTAMP WITH TIME ZONE,
    security_questions JSONB,

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT user_profiles_pkey PRIMARY KEY (user_id),
    CONSTRAINT fk_user_profiles_user_id_users
        FOREIGN KEY (user_id) REFERENCES migration.users (id) ON DELETE CASCADE
);

CREATE TRIGGER tr_user_profiles_updated_at
    BEFORE UPDATE ON migration.user_profiles
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();


CREATE TABLE migration.user_roles (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL,
    role VARCHAR(50) NOT NULL,

    -- Scope (nullable for different levels)
    client_account_id UUID,
    engagement_id UUID,

    -- Status
    is_active BOOLEAN DEFAULT true,
    granted_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    granted_by UUID,
    expires_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT user_roles_pkey PRIMARY KEY (id),
    CONSTRAINT fk_user_roles_user_id_users
        FOREIGN KEY (user_id) REFERENCES migration.users (id) ON DELETE CASCADE,
    CONSTRAINT fk_user_roles_client_account_id_client_accounts
        FOREIGN KEY (client_account_id) REFERENCES migration.client_accounts (id) ON DELETE CASCADE,
    CONSTRAINT fk_user_roles_engagement_id_engagements
        FOREIGN KEY (engagement_id) REFERENCES migration.engagements (id) ON DELETE CASCADE,
    CONSTRAINT fk_user_roles_granted_by_users
        FOREIGN KEY (granted_by) REFERENCES migration.users (id) ON DELETE SET NULL,
    CONSTRAINT ck_user_roles_role CHECK (role IN ('admin', 'analyst', 'viewer')),
    -- Ensure proper scoping (name and expression as in the schema design)
    CONSTRAINT ck_role_scope CHECK (
        (client_account_id IS NOT NULL AND engagement_id IS NULL) OR
        (engagement_id IS NOT NULL) OR
        (client_account_id IS NULL AND engagement_id IS NULL AND role = 'admin')
    )
);

CREATE INDEX ix_user_roles_user_id ON migration.user_roles (user_id);
CREATE INDEX ix_user_roles_client_account_id_engagement_id
    ON migration.user_roles (client_account_id, engagement_id);
CREATE INDEX ix_user_roles_engagement_id ON migration.user_roles (engagement_id);
CREATE INDEX ix_user_roles_granted_by ON migration.user_roles (granted_by);

-- An engagement-scoped role belongs to the engagement's client: fill client_account_id from
-- the engagement when it is missing, refuse a client_account_id that disagrees with it.
-- SECURITY INVOKER on purpose: the lookup runs under the caller's row-level security, so an
-- engagement of another tenant is "not found" and refused rather than silently accepted.
CREATE FUNCTION migration.user_roles_set_client_account_id() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, migration
AS $$
DECLARE
    v_client_account_id uuid;
BEGIN
    IF NEW.engagement_id IS NULL THEN
        RETURN NEW;
    END IF;

    SELECT e.client_account_id INTO v_client_account_id
    FROM migration.engagements AS e
    WHERE e.id = NEW.engagement_id;

    IF NOT FOUND THEN
        RAISE EXCEPTION 'engagement % does not exist or is not visible', NEW.engagement_id
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'fk_user_roles_engagement_id_engagements';
    END IF;

    IF NEW.client_account_id IS NULL THEN
        NEW.client_account_id := v_client_account_id;
    ELSIF NEW.client_account_id <> v_client_account_id THEN
        RAISE EXCEPTION 'user role client_account_id % does not match the client % of engagement %',
                NEW.client_account_id, v_client_account_id, NEW.engagement_id
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'fk_user_roles_engagement_id_engagements';
    END IF;

    RETURN NEW;
END
$$;

CREATE TRIGGER tr_user_roles_client_account_id
    BEFORE INSERT OR UPDATE ON migration.user_roles
    FOR EACH ROW EXECUTE FUNCTION migration.user_roles_set_client_account_id();
