//! The import's identity-key index, in a temporary table of the import's transaction
//! (`pg_temp.import_keys`): one row per key fingerprint with the asset it finds, the asset's
//! strong keys as first seen, and whether this import created it. The engagement's stored
//! assets are indexed first, through a cursor; each batch then reads the entries of its own
//! keys and adds the keys it introduces. Memory stays bounded by the batch, whatever the size
//! of the engagement or the file.
//!
//! A dry run writes its assets to `pg_temp.import_dry_assets` instead of the inventory
//! (copy on write for stored assets it would update), so that later rows of the same dry run
//! see them exactly like a real import would.

use modernize_ingest::attributes::AssetAttribute;
use modernize_ingest::cleanse::{CleansedAsset, Value};
use modernize_ingest::identity::identity_keys;
use serde_json::{Map, Value as Json};
use sqlx::Executor;
use uuid::Uuid;

use super::super::ImportError;
use super::super::store::Tx;
use super::known::{Index, Strong, key_fingerprint};

/// Stored assets read per cursor fetch while indexing the engagement.
const LOAD_PAGE: i64 = 5000;

/// The inventory table of a real import; the dry run's private copy.
pub(super) const ASSETS: &str = "migration.assets";
pub(super) const DRY_ASSETS: &str = "pg_temp.import_dry_assets";

/// Creates the import's temporary tables (dropped at the end of the transaction).
pub(super) async fn create(tx: &mut Tx, dry_run: bool) -> Result<(), ImportError> {
    let mut sql = String::from(
        "CREATE TEMP TABLE import_keys (key bigint PRIMARY KEY, asset uuid NOT NULL, \
             strong_source bigint, strong_fqdn bigint, created boolean NOT NULL) \
             ON COMMIT DROP; \
         CREATE TEMP TABLE import_edges (seq bigint NOT NULL, source uuid, \
             source_keys bigint[], target uuid, target_keys bigint[], dependency_type text, \
             strength text, confidence float8, evidence jsonb) ON COMMIT DROP;",
    );
    if dry_run {
        sql.push_str(
            "CREATE TEMP TABLE import_dry_assets (LIKE migration.assets INCLUDING DEFAULTS) \
                 ON COMMIT DROP; \
             ALTER TABLE pg_temp.import_dry_assets ADD PRIMARY KEY (id);",
        );
    }
    (&mut **tx).execute(sql.as_str()).await?;
    Ok(())
}

/// The identity columns of a stored asset, as an asset for [`identity_keys`].
fn identity_of(row: &StoredIdentity) -> CleansedAsset {
    let mut asset = CleansedAsset::default();
    for (attr, value) in [
        (AssetAttribute::SourceId, &row.source_id),
        (AssetAttribute::AssetName, &row.asset_name),
        (AssetAttribute::Fqdn, &row.fqdn),
        (AssetAttribute::Hostname, &row.hostname),
        (AssetAttribute::IpAddress, &row.ip_address),
        (AssetAttribute::MacAddress, &row.mac_address),
    ] {
        if let Some(v) = value {
            asset.values.insert(attr, Value::Text(v.clone()));
        }
    }
    asset
}

#[derive(sqlx::FromRow)]
struct StoredIdentity {
    id: Uuid,
    source_system: Option<String>,
    source_id: Option<String>,
    asset_name: Option<String>,
    fqdn: Option<String>,
    hostname: Option<String>,
    ip_address: Option<String>,
    mac_address: Option<String>,
}

/// Key rows waiting to be written to `import_keys`.
#[derive(Default)]
pub(super) struct KeyRows {
    key: Vec<i64>,
    asset: Vec<Uuid>,
    source: Vec<Option<i64>>,
    fqdn: Vec<Option<i64>>,
    created: Vec<bool>,
}

impl KeyRows {
    pub fn push(&mut self, key: i64, asset: Uuid, strong: Strong, created: bool) {
        self.key.push(key);
        self.asset.push(asset);
        self.source.push(strong.source);
        self.fqdn.push(strong.fqdn);
        self.created.push(created);
    }

