//! The schema in the database is the one documented: every table and column of
//! `schema-design.md` with its type, nullability and default, exactly the deviations listed in
//! `docs/schema.md`, the documented constraints (with their `ON DELETE` actions), indexes and
//! `updated_at` triggers, the naming conventions, and the CHECK constraints that reject values
//! outside an enumeration.

use modernize_testkit::TestDb;
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

type Ts = chrono::DateTime<chrono::Utc>;

/// Default of a column as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Def {
    None,
    Now,
    GenRandomUuid,
    /// A constant; compared by value in the column's type (JSON semantically).
    Lit(&'static str),
}

#[derive(Debug, Clone, Copy)]
struct Col {
    name: &'static str,
    /// As `format_type(atttypid, atttypmod)` shows it.
    ty: &'static str,
    not_null: bool,
    default: Def,
}

const fn col(name: &'static str, ty: &'static str, not_null: bool, default: Def) -> Col {
    Col {
        name,
        ty,
        not_null,
        default,
    }
}

const TSTZ: &str = "timestamp with time zone";

/// Every table and column of `schema-design.md`, as written there (generated from the
/// document's CREATE TABLE statements; `FLOAT` is `double precision`, `DECIMAL` is `numeric`).
#[rustfmt::skip]
const DESIGN: &[(&str, &[Col])] = &[
    (
        "client_accounts",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("name", "character varying(255)", true, Def::None),
            col("slug", "character varying(100)", true, Def::None),
            col("description", "text", false, Def::None),
            col("industry", "character varying(100)", false, Def::None),
            col("company_size", "character varying(50)", false, Def::None),
            col("headquarters_location", "character varying(255)", false, Def::None),
            col("primary_contact_name", "character varying(255)", false, Def::None),
            col("primary_contact_email", "character varying(255)", false, Def::None),
            col("primary_contact_phone", "character varying(50)", false, Def::None),
            col("subscription_tier", "character varying(50)", false, Def::Lit("standard")),
            col("max_users", "integer", false, Def::None),
            col("max_engagements", "integer", false, Def::None),
            col("storage_quota_gb", "integer", false, Def::None),
            col("api_quota_monthly", "integer", false, Def::None),
            col("settings", "jsonb", false, Def::Lit("{}")),
            col("branding", "jsonb", false, Def::Lit("{}")),
            col("agent_preferences", "jsonb", false, Def::Lit(r#"{"discovery_depth": "comprehensive", "automation_level": "assisted", "risk_tolerance": "moderate"}"#)),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("updated_at", "timestamp with time zone", false, Def::None),
            col("is_active", "boolean", false, Def::Lit("true")),
        ],
    ),
    (
        "users",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("auth0_user_id", "character varying(255)", true, Def::None),
            col("email", "character varying(255)", true, Def::None),
            col("full_name", "character varying(255)", false, Def::None),
            col("avatar_url", "character varying(500)", false, Def::None),
            col("is_active", "boolean", false, Def::Lit("true")),
            col("last_login_at", "timestamp with time zone", false, Def::None),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("updated_at", "timestamp with time zone", false, Def::None),
        ],
    ),
    (
        "engagements",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("client_account_id", "uuid", true, Def::None),
            col("name", "character varying(255)", true, Def::None),
            col("description", "text", false, Def::None),
            col("engagement_type", "character varying(50)", false, Def::None),
            col("start_date", "date", false, Def::None),
            col("end_date", "date", false, Def::None),
            col("status", "character varying(50)", false, Def::Lit("planning")),
            col("target_applications", "integer", false, Def::None),
            col("target_infrastructure_units", "integer", false, Def::None),
            col("estimated_complexity", "character varying(20)", false, Def::None),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("updated_at", "timestamp with time zone", false, Def::None),
            col("created_by", "uuid", false, Def::None),
        ],
    ),
    (
        "user_profiles",
        &[
            col("user_id", "uuid", true, Def::None),
            col("department", "character varying(100)", false, Def::None),
            col("job_title", "character varying(100)", false, Def::None),
            col("phone", "character varying(50)", false, Def::None),
            col("timezone", "character varying(50)", false, Def::Lit("UTC")),
            col("notification_preferences", "jsonb", false, Def::Lit(r#"{"email": true, "in_app": true, "discovery_complete": true, "assessment_ready": true}"#)),
            col("ui_preferences", "jsonb", false, Def::Lit("{}")),
            col("mfa_enabled", "boolean", false, Def::Lit("false")),
            col("password_changed_at", "timestamp with time zone", false, Def::None),
            col("security_questions", "jsonb", false, Def::None),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("updated_at", "timestamp with time zone", false, Def::None),
        ],
    ),
    (
        "user_roles",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("user_id", "uuid", true, Def::None),
            col("role", "character varying(50)", true, Def::None),
            col("client_account_id", "uuid", false, Def::None),
            col("engagement_id", "uuid", false, Def::None),
            col("is_active", "boolean", false, Def::Lit("true")),
            col("granted_at", "timestamp with time zone", false, Def::Now),
            col("granted_by", "uuid", false, Def::None),
            col("expires_at", "timestamp with time zone", false, Def::None),
        ],
    ),
    (
        "crewai_flow_state_extensions",
        &[
            col("flow_id", "uuid", true, Def::None),
            col("flow_type", "character varying(50)", true, Def::None),
            col("client_account_id", "uuid", true, Def::None),
            col("engagement_id", "uuid", true, Def::None),
            col("display_name", "character varying(255)", false, Def::None),
            col("description", "text", false, Def::None),
            col("config", "jsonb", false, Def::Lit("{}")),
            col("crew_ai_state", "jsonb", false, Def::None),
            col("current_phase", "character varying(100)", false, Def::None),
            col("phase_history", "jsonb", false, Def::Lit("[]")),
            col("execution_metrics", "jsonb", false, Def::Lit("{}")),
            col("child_flows", "jsonb", false, Def::Lit("{}")),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("updated_at", "timestamp with time zone", false, Def::None),
            col("completed_at", "timestamp with time zone", false, Def::None),
        ],
    ),
    (
        "discovery_flows",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("flow_id", "uuid", true, Def::None),
            col("master_flow_id", "uuid", false, Def::None),
            col("client_account_id", "uuid", true, Def::None),
            col("engagement_id", "uuid", true, Def::None),
            col("user_id", "uuid", true, Def::None),
            col("discovery_type", "character varying(50)", false, Def::Lit("automated")),
            col("target_platforms", "jsonb", false, Def::Lit("[]")),
            col("discovery_scope", "jsonb", false, Def::Lit("{}")),
            col("status", "character varying(50)", false, Def::Lit("initialized")),
            col("phases", "jsonb", false, Def::Lit(r#"{"initialization": {"status": "pending"}, "agent_loading": {"status": "pending"}, "environment_scanning": {"status": "pending"}, "data_collection": {"status": "pending"}, "analysis": {"status": "pending"}, "reporting": {"status": "pending"}}"#)),
            col("discovered_assets_count", "integer", false, Def::Lit("0")),
            col("discovered_patterns", "jsonb", false, Def::Lit("[]")),
            col("recommendations", "jsonb", false, Def::Lit("[]")),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("updated_at", "timestamp with time zone", false, Def::None),
            col("completed_at", "timestamp with time zone", false, Def::None),
        ],
    ),
    (
        "assessment_flows",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("flow_id", "uuid", true, Def::None),
            col("master_flow_id", "uuid", false, Def::None),
            col("client_account_id", "uuid", true, Def::None),
            col("engagement_id", "uuid", true, Def::None),
            col("discovery_flow_id", "uuid", false, Def::None),
            col("assessment_type", "character varying(50)", false, Def::None),
            col("assessment_framework", "character varying(50)", false, Def::None),
            col("status", "character varying(50)", false, Def::Lit("pending")),
            col("current_stage", "character varying(100)", false, Def::None),
            col("stages_completed", "jsonb", false, Def::Lit("[]")),
            col("technical_debt_score", "double precision", false, Def::None),
            col("complexity_score", "double precision", false, Def::None),
            col("risk_score", "double precision", false, Def::None),
            col("readiness_score", "double precision", false, Def::None),
            col("recommendations", "jsonb", false, Def::Lit("[]")),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("updated_at", "timestamp with time zone", false, Def::None),
            col("completed_at", "timestamp with time zone", false, Def::None),
        ],
    ),
    (
        "assets",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("master_flow_id", "uuid", false, Def::None),
            col("discovery_flow_id", "uuid", false, Def::None),
            col("assessment_flow_id", "uuid", false, Def::None),
            col("client_account_id", "uuid", true, Def::None),
            col("engagement_id", "uuid", true, Def::None),
            col("asset_name", "character varying(255)", true, Def::None),
            col("asset_type", "character varying(100)", false, Def::None),
            col("asset_subtype", "character varying(100)", false, Def::None),
            col("hostname", "character varying(255)", false, Def::None),
            col("fqdn", "character varying(255)", false, Def::None),
            col("ip_address", "character varying(45)", false, Def::None),
            col("mac_address", "character varying(17)", false, Def::None),
            col("os_type", "character varying(50)", false, Def::None),
            col("os_version", "character varying(50)", false, Def::None),
            col("environment", "character varying(50)", false, Def::None),
            col("datacenter", "character varying(100)", false, Def::None),
            col("region", "character varying(50)", false, Def::None),
            col("availability_zone", "character varying(50)", false, Def::None),
            col("rack_location", "character varying(50)", false, Def::None),
            col("application_name", "character varying(255)", false, Def::None),
            col("application_version", "character varying(50)", false, Def::None),
            col("technology_stack", "jsonb", false, Def::Lit("[]")),
            col("dependencies", "jsonb", false, Def::Lit("[]")),
            col("business_unit", "character varying(100)", false, Def::None),
            col("business_owner", "character varying(255)", false, Def::None),
            col("technical_owner", "character varying(255)", false, Def::None),
            col("business_criticality", "character varying(20)", false, Def::None),
            col("cpu_cores", "integer", false, Def::None),
            col("memory_gb", "double precision", false, Def::None),
            col("storage_gb", "double precision", false, Def::None),
            col("cpu_utilization_percent", "double precision", false, Def::None),
            col("memory_utilization_percent", "double precision", false, Def::None),
            col("six_r_strategy", "character varying(20)", false, Def::None),
            col("migration_complexity", "character varying(20)", false, Def::None),
            col("migration_priority", "integer", false, Def::None),
            col("migration_wave", "integer", false, Def::None),
            col("blockers", "jsonb", false, Def::Lit("[]")),
            col("completeness_score", "double precision", false, Def::None),
            col("confidence_score", "double precision", false, Def::None),
            col("last_validated_at", "timestamp with time zone", false, Def::None),
            col("source_system", "character varying(100)", false, Def::None),
            col("source_id", "character varying(255)", false, Def::None),
            col("import_session_id", "uuid", false, Def::None),
            col("raw_data", "jsonb", false, Def::None),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("updated_at", "timestamp with time zone", false, Def::None),
            col("created_by", "uuid", false, Def::None),
        ],
    ),
    (
        "asset_dependencies",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("source_asset_id", "uuid", true, Def::None),
            col("target_asset_id", "uuid", true, Def::None),
            col("dependency_type", "character varying(50)", false, Def::None),
            col("direction", "character varying(20)", false, Def::Lit("outbound")),
            col("strength", "character varying(20)", false, Def::Lit("strong")),
            col("discovered_by", "character varying(50)", false, Def::None),
            col("confidence_score", "double precision", false, Def::Lit("1.0")),
            col("evidence", "jsonb", false, Def::Lit("{}")),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("validated_at", "timestamp with time zone", false, Def::None),
        ],
    ),
    (
        "collection_flows",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("flow_id", "uuid", true, Def::None),
            col("master_flow_id", "uuid", false, Def::None),
            col("client_account_id", "uuid", true, Def::None),
            col("engagement_id", "uuid", true, Def::None),
            col("discovery_flow_id", "uuid", false, Def::None),
            col("automation_tier", "character varying(20)", false, Def::None),
            col("collection_methods", "jsonb", false, Def::Lit("[]")),
            col("target_systems", "jsonb", false, Def::Lit("[]")),
            col("status", "character varying(50)", false, Def::Lit("initialized")),
            col("current_phase", "character varying(100)", false, Def::None),
            col("progress_percentage", "double precision", false, Def::Lit("0.0")),
            col("data_quality_score", "double precision", false, Def::None),
            col("completeness_percentage", "double precision", false, Def::None),
            col("validation_errors_count", "integer", false, Def::Lit("0")),
            col("total_items_collected", "integer", false, Def::Lit("0")),
            col("items_processed", "integer", false, Def::Lit("0")),
            col("items_failed", "integer", false, Def::Lit("0")),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("updated_at", "timestamp with time zone", false, Def::None),
            col("completed_at", "timestamp with time zone", false, Def::None),
        ],
    ),
    (
        "platform_adapters",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("adapter_name", "character varying(100)", true, Def::None),
            col("adapter_type", "character varying(50)", true, Def::None),
            col("version", "character varying(20)", true, Def::None),
            col("supported_platforms", "jsonb", false, Def::Lit("[]")),
            col("capabilities", "jsonb", false, Def::Lit("[]")),
            col("configuration_schema", "jsonb", false, Def::Lit("{}")),
            col("status", "character varying(20)", false, Def::Lit("active")),
            col("health_check_url", "character varying(500)", false, Def::None),
            col("last_health_check_at", "timestamp with time zone", false, Def::None),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("updated_at", "timestamp with time zone", false, Def::None),
        ],
    ),
    (
        "platform_credentials",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("client_account_id", "uuid", true, Def::None),
            col("platform_adapter_id", "uuid", true, Def::None),
            col("credential_name", "character varying(255)", true, Def::None),
            col("credential_type", "character varying(50)", false, Def::None),
            col("encrypted_credentials", "bytea", true, Def::None),
            col("encryption_key_id", "character varying(255)", false, Def::None),
            col("vault_path", "character varying(500)", false, Def::None),
            col("status", "character varying(50)", false, Def::Lit("active")),
            col("expires_at", "timestamp with time zone", false, Def::None),
            col("last_rotated_at", "timestamp with time zone", false, Def::None),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("created_by", "uuid", false, Def::None),
            col("updated_at", "timestamp with time zone", false, Def::None),
        ],
    ),
    (
        "agent_task_history",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("task_id", "character varying(255)", true, Def::None),
            col("parent_task_id", "character varying(255)", false, Def::None),
            col("flow_id", "uuid", false, Def::None),
            col("flow_type", "character varying(50)", false, Def::None),
            col("master_flow_id", "uuid", false, Def::None),
            col("agent_name", "character varying(100)", true, Def::None),
            col("agent_type", "character varying(50)", false, Def::None),
            col("agent_version", "character varying(20)", false, Def::None),
            col("task_type", "character varying(100)", false, Def::None),
            col("task_description", "text", false, Def::None),
            col("input_data", "jsonb", false, Def::Lit("{}")),
            col("status", "character varying(50)", false, Def::Lit("pending")),
            col("started_at", "timestamp with time zone", false, Def::None),
            col("completed_at", "timestamp with time zone", false, Def::None),
            col("duration_seconds", "double precision", false, Def::None),
            col("output_data", "jsonb", false, Def::Lit("{}")),
            col("error_message", "text", false, Def::None),
            col("error_details", "jsonb", false, Def::None),
            col("tokens_used", "integer", false, Def::None),
            col("api_calls_made", "integer", false, Def::None),
            col("memory_used_mb", "double precision", false, Def::None),
            col("created_at", "timestamp with time zone", false, Def::Now),
        ],
    ),
    (
        "agent_performance_daily",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("date", "date", true, Def::None),
            col("agent_name", "character varying(100)", true, Def::None),
            col("flow_type", "character varying(50)", false, Def::None),
            col("total_tasks", "integer", false, Def::Lit("0")),
            col("successful_tasks", "integer", false, Def::Lit("0")),
            col("failed_tasks", "integer", false, Def::Lit("0")),
            col("avg_duration_seconds", "double precision", false, Def::None),
            col("p50_duration_seconds", "double precision", false, Def::None),
            col("p95_duration_seconds", "double precision", false, Def::None),
            col("p99_duration_seconds", "double precision", false, Def::None),
            col("total_tokens_used", "integer", false, Def::Lit("0")),
            col("total_api_calls", "integer", false, Def::Lit("0")),
            col("total_cost", "numeric(10,4)", false, Def::Lit("0")),
            col("error_rate", "double precision", false, Def::None),
            col("retry_rate", "double precision", false, Def::None),
            col("created_at", "timestamp with time zone", false, Def::Now),
        ],
    ),
    (
        "llm_usage_log",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("flow_id", "uuid", false, Def::None),
            col("task_id", "character varying(255)", false, Def::None),
            col("user_id", "uuid", false, Def::None),
            col("provider", "character varying(50)", true, Def::None),
            col("model", "character varying(100)", true, Def::None),
            col("prompt_tokens", "integer", true, Def::None),
            col("completion_tokens", "integer", true, Def::None),
            col("total_tokens", "integer", true, Def::None),
            col("prompt_cost", "numeric(10,6)", false, Def::None),
            col("completion_cost", "numeric(10,6)", false, Def::None),
            col("total_cost", "numeric(10,6)", false, Def::None),
            col("request_payload", "jsonb", false, Def::None),
            col("response_payload", "jsonb", false, Def::None),
            col("latency_ms", "integer", false, Def::None),
            col("status_code", "integer", false, Def::None),
            col("error_message", "text", false, Def::None),
            col("created_at", "timestamp with time zone", false, Def::Now),
        ],
    ),
    (
        "agent_learning_patterns",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("client_account_id", "uuid", true, Def::None),
            col("engagement_id", "uuid", false, Def::None),
            col("master_flow_id", "uuid", false, Def::None),
            col("insight_type", "character varying(50)", true, Def::None),
            col("embedding", "vector(1536)", true, Def::None),
            col("raw_evidence", "jsonb", true, Def::None),
            col("confidence_score", "double precision", false, Def::None),
            col("discovered_by", "character varying(100)", false, Def::None),
            col("validated", "boolean", false, Def::Lit("false")),
            col("applied_count", "integer", false, Def::Lit("0")),
            col("success_rate", "double precision", false, Def::None),
            col("created_at", "timestamp with time zone", false, Def::Now),
            col("last_applied_at", "timestamp with time zone", false, Def::None),
            col("expires_at", "timestamp with time zone", false, Def::None),
        ],
    ),
    (
        "security_audit_logs",
        &[
            col("id", "uuid", true, Def::GenRandomUuid),
            col("event_type", "character varying(100)", true, Def::None),
            col("event_category", "character varying(50)", true, Def::None),
            col("severity", "character varying(20)", false, Def::Lit("INFO")),
            col("actor_user_id", "character varying(36)", true, Def::None),
            col("actor_email", "character varying(255)", false, Def::None),
            col("actor_role", "character varying(50)", false, Def::None),
            col("target_type", "character varying(50)", false, Def::None),
            col("target_id", "character varying(36)", false, Def::None),
            col("target_details", "jsonb", false, Def::Lit("{}")),
            col("ip_address", "character varying(45)", false, Def::None),
            col("user_agent", "text", false, Def::None),
            col("request_id", "character varying(255)", false, Def::None),
            col("session_id", "character varying(255)", false, Def::None),
            col("action", "character varying(100)", true, Def::None),
            col("result", "character varying(20)", true, Def::None),
            col("error_code", "character varying(50)", false, Def::None),
            col("details", "jsonb", false, Def::Lit("{}")),
            col("requires_review", "boolean", false, Def::Lit("false")),
            col("reviewed_at", "timestamp with time zone", false, Def::None),
            col("reviewed_by", "character varying(36)", false, Def::None),
            col("created_at", "timestamp with time zone", false, Def::Now),
        ],
    ),
];

