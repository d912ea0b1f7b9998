-- 0023_inventory_indexes: indexes of the inventory API (asset search and sort).
--
-- pg_trgm is a trusted extension (PostgreSQL 13+), so the database owner can create it; on an
-- external server the contrib package must be installed (or a superuser must have run
-- CREATE EXTENSION pg_trgm beforehand).
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

-- Free-text search `q`: one trigram index over the searched columns, joined by newlines.
-- The expression must stay identical to `SEARCH_TEXT` in crates/server/src/routes/assets.rs.
CREATE INDEX ix_assets_search_text ON migration.assets USING gin (
    (coalesce(asset_name, '') || E'\n' || coalesce(hostname, '') || E'\n' || coalesce(fqdn, '')
     || E'\n' || coalesce(ip_address, '') || E'\n' || coalesce(application_name, ''))
    public.gin_trgm_ops
);

-- Default listing order (by name) within an engagement, and the keyset pagination on it.
CREATE INDEX ix_assets_engagement_id_asset_name
    ON migration.assets (client_account_id, engagement_id, asset_name, id);
