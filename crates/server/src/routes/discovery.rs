//! Discovery imports: uploading an inventory file starts a discovery flow that stages, reviews
//! and applies it (see `modernize_engine::discovery`).
//!
//! The file is streamed to disk (never held in memory) under `imports.upload_dir`, in the
//! client's directory, one directory per upload; the size limit is `imports.max_upload_bytes`
//! and the room left in the client's `storage_quota_gb` (the uploads it keeps count against
//! it), the time limit `imports.upload_timeout_secs` (instead of
//! `server.request_timeout_secs`).
//! On any failure (a timeout included) nothing is left on disk and no flow exists.

use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use modernize_domain::access::Action;
use modernize_domain::flow::FlowType;
use modernize_engine::discovery::{ImportConfig, ImportSettings};
use modernize_engine::flows::store::{self, Actor, NewFlow};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// The upload route (its time limit is `imports.upload_timeout_secs`, see the middleware).
pub const UPLOAD_ROUTE: &str =
    "/api/v1/clients/{client_id}/engagements/{engagement_id}/discovery/imports";

pub fn routes() -> OpenApiRouter<AppState> {
    // Uploads have their own limit (`imports.max_upload_bytes`), enforced while streaming.
    OpenApiRouter::new()
        .routes(routes!(create_discovery_import))
        .layer(DefaultBodyLimit::disable())
}

/// The multipart form of an upload (documentation of the request body).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct DiscoveryImportForm {
    /// The inventory file (CSV, XLSX, JSON array or NDJSON).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// `true` computes the report without writing assets (default `false`).
    pub dry_run: Option<bool>,
    /// Mapping confidence (0..1) at or above which a column mapping is approved without
    /// review; `imports.threshold` of the configuration when absent.
    pub threshold: Option<f64>,
    /// Qualifies source identifiers (default: from the detected layout).
    pub source_system: Option<String>,
}

/// The uploaded file.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadedFile {
    pub file_name: String,
    pub size_bytes: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

/// A started discovery import.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscoveryImport {
    /// The discovery flow that imports the file (`Location` names it).
    pub flow_id: Uuid,
    pub import: UploadedFile,
    pub dry_run: bool,
    pub threshold: f64,
}

