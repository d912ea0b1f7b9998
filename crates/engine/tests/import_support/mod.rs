//! What the import tests of several tables and of Google Migration Center files share: a
//! client with an engagement in a fresh database, imports (one-shot and staged), counts, and
//! files built on the fly (CSV from the vendor header templates, XLSX workbooks).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use modernize_engine::import::{
    ApplyOptions, FailedImport, ImportOptions, ImportReport, StagedImport, apply_import,
    run_import, stage_import,
};
use modernize_testkit::TestDb;
use sqlx::PgPool;
use uuid::Uuid;

pub fn sample(rel: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples");
    assert!(
        dir.is_dir(),
        "the sample files are missing: expected them in {} (beside the repository)",
        dir.display()
    );
    let p = dir.join(rel);
    assert!(p.is_file(), "sample {} is missing", p.display());
    p
}

pub struct World {
    pub db: TestDb,
    pub client: Uuid,
    pub engagement: Uuid,
}

pub async fn world() -> World {
    let db = TestDb::new().await;
    let (client, engagement) = tenant(&db.owner, "acme").await;
    World {
        db,
        client,
        engagement,
    }
}

pub async fn tenant(owner: &PgPool, slug: &str) -> (Uuid, Uuid) {
    let (client,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.client_accounts (name, slug) VALUES ($1, $1) RETURNING id",
    )
    .bind(slug)
    .fetch_one(owner)
    .await
    .unwrap();
    let (engagement,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.engagements (client_account_id, name) VALUES ($1, 'E') RETURNING id",
    )
    .bind(client)
    .fetch_one(owner)
    .await
    .unwrap();
    (client, engagement)
}

impl World {
    pub async fn import(&self, path: &Path, dry_run: bool) -> ImportReport {
        self.try_import(path, dry_run)
            .await
            .unwrap_or_else(|e| panic!("import of {} failed: {} ({})", path.display(), e, e.code()))
    }

    pub async fn try_import(
        &self,
        path: &Path,
        dry_run: bool,
    ) -> Result<ImportReport, FailedImport> {
        let options = ImportOptions {
            dry_run,
            ..ImportOptions::default()
        };
        self.try_import_with(path, &options).await
    }

    pub async fn try_import_with(
        &self,
        path: &Path,
        options: &ImportOptions,
    ) -> Result<ImportReport, FailedImport> {
        run_import(
            &self.db.app,
            self.client,
            self.engagement,
            path,
            options,
            &mut |_| {},
        )
        .await
    }

    pub async fn stage(&self, path: &Path, options: ImportOptions) -> StagedImport {
        stage_import(
            &self.db.app,
            self.client,
            self.engagement,
            path,
            &options,
            &mut |_| {},
        )
        .await
        .unwrap_or_else(|e| panic!("staging failed: {e} ({})", e.code()))
    }

    pub async fn apply(&self, id: Uuid) -> Result<ImportReport, FailedImport> {
        apply_import(
            &self.db.app,
            self.client,
            id,
            &ApplyOptions::default(),
            &mut |_| {},
        )
        .await
    }

    /// A number from a query whose only parameter is the engagement.
    pub async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .bind(self.engagement)
            .fetch_one(&self.db.owner)
            .await
            .unwrap();
        n
    }

    pub async fn assets(&self) -> i64 {
        self.count("SELECT count(*) FROM migration.assets WHERE engagement_id = $1")
            .await
    }

    pub async fn session_status(&self, id: Uuid) -> (String, Option<String>) {
        sqlx::query_as("SELECT status, error_code FROM migration.import_sessions WHERE id = $1")
            .bind(id)
            .fetch_one(&self.db.owner)
            .await
            .unwrap()
    }

    /// The engagement's dependencies as (source name, target name), sorted.
    pub async fn edges(&self) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT s.asset_name::text, t.asset_name::text FROM migration.asset_dependencies d \
             JOIN migration.assets s ON s.id = d.source_asset_id \
             JOIN migration.assets t ON t.id = d.target_asset_id \
             WHERE s.engagement_id = $1 ORDER BY 1, 2",
        )
        .bind(self.engagement)
        .fetch_all(&self.db.owner)
        .await
        .unwrap()
    }

    /// One column of the asset of that name, as JSON.
    pub async fn asset_value(&self, name: &str, expr: &str) -> serde_json::Value {
        let sql = format!(
            "SELECT to_jsonb({expr}) FROM migration.assets \
             WHERE engagement_id = $1 AND asset_name = $2"
        );
        let (v,): (Option<serde_json::Value>,) = sqlx::query_as(&sql)
            .bind(self.engagement)
            .bind(name)
            .fetch_one(&self.db.owner)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        v.unwrap_or(serde_json::Value::Null)
    }
}

pub fn no_rows_lost(r: &ImportReport) {
    assert_eq!(
        r.rows_read,
        r.rows_accepted + r.rows_fixed + r.rows_rejected,
        "rows lost: {r:#?}"
    );
    let per_table: u64 = r.tables.iter().map(|t| t.rows_read).sum();
    assert_eq!(
        per_table, r.rows_read,
        "rows of the tables: {:#?}",
        r.tables
    );
}

pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// A CSV with the template's header line and rows giving values for some of its columns.
pub fn from_template(template: &str, rows: &[&[(&str, &str)]]) -> String {
    let header = std::fs::read_to_string(sample(&format!("headers/{template}.header.csv")))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_string();
    let columns: Vec<&str> = header.split(',').collect();
    let mut out = header.clone();
    out.push('\n');
    for row in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| {
                row.iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| format!("\"{v}\""))
                    .unwrap_or_default()
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// A sheet: its name and its rows (the first is the header; empty: an empty sheet).
pub type Sheet = (String, Vec<Vec<String>>);

pub fn sheet(name: &str, rows: &[&[&str]]) -> Sheet {
    (
        name.to_string(),
        rows.iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect(),
    )
}

/// Writes a workbook; cells that read as numbers are written as numbers, as spreadsheets do.
pub fn workbook(dir: &Path, name: &str, sheets: &[Sheet]) -> PathBuf {
    let mut book = rust_xlsxwriter::Workbook::new();
    for (sheet_name, rows) in sheets {
        let ws = book.add_worksheet();
        ws.set_name(sheet_name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                if cell.is_empty() {
                    continue;
                }
                let (r, c) = (r as u32, c as u16);
                match cell.parse::<f64>() {
                    Ok(n) if r > 0 => ws.write_number(r, c, n).map(|_| ()).unwrap(),
                    _ => ws.write_string(r, c, cell).map(|_| ()).unwrap(),
                }
            }
        }
    }
    let path = dir.join(name);
    book.save(&path).unwrap();
    path
}
