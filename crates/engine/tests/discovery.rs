//! The discovery flow end to end with an in-process worker: an RVTools workbook imported
//! through every phase, a CSV whose column mappings need review (the flow waits at analysis,
//! the decision is approved, the same phase runs again and applies the import), a dry run,
//! and files that cannot be imported (garbled, truncated, outside the upload directory), which
//! fail the flow with the error's stable code and write no asset.

mod flow_support;

use flow_support::{World, scope, view, wait_status, world};
use modernize_domain::flow::FlowType;
use modernize_engine::discovery::{self, ImportSettings};
use modernize_engine::flows::store::{self, Actor, FlowView, NewFlow};
use modernize_engine::flows::{FlowRegistry, RunPhase};
use modernize_engine::queue::{Registry, Worker, WorkerConfig};
use modernize_testkit::TestDb;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::oneshot;
use uuid::Uuid;

const LIMIT: Duration = Duration::from_secs(180);

struct Setup {
    db: TestDb,
    w: World,
    settings: ImportSettings,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Setup {
    async fn new() -> Setup {
        let db = TestDb::new().await;
        let w = world(&db.owner, "alpha").await;
        let dir = tempfile::tempdir().unwrap();
        let settings = ImportSettings {
            upload_dir: dir.path().join("uploads"),
            ..ImportSettings::default()
        };
        let mut flows = FlowRegistry::product();
        discovery::register(&mut flows, settings.clone());
        let mut registry = Registry::new();
        registry.register(RunPhase::new(flows));
        let worker = Worker::new(
            db.app.clone(),
            registry,
            WorkerConfig {
                concurrency: 2,
                lease: Duration::from_secs(30),
                poll_interval: Duration::from_millis(100),
                shutdown_grace: Duration::from_secs(10),
            },
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            worker
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Setup {
            db,
            w,
            settings,
            _dir: dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
    }

    /// Places `content` as an upload of the client, as the API does.
    fn upload(&self, name: &str, content: &[u8]) -> PathBuf {
        let dir = self.settings.upload_dir_of(self.w.client, Uuid::new_v4());
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    async fn flow(&self, path: &Path, extra: Value) -> Uuid {
        let mut import = json!({"path": path, "file_name": path.file_name().unwrap().to_str()});
        for (k, v) in extra.as_object().unwrap() {
            import[k] = v.clone();
        }
        let mut tx = modernize_db::tenant::begin(&self.db.app, scope(self.w.client))
            .await
            .unwrap();
        let t = FlowType::Discovery;
        let id = store::create(
            &mut tx,
            &NewFlow {
                client_account_id: self.w.client,
                engagement_id: self.w.engagement,
                user_id: self.w.user,
                flow_type: t.as_str().into(),
                child: t,
                phases: t.phases().iter().map(|p| p.to_string()).collect(),
                display_name: None,
                config: json!({ "import": import }),
            },
            &Actor::user(self.w.user),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }

    async fn wait(&self, flow: Uuid, status: &str) -> FlowView {
        wait_status(&self.db.app, self.w.client, flow, status, LIMIT).await
    }

    async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .bind(self.w.engagement)
            .fetch_one(&self.db.owner)
            .await
            .unwrap();
        n
    }

    async fn assets(&self) -> i64 {
        self.count("SELECT count(*) FROM migration.assets WHERE engagement_id = $1")
            .await
    }

    async fn approve(&self, flow: Uuid) {
        let (app, client, user) = (&self.db.app, self.w.client, self.w.user);
        let mut tx = modernize_db::tenant::begin(app, scope(client))
            .await
            .unwrap();
        store::decide_approval(
            &mut tx,
            client,
            flow,
            user,
            true,
            Some("mappings look right"),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

fn sample(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new("/work/shared/samples").join(rel)).unwrap()
}

async fn agents(owner: &PgPool, flow: Uuid) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT split_part(parent_task_id, '/', 2), agent_name, status \
           FROM migration.agent_task_history WHERE master_flow_id = $1 ORDER BY created_at",
    )
    .bind(flow)
    .fetch_all(owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_rvtools_workbook_is_imported_through_every_phase() {
    let s = Setup::new().await;
    let path = s.upload(
        "example1.xlsx",
        &sample("rvtools/migration-planner__example1.xlsx"),
    );
    let flow = s.flow(&path, json!({})).await;
    // Columns of the workbook no attribute claims with confidence wait for review; approving
    // the flow approves them as proposed.
    let start = std::time::Instant::now();
    let mut reviewed = false;
    let v = loop {
        let v = view(&s.db.app, s.w.client, flow).await;
        match v.status.as_str() {
            "completed" => break v,
            "waiting_for_approval" => {
                assert_eq!(v.current_phase.as_deref(), Some("analysis"));
                assert_eq!(s.assets().await, 0, "nothing is written before the review");
                s.approve(flow).await;
                reviewed = true;
            }
            "failed" => panic!("{:?}", v.phase_history),
            _ => assert!(
                start.elapsed() < LIMIT,
                "{} at {:?}",
                v.status,
                v.current_phase
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        v.phases.iter().all(|p| p.status == "completed"),
        "{:?}",
        v.phases
    );
    let r = &v.phase_results;
    assert_eq!(r["initialization"]["file_name"], "example1.xlsx");
    assert_eq!(r["environment_scanning"]["layout"], "rvtools", "{r}");
    assert_eq!(r["environment_scanning"]["format"], "xlsx");
    assert!(r["environment_scanning"]["confidence"].as_f64().unwrap() > 0.5);
    assert_eq!(r["agent_loading"]["learned_patterns"], 0);
    let import_id: Uuid = r["data_collection"]["import_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(r["data_collection"]["rows_staged"].as_i64().unwrap() > 0);
    let created = r["analysis"]["assets_created"].as_i64().unwrap();
    assert!(created > 0, "{r}");
    assert_eq!(r["reporting"]["status"], "committed");
    assert_eq!(r["reporting"]["report"]["import_id"], import_id.to_string());
    assert_eq!(s.assets().await, created);
    let (count,): (i32,) = sqlx::query_as(
        "SELECT discovered_assets_count FROM migration.discovery_flows WHERE master_flow_id = $1",
    )
    .bind(flow)
    .fetch_one(&s.db.owner)
    .await
    .unwrap();
    assert_eq!(i64::from(count), created);
    let (session_flow,): (Option<Uuid>,) =
        sqlx::query_as("SELECT flow_id FROM migration.import_sessions WHERE id = $1")
            .bind(import_id)
            .fetch_one(&s.db.owner)
            .await
            .unwrap();
    assert_eq!(session_flow, Some(flow), "the import belongs to the flow");
    // One task per agent and phase, all completed.
    let tasks = agents(&s.db.owner, flow).await;
    for (phase, agent) in [
        ("initialization", "discovery_orchestrator"),
        ("agent_loading", "field_mapping_agent"),
        ("environment_scanning", "data_source_agent"),
        ("data_collection", "data_import_agent"),
        ("analysis", "field_mapping_agent"),
        ("analysis", "cleansing_agent"),
        ("analysis", "identity_reconciliation_agent"),
        ("analysis", "dependency_agent"),
        ("reporting", "reporting_agent"),
    ] {
        let n = tasks
            .iter()
            .filter(|t| t.0 == phase && t.1 == agent && t.2 == "completed")
            .count();
        // The mapping review runs once more after a decision.
        let expected = if phase == "analysis" && agent == "field_mapping_agent" {
            1 + usize::from(reviewed)
        } else {
            1
        };
        assert_eq!(n, expected, "{phase}/{agent}: {tasks:?}");
    }
    assert!(
        !path.exists(),
        "the upload is removed once the flow completed"
    );
    s.stop().await;
}

/// Columns a person has to look at: nothing maps them with confidence.
const REVIEW_CSV: &str = "hostname,ip_address,os,memory_gb,Zorblax Level,Quux Ref\n\
    web-1,10.1.0.1,Ubuntu 22.04,8,alpha,q1\n\
    web-2,10.1.0.2,Ubuntu 22.04,16,beta,q2\n\
    db-1,10.1.0.3,Windows Server 2022,32,gamma,q3\n";

#[tokio::test]
async fn a_csv_waits_for_its_mapping_review_and_is_applied_once_approved() {
    let s = Setup::new().await;
    let path = s.upload("servers.csv", REVIEW_CSV.as_bytes());
    let flow = s.flow(&path, json!({"threshold": 0.95})).await;
    let v = s.wait(flow, "waiting_for_approval").await;
    assert_eq!(v.current_phase.as_deref(), Some("analysis"));
    let gate = v.pending_approval.clone().unwrap();
    assert_eq!(gate.gate, "decision");
    let pending = v.phase_results["analysis"]["needs_review"]
        .as_u64()
        .unwrap();
    assert!(pending > 0, "{}", v.phase_results);
    let reason = v.waiting_reason.clone().unwrap();
    assert!(
        reason.contains("need review") && reason.contains("Zorblax Level"),
        "{reason}"
    );
    assert_eq!(s.assets().await, 0, "nothing is written before the review");
    let import_id: Uuid = v.phase_results["data_collection"]["import_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (status,): (String,) =
        sqlx::query_as("SELECT status FROM migration.import_sessions WHERE id = $1")
            .bind(import_id)
            .fetch_one(&s.db.owner)
            .await
            .unwrap();
    assert_eq!(status, "mapping_review");

    // Approving the flow's gate approves the pending mappings as proposed, as the approver.
    s.approve(flow).await;
    let v = s.wait(flow, "completed").await;
    assert_eq!(
        v.phase_results["analysis"]["assets_created"], 3,
        "{}",
        v.phase_results
    );
    assert_eq!(s.assets().await, 3);
    let undecided: Vec<(String, String, Option<Uuid>)> = sqlx::query_as(
        "SELECT source_column, status, decided_by FROM migration.import_column_mappings \
          WHERE import_session_id = $1 AND (status = 'needs_review' OR \
                (decided_by IS DISTINCT FROM $2 AND status = 'approved' AND decided_at IS NOT NULL))",
    )
    .bind(import_id)
    .bind(s.w.user)
    .fetch_all(&s.db.owner)
    .await
    .unwrap();
    assert!(undecided.is_empty(), "{undecided:?}");
    let (decided,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.import_column_mappings \
          WHERE import_session_id = $1 AND decided_by = $2",
    )
    .bind(import_id)
    .bind(s.w.user)
    .fetch_one(&s.db.owner)
    .await
    .unwrap();
    assert_eq!(
        decided as u64, pending,
        "the pending mappings, decided by the approver"
    );
    let history = v.phase_history.as_array().unwrap();
    let analysis_runs = history
        .iter()
        .filter(|e| e["kind"] == "phase" && e["phase"] == "analysis" && e["to"] == "running")
        .count();
    assert!(analysis_runs >= 2, "analysis ran again after the decision");
    s.stop().await;
}

#[tokio::test]
async fn mappings_decided_before_the_approval_are_kept_and_a_dry_run_writes_nothing() {
    let s = Setup::new().await;
    let path = s.upload("servers.csv", REVIEW_CSV.as_bytes());
    let flow = s
        .flow(&path, json!({"threshold": 0.95, "dry_run": true}))
        .await;
    let v = s.wait(flow, "waiting_for_approval").await;
    let import_id: Uuid = v.phase_results["data_collection"]["import_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // A reviewer rejects every pending mapping (as the review API would), then approves.
    sqlx::query(
        "UPDATE migration.import_column_mappings SET status = 'rejected', decided_at = now() \
          WHERE import_session_id = $1 AND status = 'needs_review'",
    )
    .bind(import_id)
    .execute(&s.db.owner)
    .await
    .unwrap();
    s.approve(flow).await;
    let v = s.wait(flow, "completed").await;
    assert_eq!(v.phase_results["reporting"]["status"], "dry_run_completed");
    assert_eq!(v.phase_results["analysis"]["dry_run"], true);
    assert_eq!(s.assets().await, 0, "a dry run writes no asset");
    let (approved_by_flow,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.import_column_mappings \
          WHERE import_session_id = $1 AND decided_by IS NOT NULL",
    )
    .bind(import_id)
    .fetch_one(&s.db.owner)
    .await
    .unwrap();
    assert_eq!(approved_by_flow, 0, "the reviewer's decisions are kept");
    s.stop().await;
}

#[tokio::test]
async fn unreadable_files_fail_the_flow_with_their_code_and_write_nothing() {
    let s = Setup::new().await;
    let garbled = s.upload(
        "garbled.xlsx",
        b"PK\x03\x04 this is no workbook \x00\x01\x02",
    );
    let bytes = sample("rvtools/migration-planner__example1.xlsx");
    let truncated = s.upload("truncated.xlsx", &bytes[..bytes.len() / 2]);
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let noise = s.upload("noise.csv", &binary);
    for (path, codes) in [
        (&garbled, &["corrupt_file", "unsupported_format"][..]),
        (&truncated, &["corrupt_file"][..]),
        (
            &noise,
            &["unsupported_format", "corrupt_file", "no_header"][..],
        ),
    ] {
        let flow = s.flow(path, json!({})).await;
        let v = s.wait(flow, "failed").await;
        let failure = v
            .phase_history
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e["kind"] == "phase" && e["to"] == "failed")
            .unwrap()
            .clone();
        let message = failure["reason"].as_str().unwrap();
        assert!(
            codes.iter().any(|c| message.starts_with(c)),
            "{}: {message}",
            path.display()
        );
        assert_eq!(failure["phase"], "environment_scanning");
        let tasks = agents(&s.db.owner, flow).await;
        assert!(
            tasks
                .iter()
                .any(|t| t.0 == "environment_scanning" && t.2 == "failed"),
            "{tasks:?}"
        );
    }
    // A path outside the client's uploads is refused before anything is read.
    let elsewhere = s._dir.path().join("elsewhere.csv");
    std::fs::write(&elsewhere, REVIEW_CSV).unwrap();
    let flow = s.flow(&elsewhere, json!({})).await;
    let v = s.wait(flow, "failed").await;
    assert_eq!(v.current_phase.as_deref(), Some("initialization"));
    // So is a config without an import.
    let mut tx = modernize_db::tenant::begin(&s.db.app, scope(s.w.client))
        .await
        .unwrap();
    let t = FlowType::Discovery;
    let bare = store::create(
        &mut tx,
        &NewFlow {
            client_account_id: s.w.client,
            engagement_id: s.w.engagement,
            user_id: s.w.user,
            flow_type: t.as_str().into(),
            child: t,
            phases: t.phases().iter().map(|p| p.to_string()).collect(),
            display_name: None,
            config: json!({}),
        },
        &Actor::user(s.w.user),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let v = s.wait(bare, "failed").await;
    let last = v.phase_history.as_array().unwrap().last().unwrap().clone();
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .starts_with("invalid_config"),
        "{last}"
    );
    assert_eq!(s.assets().await, 0);
    assert_eq!(
        s.count("SELECT count(*) FROM migration.import_sessions WHERE engagement_id = $1")
            .await,
        0,
        "nothing was staged"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_sweep_removes_uploads_of_cancelled_flows_only() {
    let s = Setup::new().await;
    let waiting = s.upload("servers.csv", REVIEW_CSV.as_bytes());
    let waiting_flow = s.flow(&waiting, json!({"threshold": 0.95})).await;
    s.wait(waiting_flow, "waiting_for_approval").await;
    let cancelled = s.upload("servers.csv", REVIEW_CSV.as_bytes());
    let cancelled_flow = s.flow(&cancelled, json!({"threshold": 0.95})).await;
    let mut tx = modernize_db::tenant::begin(&s.db.app, scope(s.w.client))
        .await
        .unwrap();
    store::cancel(
        &mut tx,
        s.w.client,
        cancelled_flow,
        &Actor::user(s.w.user),
        "wrong file",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // An upload no flow refers to yet (recent: an upload in progress) is kept.
    let orphan = s.upload("in-progress.csv", b"hostname\n");
    let removed = discovery::sweep_uploads(&s.db.app, &s.settings)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert!(!cancelled.exists() && !cancelled.parent().unwrap().exists());
    assert!(waiting.exists(), "the waiting flow still needs its upload");
    assert!(orphan.exists());
    s.stop().await;
}