/// Upload an inventory file and start a discovery flow that imports it: initialization,
/// agent loading, environment scanning (layout detection), data collection (staging), analysis
/// (mapping review: the flow waits for approval while column mappings need review; then
/// cleansing, identity reconciliation, dependencies, all or nothing) and reporting. The flow's
/// progress and report are read with the flows API (`Location`). The upload must finish within
/// `imports.upload_timeout_secs` and never send nothing for `imports.upload_idle_timeout_secs`
/// (408 `upload_timeout` otherwise; nothing is kept). A file larger than
/// `imports.max_upload_bytes` is refused with 413 `payload_too_large`; one that does not fit the
/// room left in the client's `storage_quota_gb` (taken by the uploads it keeps) with 409
/// `limit_exceeded`.
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/discovery/imports",
    tag = "discovery",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path)),
    request_body(content = DiscoveryImportForm, content_type = "multipart/form-data"),
    responses((status = 202, body = DiscoveryImport,
               headers(("Location" = String, description = "The discovery flow"))),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 408, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 413, body = ErrorEnvelope),
              (status = 415, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_discovery_import(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id)): ApiPath<(Uuid, Uuid)>,
    request: Request,
) -> Result<(StatusCode, HeaderMap, Json<DiscoveryImport>), ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::WriteEngagement, client_id, engagement_id)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let engagement: Option<(Option<i32>,)> = sqlx::query_as(
        "SELECT c.storage_quota_gb FROM migration.engagements e \
           JOIN migration.client_accounts c ON c.id = e.client_account_id \
          WHERE e.id = $1 AND e.client_account_id = $2",
    )
    .bind(engagement_id)
    .bind(client_id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some((quota_gb,)) = engagement else {
        return Err(ApiError::not_found("engagement"));
    };
    let settings = state.imports.clone();
    let limit = match quota_gb {
        Some(gb) => {
            let used = settings
                .client_usage_bytes(client_id)
                .await
                .map_err(ApiError::internal)?;
            UploadLimit::with_quota(settings.max_upload_bytes, gb, used)
        }
        None => UploadLimit::plain(settings.max_upload_bytes),
    };
    // A declared length far above the limit is refused before anything is read.
    if let Some(len) = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit.bytes.saturating_add(64 * 1024)
    {
        return Err(limit.exceeded());
    }
    let multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|e| {
            ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("expected a multipart/form-data body: {}", e.body_text()),
            )
        })?;
    let upload_id = Uuid::new_v4();
    let dir = settings.upload_dir_of(client_id, upload_id);
    // Removes the upload directory unless the flow was created.
    let mut guard = Cleanup(Some(dir.clone()));
    let form = read_form(multipart, &settings, &limit, &dir).await?;
    // Uploads of the client that ran at the same time count too: the quota holds once every
    // one of them has been stored.
    if let Some(quota) = &limit.quota {
        let used = settings
            .client_usage_bytes(client_id)
            .await
            .map_err(ApiError::internal)?;
        if used > quota.bytes {
            return Err(quota.exceeded(used));
        }
    }

    let mut c = Checks::new();
    let dry_run = match form.dry_run.as_deref().map(str::trim) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            c.fail("dry_run", "must be true or false");
            false
        }
    };
    let threshold = match form.threshold.as_deref().map(str::trim) {
        None | Some("") => settings.threshold,
        Some(t) => match t.parse::<f64>() {
            Ok(v) if (0.0..=1.0).contains(&v) => v,
            _ => {
                c.fail("threshold", "must be a number between 0 and 1");
                0.0
            }
        },
    };
    let source_system = form
        .source_system
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    c.text("source_system", source_system.as_deref(), 100, false);
    match &form.file {
        None => c.fail("file", "a file part is required"),
        Some(f) if f.size == 0 => c.fail("file", "the file is empty"),
        Some(_) => {}
    }
    c.finish()?;
    let file = form.file.expect("checked");

    let config = ImportConfig {
        path: file.path.clone(),
        file_name: Some(file.name.clone()),
        dry_run,
        threshold: Some(threshold),
        source_system,
    };
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let flow_id = store::create(
        &mut tx,
        &NewFlow {
            client_account_id: client_id,
            engagement_id,
            user_id: caller.user_id.0,
            flow_type: FlowType::Discovery.as_str().into(),
            child: FlowType::Discovery,
            phases: FlowType::Discovery
                .phases()
                .iter()
                .map(|p| p.to_string())
                .collect(),
            display_name: Some(format!("Import of {}", file.name)),
            config: json!({ "import": config }),
        },
        &Actor::user(caller.user_id.0),
    )
    .await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "discovery.import_uploaded",
        "data",
        "flow",
        flow_id.to_string(),
        json!({"engagement_id": engagement_id, "file_name": file.name,
               "size_bytes": file.size, "sha256": file.sha256, "dry_run": dry_run}),
    )
    .await?;
    tx.commit().await?;
    guard.0 = None;
    let mut headers = HeaderMap::new();
    let location =
        format!("/api/v1/clients/{client_id}/engagements/{engagement_id}/flows/{flow_id}");
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(&location).map_err(ApiError::internal)?,
    );
    Ok((
        StatusCode::ACCEPTED,
        headers,
        Json(DiscoveryImport {
            flow_id,
            import: UploadedFile {
                file_name: file.name,
                size_bytes: file.size,
                sha256: file.sha256,
            },
            dry_run,
            threshold,
        }),
    ))
}

/// Removes an upload directory when dropped with a path (the request failed or was dropped).
struct Cleanup(Option<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            // Blocking but short: the directory holds one partial file.
            if let Err(e) = std::fs::remove_dir_all(&dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a failed upload");
            }
        }
    }
}

struct StoredFile {
    name: String,
    path: PathBuf,
    size: u64,
    sha256: String,
}

#[derive(Default)]
struct Form {
    file: Option<StoredFile>,
    dry_run: Option<String>,
    threshold: Option<String>,
    source_system: Option<String>,
}

/// How many bytes an upload may have: `imports.max_upload_bytes`, or less when the client's
/// storage quota has less room left.
struct UploadLimit {
    bytes: u64,
    max_upload_bytes: u64,
    quota: Option<Quota>,
}

/// The client's `storage_quota_gb` (GB of 2^30 bytes) and the bytes of uploads it keeps.
struct Quota {
    gb: i32,
    bytes: u64,
    used: u64,
}

impl UploadLimit {
    fn plain(max_upload_bytes: u64) -> UploadLimit {
        UploadLimit {
            bytes: max_upload_bytes,
            max_upload_bytes,
            quota: None,
        }
    }

    fn with_quota(max_upload_bytes: u64, gb: i32, used: u64) -> UploadLimit {
        let bytes = u64::try_from(gb).unwrap_or(0).saturating_mul(1 << 30);
        let room = bytes.saturating_sub(used);
        UploadLimit {
            bytes: max_upload_bytes.min(room),
            max_upload_bytes,
            quota: Some(Quota { gb, bytes, used }),
        }
    }

