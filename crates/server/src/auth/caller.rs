//! The `Caller` extractor: authenticates the bearer credential of a request and loads the
//! caller's effective grants. Every protected handler takes a `Caller`, then asks it to
//! `authorize` an action on a target before touching data.

use super::request_meta::RequestMeta;
use super::{api_token, audit, oidc, session};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::Utc;
use modernize_db::audit::AuditRecord;
use modernize_db::{credentials, identity};
use modernize_domain::access::{self, Action, Decision, Grant, Target};
use modernize_domain::ids::UserId;
use modernize_domain::tenancy::TenantScope;
use uuid::Uuid;

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ApiToken {
        token_id: Uuid,
    },
    /// A local access token, issued by login or refresh, of session (refresh-token family)
    /// `session_id`.
    LocalSession {
        session_id: Uuid,
    },
    /// A bearer token of the configured OpenID Connect provider.
    Oidc,
}

/// An authenticated, active user and their effective grants.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub email: String,
    pub grants: Vec<Grant>,
    pub method: AuthMethod,
    pub meta: RequestMeta,
}

impl Caller {
    /// Whether the caller administers the whole platform.
    pub fn is_platform_admin(&self) -> bool {
        access::is_platform_admin(&self.grants)
    }

    /// A short description of the caller's strongest role, for audit rows.
    pub fn role_label(&self) -> String {
        if self.is_platform_admin() {
            return "platform_admin".into();
        }
        let mut roles: Vec<&str> = self.grants.iter().map(|g| g.role.as_str()).collect();
        roles.sort_unstable();
        roles.dedup();
        roles.join(",")
    }

    /// Decides `action` on `target`. Allowed: returns the row-level security scope the work
    /// must run in — the target's client, never wider, so the database enforces the same
    /// boundary. Denied: records the denial and answers 403 when the caller may see the target,
    /// 404 when it may not (probing must not reveal whether an object exists).
    pub async fn authorize(
        &self,
        state: &AppState,
        action: Action,
        target: Target,
    ) -> Result<TenantScope, ApiError> {
        match access::decide(&self.grants, action, target) {
            Decision::Allowed => Ok(match target {
                Target::Platform => TenantScope::Platform {
                    user_id: Some(self.user_id),
                },
                Target::Client(client) | Target::Engagement(client, _) => TenantScope::Client {
                    client_account_id: client,
                    user_id: Some(self.user_id),
                },
            }),
            decision => {
                let (code, error) = if decision == Decision::Forbidden {
                    (
                        ErrorCode::Forbidden,
                        ApiError::new(ErrorCode::Forbidden, "you may not do this here"),
                    )
                } else {
                    (ErrorCode::NotFound, ApiError::not_found("resource"))
                };
                audit::access_denied(state, self, action, target, code).await;
                Err(error)
            }
        }
    }
}

impl Caller {
    /// `authorize` on an engagement addressed by its client and engagement ids (path
    /// parameters), the target of every engagement-scoped route.
    pub async fn authorize_engagement(
        &self,
        state: &AppState,
        action: Action,
        client_id: Uuid,
        engagement_id: Uuid,
    ) -> Result<TenantScope, ApiError> {
        let target = Target::Engagement(
            modernize_domain::ids::ClientAccountId(client_id),
            modernize_domain::ids::EngagementId(engagement_id),
        );
        self.authorize(state, action, target).await
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let meta = RequestMeta::from_parts(parts);
        let credential = bearer(parts)?;
        if api_token::looks_like_api_token(credential) {
            return authenticate_api_token(state, credential, meta).await;
        }
        if session::looks_like_jwt(credential) {
            // The unverified issuer only chooses the verification: local tokens are checked
            // with the local HMAC key and HS256 only, anything else with the provider's JWKS
            // and RS256/ES256 only.
            if session::unverified_issuer(credential).as_deref() == Some(session::LOCAL_ISSUER) {
                return authenticate_access_token(state, credential, meta).await;
            }
            if let Some(verifier) = &state.authn.oidc {
                return authenticate_oidc(state, verifier, credential, meta).await;
            }
        }
        audit::authentication_failed(state, &meta, "unknown_credential", None).await;
        Err(unauthenticated())
    }
}

fn unauthenticated() -> ApiError {
    ApiError::new(
        ErrorCode::Unauthenticated,
        "missing, invalid or expired credentials",
    )
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthenticated)?;
    let (scheme, credential) = value.split_once(' ').ok_or_else(unauthenticated)?;
    if !scheme.eq_ignore_ascii_case("bearer") || credential.trim().is_empty() {
        return Err(unauthenticated());
    }
    Ok(credential.trim())
}

