//! The OpenAPI document, generated from the handlers' annotations.

use crate::error::{ErrorBody, ErrorEnvelope, FieldError};
use crate::routes::assets;
use crate::routes::discovery;
use crate::routes::flows;
use crate::routes::imports;
use crate::routes::{adapters, clients, credentials, engagements, health, meta};
use crate::routes::{audit, me, members, roles, tokens, users};
use crate::routes::{auth, mfa};
use crate::state::AppState;
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Modernize API",
        description = "Enterprise application migration platform. Every error is answered with the \
                       envelope `{\"error\": {\"code\", \"message\", \"request_id\"}}`."
    ),
    components(schemas(ErrorEnvelope, ErrorBody, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health, readiness, metrics, API description"),
        (name = "clients", description = "Client accounts (tenants)"),
        (name = "engagements", description = "Engagements of a client account"),
        (name = "flows", description = "Flows of an engagement: status, pause/resume/cancel/retry, approvals, server-sent events"),
        (name = "auth", description = "Local login, sessions (access and refresh tokens), passwords and the TOTP second factor"),
        (name = "adapters", description = "Catalogue of platform integration adapters"),
        (name = "credentials", description = "Encrypted platform credentials of a client (secrets are never returned)"),
        (name = "users", description = "Users, client members and role grants"),
        (name = "me", description = "The caller's own account, profile and API tokens"),
        (name = "audit", description = "Security audit log search and review"),
        (name = "assets", description = "Asset inventory of an engagement: search, edit, export, dependency graph"),
        (name = "discovery", description = "Discovery imports: upload an inventory file, which a discovery flow stages, reviews and applies"),
        (name = "imports", description = "Imports of an engagement: sessions, column mapping review (decisions learned per client), row-level report")
    )
)]
struct ApiDoc;

/// Every route, with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::get_health))
        .routes(routes!(health::get_readiness))
        .routes(routes!(meta::get_metrics))
        .routes(routes!(meta::get_openapi))
        .merge(clients::routes())
        .merge(engagements::routes())
        .merge(flows::routes())
        .merge(auth::routes())
        .merge(mfa::routes())
        .merge(adapters::routes())
        .merge(credentials::routes())
        .merge(users::routes())
        .merge(members::routes())
        .merge(roles::routes())
        .merge(me::routes())
        .merge(tokens::routes())
        .merge(audit::routes())
        .merge(assets::routes())
        .merge(discovery::routes())
        .merge(imports::routes())
}

/// Declares the `bearer` security scheme: API tokens (`mdz_...`) and access tokens.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| router().split_for_parts().1)
}