    /// The error of an upload larger than [`UploadLimit::bytes`]: the quota's when it is the
    /// tighter limit.
    fn exceeded(&self) -> ApiError {
        match &self.quota {
            Some(q) if self.bytes < self.max_upload_bytes => q.exceeded(q.used),
            _ => ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the file exceeds the upload limit of {} bytes",
                    self.max_upload_bytes
                ),
            ),
        }
    }
}

impl Quota {
    fn exceeded(&self, used: u64) -> ApiError {
        ApiError::new(
            ErrorCode::LimitExceeded,
            format!(
                "the upload does not fit the client's storage quota of {} GB: {used} of {} bytes \
                 are taken by kept uploads; complete or cancel earlier discovery imports, or \
                 raise storage_quota_gb",
                self.gb, self.bytes
            ),
        )
    }
}

fn malformed(e: MultipartError) -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        format!(
            "the multipart body is malformed or incomplete: {}",
            e.body_text()
        ),
    )
}

/// The next piece of the multipart body, or `upload_timeout` when the client sends nothing for
/// `imports.upload_idle_timeout_secs`.
async fn within_idle_limit<T>(
    settings: &ImportSettings,
    next: impl Future<Output = Result<T, MultipartError>>,
) -> Result<T, ApiError> {
    let limit = settings.upload_idle_timeout_secs;
    match tokio::time::timeout(std::time::Duration::from_secs(limit), next).await {
        Ok(piece) => piece.map_err(malformed),
        Err(_) => Err(ApiError::new(
            ErrorCode::UploadTimeout,
            format!(
                "the upload sent nothing for {limit} s (imports.upload_idle_timeout_secs); \
                 nothing was stored"
            ),
        )),
    }
}

fn field_error(field: &str, message: &str) -> ApiError {
    ApiError::validation(vec![crate::error::FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

async fn read_form(
    mut multipart: Multipart,
    settings: &ImportSettings,
    limit: &UploadLimit,
    dir: &Path,
) -> Result<Form, ApiError> {
    let mut form = Form::default();
    while let Some(field) = within_idle_limit(settings, multipart.next_field()).await? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                if form.file.is_some() {
                    return Err(field_error("file", "only one file per upload"));
                }
                form.file = Some(store_file(field, settings, limit, dir).await?);
            }
            "dry_run" | "threshold" | "source_system" => {
                let value = small_text(field, &name, settings).await?;
                let slot = match name.as_str() {
                    "dry_run" => &mut form.dry_run,
                    "threshold" => &mut form.threshold,
                    _ => &mut form.source_system,
                };
                *slot = Some(value);
            }
            other => {
                return Err(field_error(
                    other,
                    "unknown field (expected file, dry_run, threshold, source_system)",
                ));
            }
        }
    }
    Ok(form)
}

/// A short text field (at most 1 KiB).
async fn small_text(
    mut field: Field<'_>,
    name: &str,
    settings: &ImportSettings,
) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = within_idle_limit(settings, field.chunk()).await? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > 1024 {
            return Err(field_error(name, "longer than 1024 bytes"));
        }
    }
    String::from_utf8(bytes).map_err(|_| field_error(name, "not UTF-8 text"))
}

/// The uploaded file's name reduced to a safe single path component.
fn safe_name(raw: Option<&str>) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "upload".into()
    } else {
        cleaned
    }
}

/// Streams the file part to `<dir>/<name>`, counting and hashing; refuses it past `limit`.
async fn store_file(
    mut field: Field<'_>,
    settings: &ImportSettings,
    limit: &UploadLimit,
    dir: &Path,
) -> Result<StoredFile, ApiError> {
    let name = safe_name(field.file_name());
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(ApiError::internal)?;
    let path = dir.join(&name);
    let mut out = tokio::fs::File::create(&path)
        .await
        .map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = within_idle_limit(settings, field.chunk()).await? {
        size += chunk.len() as u64;
        if size > limit.bytes {
            return Err(limit.exceeded());
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    out.flush().await.map_err(ApiError::internal)?;
    out.sync_all().await.map_err(ApiError::internal)?;
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(StoredFile {
        name,
        path,
        size,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::{UPLOAD_ROUTE, safe_name};

    #[test]
    fn the_upload_route_is_the_documented_one() {
        // The middleware gives this path its own time limit.
        assert!(
            crate::openapi::document()
                .paths
                .paths
                .contains_key(UPLOAD_ROUTE)
        );
    }

    #[test]
    fn file_names_become_one_safe_component() {
        assert_eq!(safe_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(safe_name(Some("C:\\x\\inv entory.csv")), "inv entory.csv");
        assert_eq!(safe_name(Some("..")), "upload");
        assert_eq!(safe_name(Some(".hidden")), "hidden");
        assert_eq!(safe_name(None), "upload");
        assert_eq!(safe_name(Some("a;b$.xlsx")), "a_b_.xlsx");
    }
}