/// Documented deviations that change a column of the design ("Deviations from
/// schema-design.md" in docs/schema.md).
const CHANGED: &[(&str, Col)] = &[
    // Partitioning: the partition key must be NOT NULL.
    (
        "agent_task_history",
        col("created_at", TSTZ, true, Def::Now),
    ),
    ("llm_usage_log", col("created_at", TSTZ, true, Def::Now)),
    (
        "security_audit_logs",
        col("created_at", TSTZ, true, Def::Now),
    ),
    // Every UUID primary key defaults to gen_random_uuid().
    (
        "crewai_flow_state_extensions",
        col("flow_id", "uuid", true, Def::GenRandomUuid),
    ),
    // 0021: 'pending' is no flow status.
    (
        "assessment_flows",
        col(
            "status",
            "character varying(50)",
            false,
            Def::Lit("initialized"),
        ),
    ),
];

/// Documented deviations that add a column.
const ADDED: &[(&str, Col)] = &[
    ("assets", col("embedding", "vector(1536)", false, Def::None)),
    (
        "asset_dependencies",
        col("client_account_id", "uuid", true, Def::None),
    ),
    (
        "agent_task_history",
        col("client_account_id", "uuid", false, Def::None),
    ),
    (
        "llm_usage_log",
        col("client_account_id", "uuid", false, Def::None),
    ),
    (
        "llm_usage_log",
        col("engagement_id", "uuid", false, Def::None),
    ),
    (
        "security_audit_logs",
        col("client_account_id", "uuid", false, Def::None),
    ),
    // 0021 (flow engine): master status and phase run, child phases.
    (
        "crewai_flow_state_extensions",
        col(
            "status",
            "character varying(50)",
            true,
            Def::Lit("initialized"),
        ),
    ),
    (
        "crewai_flow_state_extensions",
        col("phase_run_id", "uuid", false, Def::None),
    ),
    (
        "crewai_flow_state_extensions",
        col("created_by", "uuid", false, Def::None),
    ),
    (
        "discovery_flows",
        col("current_phase", "character varying(100)", false, Def::None),
    ),
    (
        "assessment_flows",
        col("current_phase", "character varying(100)", false, Def::None),
    ),
    (
        "assessment_flows",
        col("phases", "jsonb", true, Def::Lit("{}")),
    ),
    (
        "collection_flows",
        col("phases", "jsonb", true, Def::Lit("{}")),
    ),
    // The additional internal table.
    (
        "agent_task_history_task_ids",
        col("task_id", "character varying(255)", true, Def::None),
    ),
    (
        "agent_task_history_task_ids",
        col("created_at", TSTZ, true, Def::None),
    ),
];

