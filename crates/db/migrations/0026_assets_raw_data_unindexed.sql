-- 0026_assets_raw_data_unindexed: `assets.raw_data` is provenance (the source row as read and
-- the custom attributes), read with its asset and never searched by containment. Its GIN index
-- indexed every key and value of every imported row, the largest single cost of writing an
-- asset, for no query. Custom attributes become searchable through their own index when a
-- query needs them.
DROP INDEX IF EXISTS migration.ix_assets_raw_data;