async fn authenticate_api_token(
    state: &AppState,
    token: &str,
    meta: RequestMeta,
) -> Result<Caller, ApiError> {
    let digest = api_token::digest(token);
    // Authentication precedes any tenant: it reads users, tokens and roles in platform scope,
    // and nothing else happens in this transaction.
    let mut tx =
        modernize_db::tenant::begin(&state.db.app, TenantScope::Platform { user_id: None }).await?;
    let Some(owner) = identity::find_api_token(&mut tx, &digest).await? else {
        tx.rollback().await?;
        audit::authentication_failed(state, &meta, "unknown_token", None).await;
        return Err(unauthenticated());
    };
    let refusal = if owner.revoked_at.is_some() {
        Some("token_revoked")
    } else if owner.expires_at.is_some_and(|at| at <= Utc::now()) {
        Some("token_expired")
    } else if !owner.user_active {
        Some("user_inactive")
    } else {
        None
    };
    if let Some(reason) = refusal {
        tx.rollback().await?;
        audit::authentication_failed(state, &meta, reason, Some((owner.user_id, &owner.email)))
            .await;
        return Err(unauthenticated());
    }
    let user_id = UserId(owner.user_id);
    let grants = identity::effective_grants(&mut tx, user_id).await?;
    identity::touch_api_token(&mut tx, owner.token_id, meta.ip.as_deref()).await?;
    tx.commit().await?;
    Ok(Caller {
        user_id,
        email: owner.email,
        grants,
        method: AuthMethod::ApiToken {
            token_id: owner.token_id,
        },
        meta,
    })
}

/// Records a failed bearer authentication with the method and extra details.
async fn bearer_failed(
    state: &AppState,
    meta: &RequestMeta,
    method: &str,
    reason: &str,
    user: Option<&credentials::UserRecord>,
    mut details: serde_json::Value,
) {
    if let Some(map) = details.as_object_mut() {
        map.insert("method".into(), method.into());
    }
    audit::record_detached(
        state,
        AuditRecord {
            event_type: "auth.failed".into(),
            event_category: "auth",
            severity: "WARNING",
            actor_user_id: user.map_or_else(|| "anonymous".into(), |u| u.id.to_string()),
            actor_email: user.map(|u| u.email.clone()),
            ip_address: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            request_id: meta.request_id.clone(),
            action: "authenticate".into(),
            result: "failure",
            error_code: Some(reason.into()),
            details,
            ..AuditRecord::default()
        },
    )
    .await;
}

async fn authenticate_access_token(
    state: &AppState,
    token: &str,
    meta: RequestMeta,
) -> Result<Caller, ApiError> {
    const METHOD: &str = "access_token";
    let claims = match state.authn.verify_access_token(token) {
        Ok(claims) => claims,
        Err(reason) => {
            bearer_failed(state, &meta, METHOD, reason, None, serde_json::json!({})).await;
            return Err(unauthenticated());
        }
    };
    let Ok(user_id) = claims.sub.parse::<Uuid>() else {
        bearer_failed(
            state,
            &meta,
            METHOD,
            "malformed_token",
            None,
            serde_json::json!({}),
        )
        .await;
        return Err(unauthenticated());
    };
    let mut tx =
        modernize_db::tenant::begin(&state.db.app, TenantScope::Platform { user_id: None }).await?;
    let user = credentials::find_user(&mut tx, user_id).await?;
    let refusal = match &user {
        None => Some("unknown_user"),
        Some(u) if !u.is_active => Some("user_inactive"),
        Some(_) if credentials::refresh_family_revoked(&mut tx, claims.sid).await? => {
            Some("session_revoked")
        }
        Some(_) => None,
    };
    let user = match (user, refusal) {
        (Some(user), None) => user,
        (user, reason) => {
            tx.rollback().await?;
            bearer_failed(
                state,
                &meta,
                METHOD,
                reason.unwrap_or("unknown_user"),
                user.as_ref(),
                serde_json::json!({"user_id": user_id, "session_id": claims.sid}),
            )
            .await;
            return Err(unauthenticated());
        }
    };
    let grants = identity::effective_grants(&mut tx, UserId(user.id)).await?;
    tx.commit().await?;
    Ok(Caller {
        user_id: UserId(user.id),
        email: user.email,
        grants,
        method: AuthMethod::LocalSession {
            session_id: claims.sid,
        },
        meta,
    })
}

async fn authenticate_oidc(
    state: &AppState,
    verifier: &oidc::OidcVerifier,
    token: &str,
    meta: RequestMeta,
) -> Result<Caller, ApiError> {
    const METHOD: &str = "oidc";
    let identity = match verifier.verify(token).await {
        Ok(identity) => identity,
        Err(reason) => {
            bearer_failed(state, &meta, METHOD, reason, None, serde_json::json!({})).await;
            return Err(unauthenticated());
        }
    };
    let mut tx =
        modernize_db::tenant::begin(&state.db.app, TenantScope::Platform { user_id: None }).await?;
    // `local|…` marks users without a provider identity; no provider token may claim one.
    let user = if identity.subject.starts_with("local|") {
        None
    } else {
        credentials::find_user_by_subject(&mut tx, &identity.subject).await?
    };
    let refusal = match &user {
        None => Some("unknown_subject"),
        Some(u) if !u.is_active => Some("user_inactive"),
        Some(_) => None,
    };
    let user = match (user, refusal) {
        (Some(user), None) => user,
        (user, reason) => {
            tx.rollback().await?;
            // Users are not created on first sight: an administrator creates them with their
            // identity-provider subject.
            bearer_failed(
                state,
                &meta,
                METHOD,
                reason.unwrap_or("unknown_subject"),
                user.as_ref(),
                serde_json::json!({"subject": identity.subject}),
            )
            .await;
            return Err(unauthenticated());
        }
    };
    let grants = identity::effective_grants(&mut tx, UserId(user.id)).await?;
    tx.commit().await?;
    Ok(Caller {
        user_id: UserId(user.id),
        email: user.email,
        grants,
        method: AuthMethod::Oidc,
        meta,
    })
}