/// The tables of the "Tables" section of docs/schema.md. Tables outside the design document
/// (later migrations) are listed there but not catalogued column by column here.
fn documented_tables() -> BTreeSet<String> {
    let doc = include_str!("../../../docs/schema.md");
    let section = doc
        .split("\n## Tables\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/schema.md has a section \"Tables\"");
    section
        .lines()
        .filter_map(|line| {
            // | `table` | purpose | RLS |
            let name = line.split('|').nth(1)?.trim();
            Some(name.strip_prefix('`')?.strip_suffix('`')?.to_owned())
        })
        .collect()
}

/// Whether the catalogue of this file covers `table`: the 18 design tables and the internal
/// `agent_task_history_task_ids`.
fn catalogued(table: &str) -> bool {
    table == "agent_task_history_task_ids" || DESIGN.iter().any(|(t, _)| *t == table)
}

/// Design tables with an `updated_at` column, each with trigger `tr_<table>_updated_at`.
const UPDATED_AT_TABLES: &[&str] = &[
    "client_accounts",
    "users",
    "engagements",
    "user_profiles",
    "crewai_flow_state_extensions",
    "discovery_flows",
    "assessment_flows",
    "collection_flows",
    "assets",
    "platform_adapters",
    "platform_credentials",
];

/// A foreign key of the FK table of docs/schema.md.
#[derive(Debug)]
struct Fk {
    table: &'static str,
    cols: &'static [&'static str],
    ref_table: &'static str,
    ref_cols: &'static [&'static str],
    /// `pg_constraint.confdeltype`: r = RESTRICT, c = CASCADE, n = SET NULL.
    on_delete: char,
    /// The column list of `ON DELETE SET NULL (…)`; empty = all referencing columns.
    set_null_cols: &'static [&'static str],
}

const fn fk(
    table: &'static str,
    cols: &'static [&'static str],
    ref_table: &'static str,
    ref_cols: &'static [&'static str],
    on_delete: char,
) -> Fk {
    Fk {
        table,
        cols,
        ref_table,
        ref_cols,
        on_delete,
        set_null_cols: &[],
    }
}

const ID: &[&str] = &["id"];
const ENG: &[&str] = &["engagement_id", "client_account_id"];
const ENG_REF: &[&str] = &["id", "client_account_id"];
const MASTER: &[&str] = &["master_flow_id", "client_account_id"];
const MASTER_REF: &[&str] = &["flow_id", "client_account_id"];
const CLIENT: &[&str] = &["client_account_id"];

const FKS: &[Fk] = &[
    fk("engagements", CLIENT, "client_accounts", ID, 'r'),
    fk("engagements", &["created_by"], "users", ID, 'n'),
    fk("user_profiles", &["user_id"], "users", ID, 'c'),
    fk("user_roles", &["user_id"], "users", ID, 'c'),
    fk("user_roles", CLIENT, "client_accounts", ID, 'c'),
    fk("user_roles", &["engagement_id"], "engagements", ID, 'c'),
    fk("user_roles", &["granted_by"], "users", ID, 'n'),
    fk(
        "crewai_flow_state_extensions",
        CLIENT,
        "client_accounts",
        ID,
        'r',
    ),
    fk(
        "crewai_flow_state_extensions",
        ENG,
        "engagements",
        ENG_REF,
        'r',
    ),
    fk(
        "discovery_flows",
        MASTER,
        "crewai_flow_state_extensions",
        MASTER_REF,
        'c',
    ),
    fk("discovery_flows", CLIENT, "client_accounts", ID, 'r'),
    fk("discovery_flows", ENG, "engagements", ENG_REF, 'r'),
    fk("discovery_flows", &["user_id"], "users", ID, 'r'),
    fk(
        "assessment_flows",
        MASTER,
        "crewai_flow_state_extensions",
        MASTER_REF,
        'c',
    ),
    fk("assessment_flows", CLIENT, "client_accounts", ID, 'r'),
    fk("assessment_flows", ENG, "engagements", ENG_REF, 'r'),
    Fk {
        set_null_cols: &["discovery_flow_id"],
        ..fk(
            "assessment_flows",
            &["discovery_flow_id", "client_account_id"],
            "discovery_flows",
            ENG_REF,
            'n',
        )
    },
    fk(
        "collection_flows",
        MASTER,
        "crewai_flow_state_extensions",
        MASTER_REF,
        'c',
    ),
    fk("collection_flows", CLIENT, "client_accounts", ID, 'r'),
    fk("collection_flows", ENG, "engagements", ENG_REF, 'r'),
    Fk {
        set_null_cols: &["discovery_flow_id"],
        ..fk(
            "collection_flows",
            &["discovery_flow_id", "client_account_id"],
            "discovery_flows",
            ENG_REF,
            'n',
        )
    },
    Fk {
        set_null_cols: &["master_flow_id"],
        ..fk(
            "assets",
            MASTER,
            "crewai_flow_state_extensions",
            MASTER_REF,
            'n',
        )
    },
    Fk {
        set_null_cols: &["discovery_flow_id"],
        ..fk(
            "assets",
            &["discovery_flow_id", "client_account_id"],
            "discovery_flows",
            ENG_REF,
            'n',
        )
    },
    Fk {
        set_null_cols: &["assessment_flow_id"],
        ..fk(
            "assets",
            &["assessment_flow_id", "client_account_id"],
            "assessment_flows",
            ENG_REF,
            'n',
        )
    },
    fk("assets", CLIENT, "client_accounts", ID, 'r'),
    fk("assets", ENG, "engagements", ENG_REF, 'r'),
    fk("assets", &["created_by"], "users", ID, 'n'),
    fk(
        "asset_dependencies",
        &["source_asset_id", "client_account_id"],
        "assets",
        ENG_REF,
        'c',
    ),
    fk(
        "asset_dependencies",
        &["target_asset_id", "client_account_id"],
        "assets",
        ENG_REF,
        'c',
    ),
    fk("platform_credentials", CLIENT, "client_accounts", ID, 'c'),
    fk(
        "platform_credentials",
        &["platform_adapter_id"],
        "platform_adapters",
        ID,
        'r',
    ),
    fk("platform_credentials", &["created_by"], "users", ID, 'n'),
    Fk {
        set_null_cols: &["master_flow_id"],
        ..fk(
            "agent_task_history",
            MASTER,
            "crewai_flow_state_extensions",
            MASTER_REF,
            'n',
        )
    },
    fk("agent_task_history", CLIENT, "client_accounts", ID, 'r'),
    fk("llm_usage_log", &["user_id"], "users", ID, 'n'),
    fk("llm_usage_log", CLIENT, "client_accounts", ID, 'r'),
    fk("llm_usage_log", ENG, "engagements", ENG_REF, 'r'),
    fk(
        "agent_learning_patterns",
        CLIENT,
        "client_accounts",
        ID,
        'c',
    ),
    Fk {
        set_null_cols: &["engagement_id"],
        ..fk("agent_learning_patterns", ENG, "engagements", ENG_REF, 'n')
    },
    Fk {
        set_null_cols: &["master_flow_id"],
        ..fk(
            "agent_learning_patterns",
            MASTER,
            "crewai_flow_state_extensions",
            MASTER_REF,
            'n',
        )
    },
];

