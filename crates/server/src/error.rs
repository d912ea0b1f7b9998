//! The one error type of the API and its JSON envelope:
//!
//! ```json
//! {"error": {"code": "not_found", "message": "...", "request_id": "..."}}
//! ```
//!
//! Codes are stable and snake_case; `ErrorCode::status` is the single table from code to HTTP
//! status. Internal errors are logged once, here, and answered with a generic message: no SQL
//! or internal detail ever reaches a client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Stable, machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    InvalidJson,
    UnsupportedMediaType,
    PayloadTooLarge,
    ValidationFailed,
    Unauthenticated,
    InvalidCredentials,
    MfaRequired,
    InvalidMfaCode,
    UserInactive,
    AccountLocked,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    InvalidTransition,
    LimitExceeded,
    ClientInactive,
    ImportNotReviewable,
    MappingTargetConflict,
    InvalidRelationRole,
    RequestTimeout,
    UploadTimeout,
    DatabaseUnavailable,
    VaultNotConfigured,
    Internal,
}

impl ErrorCode {
    /// The HTTP status of each code.
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            BadRequest | InvalidJson => StatusCode::BAD_REQUEST,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ValidationFailed | InvalidRelationRole => StatusCode::UNPROCESSABLE_ENTITY,
            Unauthenticated | InvalidCredentials | MfaRequired | InvalidMfaCode | UserInactive => {
                StatusCode::UNAUTHORIZED
            }
            AccountLocked => StatusCode::TOO_MANY_REQUESTS,
            Forbidden => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Conflict
            | InvalidTransition
            | LimitExceeded
            | ClientInactive
            | ImportNotReviewable
            | MappingTargetConflict => StatusCode::CONFLICT,
            UploadTimeout => StatusCode::REQUEST_TIMEOUT,
            RequestTimeout | DatabaseUnavailable | VaultNotConfigured => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code as it appears in the envelope.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadRequest => "bad_request",
            InvalidJson => "invalid_json",
            UnsupportedMediaType => "unsupported_media_type",
            PayloadTooLarge => "payload_too_large",
            ValidationFailed => "validation_failed",
            Unauthenticated => "unauthenticated",
            InvalidCredentials => "invalid_credentials",
            MfaRequired => "mfa_required",
            InvalidMfaCode => "invalid_mfa_code",
            UserInactive => "user_inactive",
            AccountLocked => "account_locked",
            Forbidden => "forbidden",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            Conflict => "conflict",
            InvalidTransition => "invalid_transition",
            LimitExceeded => "limit_exceeded",
            ClientInactive => "client_inactive",
            ImportNotReviewable => "import_not_reviewable",
            MappingTargetConflict => "mapping_target_conflict",
            InvalidRelationRole => "invalid_relation_role",
            RequestTimeout => "request_timeout",
            UploadTimeout => "upload_timeout",
            DatabaseUnavailable => "database_unavailable",
            VaultNotConfigured => "vault_not_configured",
            Internal => "internal",
        }
    }
}

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Field-level problems of a `validation_failed` error.
    pub details: Vec<FieldError>,
}

/// One invalid field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// `validation_failed` listing every invalid field.
    pub fn validation(details: Vec<FieldError>) -> Self {
        let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
        ApiError {
            code: ErrorCode::ValidationFailed,
            message: format!("invalid fields: {}", fields.join(", ")),
            details,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// Logs `error` with its detail and returns the generic internal error.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

/// Client errors for named database constraints: the one place where constraint names become
/// API answers. Anything not listed is an internal error.
fn from_constraint(constraint: &str) -> Option<ApiError> {
    let (code, message) = match constraint {
        "uq_client_accounts_slug" => (
            ErrorCode::Conflict,
            "a client account with this slug exists",
        ),
        "uq_users_email" => (
            ErrorCode::Conflict,
            "a user with this e-mail address exists",
        ),
        "uq_users_auth0_user_id" => (
            ErrorCode::Conflict,
            "a user with this identity-provider subject exists",
        ),
        "uq_platform_adapters_adapter_name_version" => (
            ErrorCode::Conflict,
            "an adapter with this name and version exists",
        ),
        "uq_platform_credentials_client_account_id_platform_adapter_id_c" => (
            ErrorCode::Conflict,
            "a credential with this name exists for this adapter",
        ),
        // Deleting an adapter that credentials still use (ON DELETE RESTRICT). Inserting a
        // credential for a missing adapter is checked before the insert.
        "fk_platform_credentials_platform_adapter_id_platform_adapters" => (
            ErrorCode::Conflict,
            "the adapter is used by stored credentials; delete them first",
        ),
        "ck_role_scope" => (
            ErrorCode::ValidationFailed,
            "only the admin role can be granted without a client or engagement",
        ),
        c if c.starts_with("ck_") => (
            ErrorCode::ValidationFailed,
            "a value is outside its allowed range or set",
        ),
        c if c.starts_with("fk_") => (
            ErrorCode::ValidationFailed,
            "a referenced object does not exist",
        ),
        _ => return None,
    };
    Some(ApiError::new(code, message))
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error
            && let Some(mapped) = db.constraint().and_then(from_constraint)
        {
            return mapped;
        }
        match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::error!(%error, "database unavailable");
                ApiError::new(
                    ErrorCode::DatabaseUnavailable,
                    "the database is unavailable",
                )
            }
            _ => ApiError::internal(error),
        }
    }
}

impl From<modernize_db::DbError> for ApiError {
    fn from(error: modernize_db::DbError) -> Self {
        match error {
            modernize_db::DbError::Sql(sql) => sql.into(),
            other => ApiError::internal(other),
        }
    }
}

/// The error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// Body of the error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    #[schema(example = "not_found")]
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request id (also in the `x-request-id` header), for support.
    pub request_id: Option<String>,
    /// For `validation_failed` (and other errors about fields of the request): each problem,
    /// by field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldError>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code.as_str().to_string(),
                message: self.message,
                request_id: crate::middleware::current_request_id(),
                details: self.details,
            },
        };
        (self.code.status(), Json(body)).into_response()
    }
}