    /// Writes the rows in order; a key already indexed keeps its first asset.
    pub async fn write(self, tx: &mut Tx) -> Result<(), ImportError> {
        if self.key.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO pg_temp.import_keys \
             SELECT k, a, s, f, c FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::bigint[], \
                                  $5::boolean[]) WITH ORDINALITY AS r(k, a, s, f, c, ord) \
             ORDER BY k, ord \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(self.key)
        .bind(self.asset)
        .bind(self.source)
        .bind(self.fqdn)
        .bind(self.created)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Indexes the engagement's stored assets, oldest first (the first asset to claim a key
/// keeps it), through a cursor so that one page is in memory at a time.
pub(super) async fn load_stored(
    tx: &mut Tx,
    client: Uuid,
    engagement: Uuid,
) -> Result<(), ImportError> {
    // DECLARE takes no bind parameters; the ids are typed UUIDs.
    let declare = format!(
        "DECLARE import_stored NO SCROLL CURSOR FOR \
         SELECT id, source_system, source_id, asset_name, fqdn, hostname, ip_address, \
                mac_address \
         FROM migration.assets \
         WHERE client_account_id = '{client}' AND engagement_id = '{engagement}' \
         ORDER BY created_at, id"
    );
    (&mut **tx).execute(declare.as_str()).await?;
    loop {
        let page: Vec<StoredIdentity> =
            sqlx::query_as(&format!("FETCH {LOAD_PAGE} FROM import_stored"))
                .fetch_all(&mut **tx)
                .await?;
        if page.is_empty() {
            break;
        }
        let mut rows = KeyRows::default();
        for stored in &page {
            let keys = identity_keys(&identity_of(stored), stored.source_system.as_deref());
            let strong = Strong::of(&keys);
            for k in &keys {
                rows.push(key_fingerprint(k), stored.id, strong, false);
            }
        }
        rows.write(tx).await?;
    }
    (&mut **tx).execute("CLOSE import_stored").await?;
    Ok(())
}

/// The index entries of `keys` (fingerprints), into a fresh batch index.
pub(super) async fn lookup(tx: &mut Tx, keys: Vec<i64>) -> Result<Index, ImportError> {
    let mut index = Index::default();
    if keys.is_empty() {
        return Ok(index);
    }
    /// An index entry: key, asset, strong source id and FQDN keys, created by this import.
    type Entry = (i64, Uuid, Option<i64>, Option<i64>, bool);
    let rows: Vec<Entry> = sqlx::query_as(
        "SELECT key, asset, strong_source, strong_fqdn, created FROM pg_temp.import_keys \
         WHERE key = ANY($1)",
    )
    .bind(keys)
    .fetch_all(&mut **tx)
    .await?;
    for (key, asset, source, fqdn, created) in rows {
        index.load(key, asset, Strong { source, fqdn }, created);
    }
    Ok(index)
}

/// The attribute columns and `raw_data` of the given assets as they are now in this
/// transaction (a dry run reads its own copy first).
pub(super) async fn documents(
    tx: &mut Tx,
    client: Uuid,
    engagement: Uuid,
    ids: Vec<Uuid>,
    dry_run: bool,
) -> Result<Vec<(Uuid, Map<String, Json>)>, ImportError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let fields: Vec<String> = AssetAttribute::ALL
        .iter()
        .map(|a| format!("'{0}', a.{0}", a.as_str()))
        .collect();
    let doc = format!(
        "jsonb_build_object({}) || jsonb_build_object('raw_data', a.raw_data)",
        fields.join(", ")
    );
    let stored = format!(
        "SELECT a.id, {doc} FROM migration.assets AS a \
         WHERE a.id = ANY($1) AND a.client_account_id = $2 AND a.engagement_id = $3"
    );
    let sql = if dry_run {
        format!(
            "SELECT a.id, {doc} FROM {DRY_ASSETS} AS a WHERE a.id = ANY($1) \
             UNION ALL ({stored} AND NOT EXISTS \
                 (SELECT 1 FROM {DRY_ASSETS} AS d WHERE d.id = a.id))"
        )
    } else {
        stored
    };
    let rows: Vec<(Uuid, Json)> = sqlx::query_as(&sql)
        .bind(ids)
        .bind(client)
        .bind(engagement)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, doc)| match doc {
            Json::Object(m) => (id, m),
            _ => (id, Map::new()),
        })
        .collect())
}

/// Copies stored assets a dry run is about to update into its private table.
pub(super) async fn copy_for_dry_run(tx: &mut Tx, ids: Vec<Uuid>) -> Result<(), ImportError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {DRY_ASSETS} SELECT * FROM migration.assets WHERE id = ANY($1) \
         ON CONFLICT (id) DO NOTHING"
    ))
    .bind(ids)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