/// Unique constraints: design-document UNIQUE columns plus the documented composite-key targets.
const UNIQUES: &[(&str, &str, &[&str])] = &[
    ("client_accounts", "uq_client_accounts_slug", &["slug"]),
    ("users", "uq_users_auth0_user_id", &["auth0_user_id"]),
    ("users", "uq_users_email", &["email"]),
    (
        "engagements",
        "uq_engagements_id_client_account_id",
        &["id", "client_account_id"],
    ),
    (
        "crewai_flow_state_extensions",
        "uq_crewai_flow_state_extensions_flow_id_client_account_id",
        &["flow_id", "client_account_id"],
    ),
    (
        "discovery_flows",
        "uq_discovery_flows_flow_id",
        &["flow_id"],
    ),
    (
        "assessment_flows",
        "uq_assessment_flows_flow_id",
        &["flow_id"],
    ),
    (
        "discovery_flows",
        "uq_discovery_flows_id_client_account_id",
        &["id", "client_account_id"],
    ),
    (
        "assessment_flows",
        "uq_assessment_flows_id_client_account_id",
        &["id", "client_account_id"],
    ),
    (
        "collection_flows",
        "uq_collection_flows_flow_id",
        &["flow_id"],
    ),
    (
        "assets",
        "uq_assets_id_client_account_id",
        &["id", "client_account_id"],
    ),
    (
        "asset_dependencies",
        "uq_asset_dependencies_source_asset_id_target_asset_id_dependenc",
        &["source_asset_id", "target_asset_id", "dependency_type"],
    ),
    (
        "platform_adapters",
        "uq_platform_adapters_adapter_name_version",
        &["adapter_name", "version"],
    ),
    (
        "platform_credentials",
        "uq_platform_credentials_client_account_id_platform_adapter_id_c",
        &[
            "client_account_id",
            "platform_adapter_id",
            "credential_name",
        ],
    ),
    (
        "agent_performance_daily",
        "uq_agent_performance_daily_date_agent_name_flow_type",
        &["date", "agent_name", "flow_type"],
    ),
];

/// CHECK constraints of docs/schema.md ("CHECK constraints"), by table.
const CHECKS: &[(&str, &[&str])] = &[
    (
        "client_accounts",
        &[
            "ck_client_accounts_slug_format",
            "ck_client_accounts_max_users",
            "ck_client_accounts_max_engagements",
            "ck_client_accounts_storage_quota_gb",
            "ck_client_accounts_api_quota_monthly",
        ],
    ),
    (
        "engagements",
        &[
            "ck_engagements_engagement_type",
            "ck_engagements_estimated_complexity",
            "ck_engagements_target_applications",
            "ck_engagements_target_infrastructure_units",
        ],
    ),
    ("user_roles", &["ck_user_roles_role", "ck_role_scope"]),
    (
        "discovery_flows",
        &[
            "ck_discovery_flows_discovered_assets_count",
            "ck_discovery_flows_status",
            "ck_discovery_flows_phases",
        ],
    ),
    (
        "assessment_flows",
        &["ck_assessment_flows_status", "ck_assessment_flows_phases"],
    ),
    (
        "crewai_flow_state_extensions",
        &["ck_crewai_flow_state_extensions_status"],
    ),
    (
        "collection_flows",
        &[
            "ck_collection_flows_status",
            "ck_collection_flows_phases",
            "ck_collection_flows_automation_tier",
            "ck_collection_flows_progress_percentage",
            "ck_collection_flows_completeness_percentage",
            "ck_collection_flows_validation_errors_count",
            "ck_collection_flows_total_items_collected",
            "ck_collection_flows_items_processed",
            "ck_collection_flows_items_failed",
        ],
    ),
    (
        "assets",
        &[
            "ck_assets_asset_type",
            "ck_assets_six_r_strategy",
            "ck_assets_environment",
            "ck_assets_business_criticality",
            "ck_assets_cpu_cores",
            "ck_assets_cpu_utilization_percent",
            "ck_assets_memory_utilization_percent",
            "ck_assets_completeness_score",
            "ck_assets_confidence_score",
        ],
    ),
    (
        "asset_dependencies",
        &[
            "ck_asset_dependencies_not_self",
            "ck_asset_dependencies_direction",
            "ck_asset_dependencies_strength",
            "ck_asset_dependencies_discovered_by",
            "ck_asset_dependencies_confidence_score",
        ],
    ),
    ("platform_adapters", &["ck_platform_adapters_adapter_type"]),
    (
        "platform_credentials",
        &["ck_platform_credentials_credential_type"],
    ),
    (
        "agent_task_history",
        &[
            "ck_agent_task_history_tokens_used",
            "ck_agent_task_history_api_calls_made",
            "ck_agent_task_history_master_flow_requires_client",
        ],
    ),
    (
        "agent_performance_daily",
        &[
            "ck_agent_performance_daily_total_tasks",
            "ck_agent_performance_daily_successful_tasks",
            "ck_agent_performance_daily_failed_tasks",
            "ck_agent_performance_daily_total_tokens_used",
            "ck_agent_performance_daily_total_api_calls",
        ],
    ),
    (
        "llm_usage_log",
        &[
            "ck_llm_usage_log_prompt_tokens",
            "ck_llm_usage_log_completion_tokens",
            "ck_llm_usage_log_total_tokens",
            "ck_llm_usage_log_engagement_requires_client",
        ],
    ),
    (
        "agent_learning_patterns",
        &[
            "ck_agent_learning_patterns_insight_type",
            "ck_agent_learning_patterns_confidence_score",
            "ck_agent_learning_patterns_applied_count",
        ],
    ),
    (
        "security_audit_logs",
        &[
            "ck_security_audit_logs_event_category",
            "ck_security_audit_logs_severity",
            "ck_security_audit_logs_result",
        ],
    ),
];

/// Enumeration CHECKs: (table, column, constraint, accepted values).
const ENUMS: &[(&str, &str, &str, &[&str])] = &[
    (
        "assets",
        "asset_type",
        "ck_assets_asset_type",
        &[
            "server",
            "application",
            "database",
            "service",
            "network",
            "storage",
        ],
    ),
    (
        "assets",
        "six_r_strategy",
        "ck_assets_six_r_strategy",
        &[
            "rehost",
            "replatform",
            "refactor",
            "repurchase",
            "retire",
            "retain",
        ],
    ),
    (
        "assets",
        "environment",
        "ck_assets_environment",
        &["production", "staging", "development", "test", "dr"],
    ),
    (
        "assets",
        "business_criticality",
        "ck_assets_business_criticality",
        &["critical", "high", "medium", "low"],
    ),
    (
        "agent_learning_patterns",
        "insight_type",
        "ck_agent_learning_patterns_insight_type",
        &[
            "field_mapping_suggestion",
            "risk_pattern",
            "optimization_opportunity",
            "anomaly_detection",
            "workflow_improvement",
        ],
    ),
    (
        "engagements",
        "engagement_type",
        "ck_engagements_engagement_type",
        &["assessment", "migration", "modernization"],
    ),
    (
        "engagements",
        "estimated_complexity",
        "ck_engagements_estimated_complexity",
        &["low", "medium", "high", "very_high"],
    ),
    (
        "asset_dependencies",
        "direction",
        "ck_asset_dependencies_direction",
        &["inbound", "outbound", "bidirectional"],
    ),
    (
        "asset_dependencies",
        "strength",
        "ck_asset_dependencies_strength",
        &["weak", "strong", "critical"],
    ),
    (
        "asset_dependencies",
        "discovered_by",
        "ck_asset_dependencies_discovered_by",
        &["agent", "manual", "import"],
    ),
    (
        "security_audit_logs",
        "severity",
        "ck_security_audit_logs_severity",
        &["INFO", "WARNING", "ERROR", "CRITICAL"],
    ),
    (
        "security_audit_logs",
        "event_category",
        "ck_security_audit_logs_event_category",
        &["auth", "access", "data", "config"],
    ),
    (
        "security_audit_logs",
        "result",
        "ck_security_audit_logs_result",
        &["success", "failure", "error"],
    ),
    (
        "user_roles",
        "role",
        "ck_user_roles_role",
        &["admin", "analyst", "viewer"],
    ),
    (
        "collection_flows",
        "automation_tier",
        "ck_collection_flows_automation_tier",
        &["tier_1", "tier_2", "tier_3", "tier_4"],
    ),
    (
        "platform_adapters",
        "adapter_type",
        "ck_platform_adapters_adapter_type",
        &["discovery", "assessment", "migration", "collection"],
    ),
    (
        "platform_credentials",
        "credential_type",
        "ck_platform_credentials_credential_type",
        &["api_key", "oauth2", "basic_auth"],
    ),
];

