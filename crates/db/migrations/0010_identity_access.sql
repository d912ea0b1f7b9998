-- 0010_identity_access: authentication state (local passwords, TOTP, refresh tokens, API
-- tokens) and the append-only guarantee of security_audit_logs.
--
-- Users are global (one person may hold roles in several client accounts), so these tables
-- carry no client_account_id and no row-level security; the application reaches them only
-- through the authentication code paths. Secrets are never stored in clear: passwords as
-- argon2id PHC strings, tokens as SHA-256 digests, TOTP secrets encrypted (AES-256-GCM,
-- envelope, key id recorded).

CREATE TABLE migration.user_credentials (
    user_id UUID NOT NULL,
    password_hash TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP WITH TIME ZONE,
    last_failed_at TIMESTAMP WITH TIME ZONE,
    totp_secret_encrypted BYTEA,
    totp_encryption_key_id VARCHAR(255),
    totp_confirmed_at TIMESTAMP WITH TIME ZONE,
    totp_last_used_step BIGINT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT user_credentials_pkey PRIMARY KEY (user_id),
    CONSTRAINT fk_user_credentials_user_id_users
        FOREIGN KEY (user_id) REFERENCES migration.users (id) ON DELETE CASCADE,
    CONSTRAINT ck_user_credentials_failed_attempts CHECK (failed_attempts >= 0),
    CONSTRAINT ck_user_credentials_password_hash_argon2id
        CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%')
);

CREATE TRIGGER tr_user_credentials_updated_at
    BEFORE UPDATE ON migration.user_credentials
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();

-- Long-lived tokens for automation and the CLI. The clear token is shown once; only its
-- SHA-256 digest is kept. A token acts with its creator's rights, never more.
CREATE TABLE migration.api_tokens (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL,
    name VARCHAR(100) NOT NULL,
    token_prefix VARCHAR(16) NOT NULL,
    token_hash BYTEA NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE,
    revoked_at TIMESTAMP WITH TIME ZONE,
    revoked_by UUID,
    last_used_at TIMESTAMP WITH TIME ZONE,
    last_used_ip VARCHAR(45),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT api_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT uq_api_tokens_token_hash UNIQUE (token_hash),
    CONSTRAINT fk_api_tokens_user_id_users
        FOREIGN KEY (user_id) REFERENCES migration.users (id) ON DELETE CASCADE,
    CONSTRAINT fk_api_tokens_revoked_by_users
        FOREIGN KEY (revoked_by) REFERENCES migration.users (id) ON DELETE SET NULL,
    CONSTRAINT ck_api_tokens_token_hash_length CHECK (octet_length(token_hash) = 32),
    CONSTRAINT ck_api_tokens_name_not_blank CHECK (btrim(name) <> '')
);

CREATE INDEX ix_api_tokens_user_id ON migration.api_tokens (user_id);
CREATE INDEX ix_api_tokens_revoked_by ON migration.api_tokens (revoked_by);
CREATE TRIGGER tr_api_tokens_updated_at
    BEFORE UPDATE ON migration.api_tokens
    FOR EACH ROW EXECUTE FUNCTION migration.set_updated_at();

-- Refresh tokens of local sessions, rotated on every use: a reused (already replaced) token
-- reveals theft and revokes the whole family.
CREATE TABLE migration.refresh_tokens (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL,
    family_id UUID NOT NULL,
    token_hash BYTEA NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    used_at TIMESTAMP WITH TIME ZONE,
    revoked_at TIMESTAMP WITH TIME ZONE,
    ip_address VARCHAR(45),
    user_agent TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT uq_refresh_tokens_token_hash UNIQUE (token_hash),
    CONSTRAINT fk_refresh_tokens_user_id_users
        FOREIGN KEY (user_id) REFERENCES migration.users (id) ON DELETE CASCADE,
    CONSTRAINT ck_refresh_tokens_token_hash_length CHECK (octet_length(token_hash) = 32)
);

CREATE INDEX ix_refresh_tokens_user_id ON migration.refresh_tokens (user_id);
CREATE INDEX ix_refresh_tokens_family_id ON migration.refresh_tokens (family_id);

-- security_audit_logs is append-only: rows are inserted, and afterwards only the review
-- columns may change. No DELETE, no TRUNCATE, for every role but a superuser who disables
-- the trigger deliberately (retention of whole partitions is done by detaching them).
CREATE FUNCTION migration.security_audit_logs_append_only() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (to_jsonb(NEW) - ARRAY['requires_review', 'reviewed_at', 'reviewed_by'])
           IS DISTINCT FROM
           (to_jsonb(OLD) - ARRAY['requires_review', 'reviewed_at', 'reviewed_by']) THEN
            RAISE EXCEPTION 'security_audit_logs is append-only: only review columns may change'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    -- migration.ensure_partitions moves rows from the default partition into a new one
    -- (delete + insert in one statement); the rows are kept, so that is allowed. The runtime
    -- role cannot reach this path: it has no DELETE on the table and no access to partitions.
    IF TG_OP = 'DELETE'
       AND pg_catalog.current_setting('modernize.moving_partition_rows', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'security_audit_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER tr_security_audit_logs_append_only
    BEFORE UPDATE OR DELETE ON migration.security_audit_logs
    FOR EACH ROW EXECUTE FUNCTION migration.security_audit_logs_append_only();

CREATE TRIGGER tr_security_audit_logs_no_truncate
    BEFORE TRUNCATE ON migration.security_audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION migration.security_audit_logs_append_only();

-- The runtime role may insert and review audit rows, never delete them.
REVOKE DELETE, TRUNCATE ON migration.security_audit_logs FROM modernize_app;
