-- 0001_foundation: schemas, extensions, the runtime role and shared helper functions.
--
-- Applied by the database owner (a superuser in the embedded setup, or a non-superuser
-- owner with CREATEROLE on an external server). pgvector is not a trusted extension: on an
-- external server a superuser must have run CREATE EXTENSION vector beforehand; the
-- IF NOT EXISTS below then needs no privilege.

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

CREATE SCHEMA IF NOT EXISTS migration;

-- Partitions of the partitioned tables live here. The runtime role gets no USAGE on this
-- schema, so row-level security on a partitioned parent cannot be sidestepped by querying
-- a partition directly.
CREATE SCHEMA IF NOT EXISTS migration_partitions;
REVOKE ALL ON SCHEMA migration_partitions FROM PUBLIC;

-- Runtime role. Role names are cluster-wide and several databases of the same cluster may
-- be migrated concurrently, hence the existence check plus the exception handler.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'modernize_app') THEN
        CREATE ROLE modernize_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL; -- created concurrently by another migration run
END
$$;

-- A pre-existing role with these attributes would silently defeat row-level security.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
               WHERE rolname = 'modernize_app' AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role modernize_app must be NOSUPERUSER NOBYPASSRLS';
    END IF;
END
$$;

-- Keeps updated_at current; attached as tr_<table>_updated_at to every table with updated_at.
CREATE FUNCTION migration.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END
$$;

-- Tenant context. The application sets these per transaction with
-- set_config('app.client_account_id' | 'app.platform' | 'app.user_id', value, true).
-- The functions are plain SQL without SET clauses so that the planner can inline them into
-- the row-level security policies.
CREATE FUNCTION migration.current_client_account_id() RETURNS uuid
    LANGUAGE sql STABLE
AS $$
    SELECT NULLIF(pg_catalog.current_setting('app.client_account_id', true), '')::uuid
$$;

CREATE FUNCTION migration.is_platform_scope() RETURNS boolean
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce(pg_catalog.current_setting('app.platform', true), '') = 'on'
$$;

CREATE FUNCTION migration.current_user_id() RETURNS uuid
    LANGUAGE sql STABLE
AS $$
    SELECT NULLIF(pg_catalog.current_setting('app.user_id', true), '')::uuid
$$;