/// An index: (name, table, access method, columns, operator classes; empty = not checked).
type Index = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

const INDEXES: &[Index] = &[
    // Declared inline in schema-design.md.
    (
        "ix_assets_master_flow_id",
        "assets",
        "btree",
        &["master_flow_id"],
        &[],
    ),
    (
        "ix_assets_asset_type",
        "assets",
        "btree",
        &["asset_type"],
        &[],
    ),
    (
        "ix_assets_environment",
        "assets",
        "btree",
        &["environment"],
        &[],
    ),
    (
        "ix_assets_six_r_strategy",
        "assets",
        "btree",
        &["six_r_strategy"],
        &[],
    ),
    (
        "ix_agent_task_history_flow_id",
        "agent_task_history",
        "btree",
        &["flow_id"],
        &[],
    ),
    (
        "ix_agent_task_history_agent_name",
        "agent_task_history",
        "btree",
        &["agent_name"],
        &[],
    ),
    (
        "ix_agent_task_history_status",
        "agent_task_history",
        "btree",
        &["status"],
        &[],
    ),
    (
        "ix_llm_usage_log_provider_model",
        "llm_usage_log",
        "btree",
        &["provider", "model"],
        &[],
    ),
    (
        "ix_llm_usage_log_created_at",
        "llm_usage_log",
        "btree",
        &["created_at"],
        &[],
    ),
    (
        "ix_security_audit_logs_event_type",
        "security_audit_logs",
        "btree",
        &["event_type"],
        &[],
    ),
    (
        "ix_security_audit_logs_actor_user_id",
        "security_audit_logs",
        "btree",
        &["actor_user_id"],
        &[],
    ),
    (
        "ix_security_audit_logs_created_at",
        "security_audit_logs",
        "btree",
        &["created_at"],
        &[],
    ),
    // Vector (HNSW, cosine distance).
    (
        "ix_assets_embedding",
        "assets",
        "hnsw",
        &["embedding"],
        &["vector_cosine_ops"],
    ),
    (
        "ix_agent_learning_patterns_embedding",
        "agent_learning_patterns",
        "hnsw",
        &["embedding"],
        &["vector_cosine_ops"],
    ),
    // JSONB (GIN).
    (
        "ix_assets_technology_stack",
        "assets",
        "gin",
        &["technology_stack"],
        &["jsonb_ops"],
    ),
    (
        "ix_crewai_flow_state_extensions_child_flows",
        "crewai_flow_state_extensions",
        "gin",
        &["child_flows"],
        &["jsonb_ops"],
    ),
    (
        "ix_agent_learning_patterns_raw_evidence",
        "agent_learning_patterns",
        "gin",
        &["raw_evidence"],
        &["jsonb_path_ops"],
    ),
    (
        "ix_security_audit_logs_details",
        "security_audit_logs",
        "gin",
        &["details"],
        &["jsonb_path_ops"],
    ),
];

/// PostgreSQL truncates identifiers to 63 bytes (all names here are ASCII).
fn pg_ident(name: String) -> String {
    name.chars().take(63).collect()
}

/// SQLSTATE and constraint name of a failed statement.
fn db_error<T: std::fmt::Debug>(result: Result<T, sqlx::Error>) -> (String, Option<String>) {
    match result {
        Err(sqlx::Error::Database(e)) => (
            e.code().map(|c| c.into_owned()).unwrap_or_default(),
            e.constraint().map(str::to_owned),
        ),
        other => panic!("expected a database error, got {other:?}"),
    }
}

fn expected_columns() -> BTreeMap<(&'static str, &'static str), Col> {
    let mut expected = BTreeMap::new();
    for (table, cols) in DESIGN {
        for c in *cols {
            assert!(
                expected.insert((*table, c.name), *c).is_none(),
                "{table}.{} listed twice",
                c.name
            );
        }
    }
    for (table, c) in CHANGED {
        assert!(
            expected.insert((*table, c.name), *c).is_some(),
            "deviation of an undocumented column {table}.{}",
            c.name
        );
    }
    for (table, c) in ADDED {
        assert!(
            expected.insert((*table, c.name), *c).is_none(),
            "added column {table}.{} is in the design",
            c.name
        );
    }
    expected
}

type ActualColumn = (String, String, String, bool, Option<String>);

async fn actual_columns(pool: &PgPool) -> Vec<ActualColumn> {
    sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                a.attnotnull, pg_get_expr(d.adbin, d.adrelid) \
         FROM pg_attribute AS a \
         JOIN pg_class AS c ON c.oid = a.attrelid \
         LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE c.relnamespace = 'migration'::regnamespace AND c.relkind IN ('r', 'p') \
           AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY 1, a.attnum",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn every_documented_column_exists_with_its_type_nullability_and_default() {
    let db = TestDb::new().await;
    let expected = expected_columns();
    let actual = actual_columns(&db.owner).await;

    let catalogue_tables: BTreeSet<String> = expected.keys().map(|(t, _)| t.to_string()).collect();
    let documented = documented_tables();
    let actual_tables: BTreeSet<String> = actual.iter().map(|c| c.0.clone()).collect();
    assert_eq!(DESIGN.len(), 18, "the design document has 18 tables");
    assert!(
        catalogue_tables.is_subset(&documented),
        "docs/schema.md lists every design table: missing {:?}",
        catalogue_tables.difference(&documented).collect::<Vec<_>>()
    );
    assert_eq!(
        actual_tables, documented,
        "tables in schema migration vs the table list of docs/schema.md"
    );
    let actual: Vec<ActualColumn> = actual.into_iter().filter(|c| catalogued(&c.0)).collect();

    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (table, column, ty, not_null, default) in &actual {
        let Some(want) = expected.get(&(table.as_str(), column.as_str())) else {
            problems.push(format!(
                "{table}.{column}: not documented (neither design nor deviation)"
            ));
            continue;
        };
        seen.insert((table.as_str(), column.as_str()));
        if ty != want.ty {
            problems.push(format!(
                "{table}.{column}: type {ty}, documented {}",
                want.ty
            ));
        }
        if *not_null != want.not_null {
            problems.push(format!(
                "{table}.{column}: NOT NULL is {not_null}, documented {}",
                want.not_null
            ));
        }
        let default_ok = match (want.default, default.as_deref()) {
            (Def::None, None) => true,
            (Def::Now, Some("now()")) => true,
            (Def::GenRandomUuid, Some("gen_random_uuid()")) => true,
            (Def::Lit(value), Some(expr)) => {
                // Compare by value in the column's type: JSON semantically, '1.0' = 1, ...
                let (equal,): (Option<bool>,) = sqlx::query_as(&format!(
                    "SELECT ({expr})::{ty} = ($1::text)::{ty}",
                    ty = want.ty
                ))
                .bind(value)
                .fetch_one(&db.owner)
                .await
                .unwrap();
                equal == Some(true)
            }
            _ => false,
        };
        if !default_ok {
            problems.push(format!(
                "{table}.{column}: default {default:?}, documented {:?}",
                want.default
            ));
        }
    }
    for key in expected.keys() {
        if !seen.contains(key) {
            problems.push(format!("{}.{}: missing", key.0, key.1));
        }
    }
    assert!(
        problems.is_empty(),
        "schema differs from the documentation:\n{}",
        problems.join("\n")
    );
}

#[tokio::test]
async fn primary_keys_are_as_documented() {
    let db = TestDb::new().await;
    let rows: Vec<(String, String, Vec<String>)> = sqlx::query_as(
        "SELECT t.relname::text, con.conname::text, \
                ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(n, o) \
                      JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = k.n \
                      ORDER BY k.o) \
         FROM pg_constraint AS con JOIN pg_class AS t ON t.oid = con.conrelid \
         WHERE con.contype = 'p' AND con.connamespace = 'migration'::regnamespace \
         ORDER BY 1",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    let actual: BTreeMap<String, (String, Vec<String>)> = rows
        .into_iter()
        .filter(|(t, _, _)| catalogued(t))
        .map(|(t, n, c)| (t, (n, c)))
        .collect();
    let mut expected = BTreeMap::new();
    for (table, _) in DESIGN {
        let cols: &[&str] = match *table {
            "user_profiles" => &["user_id"],
            "crewai_flow_state_extensions" => &["flow_id"],
            // Partitioning: the partition key is part of the primary key (documented deviation).
            "agent_task_history" | "llm_usage_log" | "security_audit_logs" => &["id", "created_at"],
            _ => &["id"],
        };
        expected.insert(table.to_string(), (format!("{table}_pkey"), cols));
    }
    expected.insert(
        "agent_task_history_task_ids".into(),
        ("agent_task_history_task_ids_pkey".into(), &["task_id"]),
    );
    let expected: BTreeMap<String, (String, Vec<String>)> = expected
        .into_iter()
        .map(|(t, (n, c))| (t, (n, c.iter().map(|s| s.to_string()).collect())))
        .collect();
    assert_eq!(actual, expected);
}

#[tokio::test]
async fn foreign_keys_are_exactly_the_documented_ones_with_their_delete_actions() {
    let db = TestDb::new().await;
    type Row = (
        String,
        String,
        String,
        String,
        Vec<String>,
        Vec<String>,
        Vec<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT con.conname::text, t.relname::text, r.relname::text, con.confdeltype::text, \
                ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(n, o) \
                      JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = k.n \
                      ORDER BY k.o), \
                ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(n, o) \
                      JOIN pg_attribute AS a ON a.attrelid = con.confrelid AND a.attnum = k.n \
                      ORDER BY k.o), \
                ARRAY(SELECT a.attname::text \
                      FROM unnest(con.confdelsetcols) WITH ORDINALITY AS k(n, o) \
                      JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = k.n \
                      ORDER BY k.o) \
         FROM pg_constraint AS con \
         JOIN pg_class AS t ON t.oid = con.conrelid \
         JOIN pg_class AS r ON r.oid = con.confrelid \
         WHERE con.contype = 'f' AND con.connamespace = 'migration'::regnamespace \
           AND con.conparentid = 0",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    let actual: BTreeMap<String, Row> = rows
        .into_iter()
        .filter(|r| catalogued(&r.1))
        .map(|r| (r.0.clone(), r))
        .collect();

    let mut problems = Vec::new();
    let mut expected_names = BTreeSet::new();
    for fk in FKS {
        // fk_<table>_<first column>_<referenced table>, truncated like PostgreSQL does.
        let name = pg_ident(format!("fk_{}_{}_{}", fk.table, fk.cols[0], fk.ref_table));
        expected_names.insert(name.clone());
        let Some((_, table, ref_table, del, cols, ref_cols, set_null)) = actual.get(&name) else {
            problems.push(format!("{name}: missing"));
            continue;
        };
        let got = (
            table.as_str(),
            ref_table.as_str(),
            del.as_str(),
            cols.clone(),
            ref_cols.clone(),
            set_null.clone(),
        );
        let want = (
            fk.table,
            fk.ref_table,
            fk.on_delete.to_string(),
            fk.cols.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            fk.ref_cols
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
            fk.set_null_cols
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        );
        if got.0 != want.0
            || got.1 != want.1
            || got.2 != want.2
            || got.3 != want.3
            || got.4 != want.4
            || got.5 != want.5
        {
            problems.push(format!("{name}: is {got:?}, documented {want:?}"));
        }
    }
    for name in actual.keys() {
        if !expected_names.contains(name) {
            problems.push(format!("{name}: undocumented foreign key"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn every_foreign_key_column_is_indexed() {
    let db = TestDb::new().await;
    let unindexed: Vec<(String,)> = sqlx::query_as(
        "SELECT con.conname::text FROM pg_constraint AS con \
         WHERE con.contype = 'f' AND con.connamespace = 'migration'::regnamespace \
           AND con.conparentid = 0 \
           AND NOT EXISTS (SELECT 1 FROM pg_index AS i \
                           WHERE i.indrelid = con.conrelid AND i.indkey[0] = con.conkey[1])",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert!(
        unindexed.is_empty(),
        "foreign keys whose leading column leads no index: {unindexed:?}"
    );
}

#[tokio::test]
async fn unique_and_check_constraints_are_exactly_the_documented_ones() {
    let db = TestDb::new().await;
    let uniques: Vec<(String, String, Vec<String>, bool)> = sqlx::query_as(
        "SELECT t.relname::text, con.conname::text, \
                ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(n, o) \
                      JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = k.n \
                      ORDER BY k.o), \
                i.indnullsnotdistinct \
         FROM pg_constraint AS con JOIN pg_class AS t ON t.oid = con.conrelid \
         JOIN pg_index AS i ON i.indexrelid = con.conindid \
         WHERE con.contype = 'u' AND con.connamespace = 'migration'::regnamespace \
         ORDER BY 1, 2",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    let uniques: Vec<_> = uniques.into_iter().filter(|u| catalogued(&u.0)).collect();
    let actual: BTreeSet<(String, String, Vec<String>)> = uniques
        .iter()
        .map(|(t, n, c, _)| (t.clone(), n.clone(), c.clone()))
        .collect();
    let expected: BTreeSet<(String, String, Vec<String>)> = UNIQUES
        .iter()
        .map(|(t, n, c)| {
            (
                t.to_string(),
                n.to_string(),
                c.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(actual, expected, "unique constraints");
    // Documented deviation: one row per (date, agent, flow type) even when flow_type is NULL.
    let nulls_not_distinct: Vec<&str> = uniques
        .iter()
        .filter(|u| u.3)
        .map(|u| u.1.as_str())
        .collect();
    assert_eq!(
        nulls_not_distinct,
        ["uq_agent_performance_daily_date_agent_name_flow_type"]
    );

    let checks: Vec<(String, String)> = sqlx::query_as(
        "SELECT t.relname::text, con.conname::text \
         FROM pg_constraint AS con JOIN pg_class AS t ON t.oid = con.conrelid \
         WHERE con.contype = 'c' AND con.connamespace = 'migration'::regnamespace",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    let actual: BTreeSet<(String, String)> =
        checks.into_iter().filter(|(t, _)| catalogued(t)).collect();
    let expected: BTreeSet<(String, String)> = CHECKS
        .iter()
        .flat_map(|(t, names)| names.iter().map(|n| (t.to_string(), n.to_string())))
        .collect();
    let missing: Vec<_> = expected.difference(&actual).collect();
    let undocumented: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && undocumented.is_empty(),
        "CHECK constraints missing: {missing:?}; undocumented: {undocumented:?}"
    );
}

#[tokio::test]
async fn documented_indexes_exist_with_their_access_method() {
    let db = TestDb::new().await;
    type Row = (String, String, String, Vec<String>, Vec<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT ic.relname::text, t.relname::text, am.amname::text, \
                ARRAY(SELECT a.attname::text \
                      FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(n, o) \
                      JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.n \
                      ORDER BY k.o), \
                ARRAY(SELECT opc.opcname::text \
                      FROM unnest(i.indclass::oid[]) WITH ORDINALITY AS k(c, o) \
                      JOIN pg_opclass AS opc ON opc.oid = k.c \
                      ORDER BY k.o) \
         FROM pg_index AS i \
         JOIN pg_class AS ic ON ic.oid = i.indexrelid \
         JOIN pg_class AS t ON t.oid = i.indrelid \
         JOIN pg_am AS am ON am.oid = ic.relam \
         WHERE t.relnamespace = 'migration'::regnamespace",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    let actual: BTreeMap<&str, _> = rows.iter().map(|r| (r.0.as_str(), r)).collect();
    let mut problems = Vec::new();
    for (name, table, method, cols, opclasses) in INDEXES {
        let Some((_, t, am, c, ops)) = actual.get(name) else {
            problems.push(format!("{name}: missing"));
            continue;
        };
        if t != table || am != method || c != cols {
            problems.push(format!(
                "{name}: on {t} using {am} {c:?}, documented on {table} using {method} {cols:?}"
            ));
        }
        if !opclasses.is_empty() && ops != opclasses {
            problems.push(format!(
                "{name}: operator classes {ops:?}, documented {opclasses:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn constraint_index_and_trigger_names_follow_the_conventions() {
    let db = TestDb::new().await;
    let constraints: Vec<(String, String, String, Vec<String>)> = sqlx::query_as(
        "SELECT con.conname::text, con.contype::text, t.relname::text, \
                ARRAY(SELECT a.attname::text FROM unnest(con.conkey) AS k(n) \
                      JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = k.n) \
         FROM pg_constraint AS con JOIN pg_class AS t ON t.oid = con.conrelid \
         WHERE con.connamespace = 'migration'::regnamespace",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert!(
        constraints.len() > 100,
        "found {} constraints",
        constraints.len()
    );
    let mut bad = Vec::new();
    for (name, kind, table, cols) in &constraints {
        let ok = match kind.as_str() {
            "p" => *name == format!("{table}_pkey"),
            "f" => name.starts_with(&format!("fk_{table}_")),
            "u" => name.starts_with(&format!("uq_{table}_")),
            "c" => name.starts_with(&format!("ck_{table}_")) || name == "ck_role_scope",
            // PostgreSQL 18 records NOT NULL as constraints named <table>_<column>_not_null.
            "n" => *name == pg_ident(format!("{table}_{}_not_null", cols[0])),
            _ => false,
        };
        if !ok {
            bad.push(format!("{kind} {name} on {table}"));
        }
    }

    let indexes: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT ic.relname::text, t.relname::text, con.conname::text \
         FROM pg_index AS i \
         JOIN pg_class AS ic ON ic.oid = i.indexrelid \
         JOIN pg_class AS t ON t.oid = i.indrelid \
         LEFT JOIN pg_constraint AS con ON con.conindid = i.indexrelid AND con.conrelid = t.oid \
              AND con.contype IN ('p', 'u') \
         WHERE t.relnamespace = 'migration'::regnamespace",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    for (index, table, constraint) in &indexes {
        let ok = match constraint {
            Some(constraint) => index == constraint,
            None => index.starts_with(&format!("ix_{table}_")),
        };
        if !ok {
            bad.push(format!("index {index} on {table}"));
        }
    }

    let triggers: Vec<(String, String)> = sqlx::query_as(
        "SELECT tg.tgname::text, t.relname::text FROM pg_trigger AS tg \
         JOIN pg_class AS t ON t.oid = tg.tgrelid \
         WHERE t.relnamespace = 'migration'::regnamespace AND NOT tg.tgisinternal",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    for (trigger, table) in &triggers {
        if !trigger.starts_with(&format!("tr_{table}_")) {
            bad.push(format!("trigger {trigger} on {table}"));
        }
    }
    assert!(bad.is_empty(), "names off convention:\n{}", bad.join("\n"));
}

/// One row in every table (as owner), enough to exercise triggers and CHECKs.
#[derive(Debug)]
struct Seed {
    client: Uuid,
    user: Uuid,
    engagement: Uuid,
    master_flow: Uuid,
    discovery_flow: Uuid,
    assessment_flow: Uuid,
    collection_flow: Uuid,
    asset: Uuid,
    asset2: Uuid,
    dependency: Uuid,
    adapter: Uuid,
    credential: Uuid,
    role: Uuid,
    pattern: Uuid,
    audit: Uuid,
}

async fn seed(pool: &PgPool) -> Seed {
    let s = Seed {
        client: Uuid::new_v4(),
        user: Uuid::new_v4(),
        engagement: Uuid::new_v4(),
        master_flow: Uuid::new_v4(),
        discovery_flow: Uuid::new_v4(),
        assessment_flow: Uuid::new_v4(),
        collection_flow: Uuid::new_v4(),
        asset: Uuid::new_v4(),
        asset2: Uuid::new_v4(),
        dependency: Uuid::new_v4(),
        adapter: Uuid::new_v4(),
        credential: Uuid::new_v4(),
        role: Uuid::new_v4(),
        pattern: Uuid::new_v4(),
        audit: Uuid::new_v4(),
    };
    let statements: &[&str] = &[
        "INSERT INTO migration.client_accounts (id, name, slug) VALUES ($1, 'Client', $1::text)",
        "INSERT INTO migration.users (id, auth0_user_id, email) \
         VALUES ($2, $2::text, $2::text || '@example.com')",
        "INSERT INTO migration.user_profiles (user_id) VALUES ($2)",
        "INSERT INTO migration.engagements (id, client_account_id, name) VALUES ($3, $1, 'E')",
        "INSERT INTO migration.user_roles (id, user_id, role, client_account_id) \
         VALUES ($13, $2, 'analyst', $1)",
        "INSERT INTO migration.crewai_flow_state_extensions \
            (flow_id, flow_type, client_account_id, engagement_id) \
         VALUES ($4, 'discovery', $1, $3)",
        "INSERT INTO migration.discovery_flows \
            (id, flow_id, master_flow_id, client_account_id, engagement_id, user_id) \
         VALUES ($5, gen_random_uuid(), $4, $1, $3, $2)",
        "INSERT INTO migration.assessment_flows \
            (id, flow_id, master_flow_id, client_account_id, engagement_id, discovery_flow_id) \
         VALUES ($6, gen_random_uuid(), $4, $1, $3, $5)",
        "INSERT INTO migration.collection_flows \
            (id, flow_id, master_flow_id, client_account_id, engagement_id, discovery_flow_id) \
         VALUES ($7, gen_random_uuid(), $4, $1, $3, $5)",
        "INSERT INTO migration.assets \
            (id, master_flow_id, client_account_id, engagement_id, asset_name) \
         VALUES ($8, $4, $1, $3, 'a1'), ($9, $4, $1, $3, 'a2')",
        "INSERT INTO migration.asset_dependencies \
            (id, client_account_id, source_asset_id, target_asset_id, dependency_type) \
         VALUES ($10, $1, $8, $9, 'runtime')",
        "INSERT INTO migration.platform_adapters (id, adapter_name, adapter_type, version) \
         VALUES ($11, 'servicenow', 'discovery', '1.0')",
        "INSERT INTO migration.platform_credentials \
            (id, client_account_id, platform_adapter_id, credential_name, encrypted_credentials) \
         VALUES ($12, $1, $11, 'main', '\\x00'::bytea)",
        "INSERT INTO migration.agent_learning_patterns \
            (id, client_account_id, engagement_id, insight_type, embedding, raw_evidence) \
         VALUES ($14, $1, $3, 'risk_pattern', array_fill(0.5::real, ARRAY[1536])::vector, '{}')",
        "INSERT INTO migration.security_audit_logs \
            (id, client_account_id, event_type, event_category, actor_user_id, action, result) \
         VALUES ($15, $1, 'login', 'auth', $2::text, 'login', 'success')",
    ];
    for sql in statements {
        sqlx::query(sql)
            .bind(s.client)
            .bind(s.user)
            .bind(s.engagement)
            .bind(s.master_flow)
            .bind(s.discovery_flow)
            .bind(s.assessment_flow)
            .bind(s.collection_flow)
            .bind(s.asset)
            .bind(s.asset2)
            .bind(s.dependency)
            .bind(s.adapter)
            .bind(s.credential)
            .bind(s.role)
            .bind(s.pattern)
            .bind(s.audit)
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    s
}

impl Seed {
    /// Key column and key of the seeded row of `table`.
    fn row(&self, table: &str) -> (&'static str, Uuid) {
        match table {
            "client_accounts" => ("id", self.client),
            "users" => ("id", self.user),
            "user_profiles" => ("user_id", self.user),
            "engagements" => ("id", self.engagement),
            "user_roles" => ("id", self.role),
            "crewai_flow_state_extensions" => ("flow_id", self.master_flow),
            "discovery_flows" => ("id", self.discovery_flow),
            "assessment_flows" => ("id", self.assessment_flow),
            "collection_flows" => ("id", self.collection_flow),
            "assets" => ("id", self.asset),
            "asset_dependencies" => ("id", self.dependency),
            "platform_adapters" => ("id", self.adapter),
            "platform_credentials" => ("id", self.credential),
            "agent_learning_patterns" => ("id", self.pattern),
            "security_audit_logs" => ("id", self.audit),
            other => panic!("no seeded row for {other}"),
        }
    }
}

#[tokio::test]
async fn updated_at_triggers_exist_and_bump_updated_at_on_update() {
    let db = TestDb::new().await;

    let with_column: Vec<(String,)> = sqlx::query_as(
        "SELECT c.relname::text FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid \
         WHERE c.relnamespace = 'migration'::regnamespace AND c.relkind IN ('r', 'p') \
           AND a.attname = 'updated_at' AND NOT a.attisdropped ORDER BY 1",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    let with_column: Vec<&str> = with_column.iter().map(|r| r.0.as_str()).collect();
    let catalogued_with_column: BTreeSet<&str> = with_column
        .iter()
        .copied()
        .filter(|t| catalogued(t))
        .collect();
    assert_eq!(
        catalogued_with_column,
        UPDATED_AT_TABLES.iter().copied().collect(),
        "design tables with updated_at"
    );

    // Every table with the column (also later ones) has the trigger.
    for table in &with_column {
        // BEFORE (2) | ROW (1) | UPDATE (16), enabled, calling migration.set_updated_at().
        let trigger: Option<(i16, String)> = sqlx::query_as(
            "SELECT tg.tgtype, tg.tgenabled::text FROM pg_trigger AS tg \
             WHERE tg.tgrelid = ('migration.' || $1)::regclass AND tg.tgname = $2 \
               AND tg.tgfoid = 'migration.set_updated_at()'::regprocedure",
        )
        .bind(*table)
        .bind(format!("tr_{table}_updated_at"))
        .fetch_optional(&db.owner)
        .await
        .unwrap();
        let (tgtype, enabled) =
            trigger.unwrap_or_else(|| panic!("tr_{table}_updated_at missing on {table}"));
        assert_eq!(
            tgtype & (1 | 2 | 4 | 8 | 16 | 32),
            1 | 2 | 16,
            "{table}: BEFORE UPDATE FOR EACH ROW only"
        );
        assert_eq!(enabled, "O", "{table}: trigger enabled");
    }

    let s = seed(&db.owner).await;
    for table in UPDATED_AT_TABLES {
        let (key, id) = s.row(table);
        let (before,): (Option<Ts>,) = sqlx::query_as(&format!(
            "SELECT updated_at FROM migration.{table} WHERE {key} = $1"
        ))
        .bind(id)
        .fetch_one(&db.owner)
        .await
        .unwrap();
        assert_eq!(
            before, None,
            "{table}: updated_at stays NULL until the first update"
        );

        // An update that does not mention updated_at sets it to the transaction time.
        let (first, now): (Option<Ts>, Ts) = sqlx::query_as(&format!(
            "UPDATE migration.{table} SET {key} = {key} WHERE {key} = $1 RETURNING updated_at, now()"
        ))
        .bind(id)
        .fetch_one(&db.owner)
        .await
        .unwrap();
        assert_eq!(first, Some(now), "{table}: first update sets updated_at");

        // A later update bumps it again, even when the statement tries to set an old value.
        let (second, now): (Option<Ts>, Ts) = sqlx::query_as(&format!(
            "UPDATE migration.{table} SET updated_at = '2000-01-01 00:00:00+00' WHERE {key} = $1 \
             RETURNING updated_at, now()"
        ))
        .bind(id)
        .fetch_one(&db.owner)
        .await
        .unwrap();
        assert_eq!(
            second,
            Some(now),
            "{table}: updated_at is maintained by the trigger"
        );
        assert!(second > first, "{table}: updated_at moves forward");
    }
}

#[tokio::test]
async fn role_scope_requires_a_scope_except_for_global_admins() {
    let db = TestDb::new().await;
    let s = seed(&db.owner).await;
    let insert = |role: &'static str, client: Option<Uuid>, engagement: Option<Uuid>| {
        sqlx::query(
            "INSERT INTO migration.user_roles (user_id, role, client_account_id, engagement_id) \
             VALUES ($1, $2, $3, $4) RETURNING client_account_id",
        )
        .bind(s.user)
        .bind(role)
        .bind(client)
        .bind(engagement)
        .fetch_one(&db.owner)
    };

    for role in ["viewer", "analyst"] {
        let (code, constraint) = db_error(insert(role, None, None).await);
        assert_eq!(code, "23514", "{role} without scope is a check violation");
        assert_eq!(constraint.as_deref(), Some("ck_role_scope"));
    }
    // A global role must be admin; admin is accepted.
    insert("admin", None, None)
        .await
        .expect("global admin role is accepted");
    insert("viewer", Some(s.client), None)
        .await
        .expect("client-scoped viewer is accepted");
    // Engagement scope: the client is filled in from the engagement.
    let row = insert("viewer", None, Some(s.engagement))
        .await
        .expect("engagement-scoped viewer is accepted");
    let client: Option<Uuid> = sqlx::Row::get(&row, 0);
    assert_eq!(client, Some(s.client));
    let (code, constraint) = db_error(insert("superuser", Some(s.client), None).await);
    assert_eq!(code, "23514");
    assert_eq!(constraint.as_deref(), Some("ck_user_roles_role"));
}

#[tokio::test]
async fn enumeration_checks_accept_documented_values_and_reject_others() {
    let db = TestDb::new().await;
    let s = seed(&db.owner).await;
    for (table, column, constraint, values) in ENUMS {
        let (key, id) = s.row(table);
        let update = if *table == "security_audit_logs" {
            // Append-only (0010): checked on insert of a row like the seeded one.
            let value = |c: &str, default: &str| {
                if c == *column {
                    "$1::text".to_owned()
                } else {
                    format!("'{default}'")
                }
            };
            format!(
                "INSERT INTO migration.security_audit_logs \
                    (client_account_id, event_type, actor_user_id, action, \
                     event_category, severity, result) \
                 SELECT client_account_id, event_type, actor_user_id, action, {}, {}, {} \
                 FROM migration.security_audit_logs WHERE {key} = $2",
                value("event_category", "auth"),
                value("severity", "INFO"),
                value("result", "success"),
            )
        } else {
            format!("UPDATE migration.{table} SET {column} = $1 WHERE {key} = $2")
        };
        for value in *values {
            let done = sqlx::query(&update)
                .bind(value)
                .bind(id)
                .execute(&db.owner)
                .await
                .unwrap_or_else(|e| panic!("{table}.{column} = {value} rejected: {e}"));
            assert_eq!(done.rows_affected(), 1);
        }
        for bad in ["mainframe", "", "SERVER"] {
            let (code, name) = db_error(
                sqlx::query(&update)
                    .bind(bad)
                    .bind(id)
                    .execute(&db.owner)
                    .await,
            );
            assert_eq!(code, "23514", "{table}.{column} = {bad:?} must be rejected");
            assert_eq!(name.as_deref(), Some(*constraint));
        }
    }
    // The design document's example, literally: an asset of type 'mainframe'.
    let (code, name) = db_error(
        sqlx::query(
            "INSERT INTO migration.assets (client_account_id, engagement_id, asset_name, asset_type) \
             VALUES ($1, $2, 'host', 'mainframe')",
        )
        .bind(s.client)
        .bind(s.engagement)
        .execute(&db.owner)
        .await,
    );
    assert_eq!(
        (code.as_str(), name.as_deref()),
        ("23514", Some("ck_assets_asset_type"))
    );
}

#[tokio::test]
async fn composite_set_null_keeps_the_tenant_and_cascade_removes_child_flows() {
    let db = TestDb::new().await;
    let s = seed(&db.owner).await;
    let task = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO migration.agent_task_history (id, task_id, master_flow_id, client_account_id, agent_name) \
         VALUES ($1, $1::text, $2, $3, 'agent')",
    )
    .bind(task)
    .bind(s.master_flow)
    .bind(s.client)
    .execute(&db.owner)
    .await
    .unwrap();
    sqlx::query("UPDATE migration.agent_learning_patterns SET master_flow_id = $1 WHERE id = $2")
        .bind(s.master_flow)
        .bind(s.pattern)
        .execute(&db.owner)
        .await
        .unwrap();

    // Deleting the master flow: child flows go with it, the others only lose the reference.
    sqlx::query("DELETE FROM migration.crewai_flow_state_extensions WHERE flow_id = $1")
        .bind(s.master_flow)
        .execute(&db.owner)
        .await
        .expect("master flow can be deleted");
    for table in ["discovery_flows", "assessment_flows", "collection_flows"] {
        let (n,): (i64,) = sqlx::query_as(&format!(
            "SELECT count(*) FROM migration.{table} WHERE master_flow_id = $1"
        ))
        .bind(s.master_flow)
        .fetch_one(&db.owner)
        .await
        .unwrap();
        assert_eq!(n, 0, "{table}: child flows are deleted with their master");
    }
    for (table, key, id) in [
        ("assets", "id", s.asset),
        ("agent_learning_patterns", "id", s.pattern),
        ("agent_task_history", "id", task),
    ] {
        let (master, client): (Option<Uuid>, Option<Uuid>) = sqlx::query_as(&format!(
            "SELECT master_flow_id, client_account_id FROM migration.{table} WHERE {key} = $1"
        ))
        .bind(id)
        .fetch_one(&db.owner)
        .await
        .unwrap();
        assert_eq!(master, None, "{table}: master_flow_id set to NULL");
        assert_eq!(client, Some(s.client), "{table}: client_account_id kept");
    }

    // An engagement referenced only by a pattern: the pattern loses the engagement, not the tenant.
    let engagement = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO migration.engagements (id, client_account_id, name) VALUES ($1, $2, 'E2')",
    )
    .bind(engagement)
    .bind(s.client)
    .execute(&db.owner)
    .await
    .unwrap();
    sqlx::query("UPDATE migration.agent_learning_patterns SET engagement_id = $1 WHERE id = $2")
        .bind(engagement)
        .bind(s.pattern)
        .execute(&db.owner)
        .await
        .unwrap();
    sqlx::query("DELETE FROM migration.engagements WHERE id = $1")
        .bind(engagement)
        .execute(&db.owner)
        .await
        .unwrap();
    let (eng, client): (Option<Uuid>, Uuid) = sqlx::query_as(
        "SELECT engagement_id, client_account_id FROM migration.agent_learning_patterns WHERE id = $1",
    )
    .bind(s.pattern)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!((eng, client), (None, s.client));

    // A tenant root in use cannot be deleted (RESTRICT: restrict_violation).
    let (code, name) = db_error(
        sqlx::query("DELETE FROM migration.engagements WHERE id = $1")
            .bind(s.engagement)
            .execute(&db.owner)
            .await,
    );
    assert_eq!(code, "23001");
    assert!(
        name.is_some_and(|n| n.starts_with("fk_") && n.ends_with("_engagement_id_engagements"))
    );
}

#[tokio::test]
async fn a_reference_without_its_tenant_is_rejected() {
    let db = TestDb::new().await;
    let s = seed(&db.owner).await;
    // A composite foreign key is not checked when a column is NULL, hence these CHECKs.
    let (code, name) = db_error(
        sqlx::query(
            "INSERT INTO migration.llm_usage_log \
                (engagement_id, provider, model, prompt_tokens, completion_tokens, total_tokens) \
             VALUES ($1, 'openai', 'gpt', 1, 1, 2)",
        )
        .bind(s.engagement)
        .execute(&db.owner)
        .await,
    );
    assert_eq!(
        (code.as_str(), name.as_deref()),
        ("23514", Some("ck_llm_usage_log_engagement_requires_client"))
    );
    let (code, name) = db_error(
        sqlx::query(
            "INSERT INTO migration.agent_task_history (task_id, master_flow_id, agent_name) \
             VALUES ('t-1', $1, 'agent')",
        )
        .bind(s.master_flow)
        .execute(&db.owner)
        .await,
    );
    assert_eq!(
        (code.as_str(), name.as_deref()),
        (
            "23514",
            Some("ck_agent_task_history_master_flow_requires_client")
        )
    );
}
