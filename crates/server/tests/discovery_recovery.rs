//! Discovery imports that go wrong and recover, over real HTTP with an in-process worker: an
//! apply the inventory refuses leaves nothing written and the staged rows kept, the mapping is
//! fixed through the review API and the flow retried, and the assets appear exactly once;
//! uploads have their own time limit (`imports.upload_timeout_secs`), longer than the
//! requests' (`server.request_timeout_secs`), and a slow upload past it, or one that stalls past
//! `imports.upload_idle_timeout_secs`, is refused with `upload_timeout`, leaving nothing on
//! disk and no flow.

mod assets_support;
mod common;
mod discovery_support;

use discovery_support::{BOUNDARY, files_under, form, setup, setup_with};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CSV: &str = "hostname,ip_address,os,Department\n\
    web-1,10.1.0.1,Ubuntu 22.04,Legacy\n\
    web-2,10.1.0.2,Ubuntu 22.04,Finance\n\
    db-1,10.1.0.3,Windows Server 2022,Legacy\n";

async fn send(s: &discovery_support::Setup, method: &str, path: &str, body: Value) -> (u16, Value) {
    let url = s.server.url(path);
    let req = match method {
        "GET" => s.server.client.get(url),
        _ => s.server.client.post(url).json(&body),
    };
    let resp = req.bearer_auth(&s.w.analyst).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_failed_apply_is_fixed_in_the_review_and_the_flow_retried() {
    let s = setup(1 << 30).await;
    // This inventory refuses a business unit: writing the assets of the file fails.
    sqlx::query(
        "ALTER TABLE migration.assets ADD CONSTRAINT ck_test_no_legacy_unit \
            CHECK (business_unit IS DISTINCT FROM 'Legacy')",
    )
    .execute(&s.server.db.owner)
    .await
    .unwrap();
    let (status, headers, v) = s
        .upload(
            &s.w.analyst,
            form(&[("file", Some("servers.csv"), CSV.as_bytes())]),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let location = headers["location"].to_str().unwrap().to_string();
    let start = Instant::now();
    let v = loop {
        let v = s.flow(&location).await;
        match v["status"].as_str().unwrap() {
            "failed" => break v,
            "waiting_for_approval" => {
                let (status, out) = send(
                    &s,
                    "POST",
                    &format!("{location}/approvals"),
                    json!({"decision": "approve"}),
                )
                .await;
                assert_eq!(status, 200, "{out}");
            }
            "completed" => panic!("the refused write did not fail the flow: {v}"),
            _ => assert!(start.elapsed() < discovery_support::LIMIT, "{v}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(v["current_phase"], "analysis", "{v}");
    let reason = v["phase_history"].as_array().unwrap().last().unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.starts_with("database_error"), "{reason}");
    assert!(reason.contains("retry the flow"), "{reason}");
    assert_eq!(s.assets().await, 0, "nothing half-written");

    // The import is back in review, its rows staged, the failure recorded.
    let import_id = v["phase_results"]["data_collection"]["import_id"]
        .as_str()
        .unwrap()
        .to_string();
    let imports = format!(
        "/api/v1/clients/{}/engagements/{}/imports/{import_id}",
        s.w.client_a, s.w.eng_a
    );
    let (status, import) = send(&s, "GET", &imports, Value::Null).await;
    assert_eq!(status, 200, "{import}");
    assert_eq!(import["status"], "staged", "{import}");
    assert_eq!(import["error_code"], "database_error");
    assert!(import["error_message"].as_str().is_some());
    assert_eq!(import["row_counts"], json!({"staged": 3}));

    // Retrying without a change fails the same way, and still writes nothing.
    let (status, out) = send(&s, "POST", &format!("{location}/retry"), Value::Null).await;
    assert_eq!(status, 200, "{out}");
    let v = s.wait(&location, "failed").await;
    assert_eq!(v["current_phase"], "analysis");
    assert_eq!(s.assets().await, 0);

    // The analyst keeps the department as a custom attribute, then retries.
    let (status, out) = send(
        &s,
        "POST",
        &format!("{imports}/mappings/decisions"),
        json!({"decisions": [{"source_column": "Department", "action": "edit",
                              "target_kind": "custom", "target": "department"}]}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["status"], "staged");
    let (status, out) = send(&s, "POST", &format!("{location}/retry"), Value::Null).await;
    assert_eq!(status, 200, "{out}");
    let v = s.wait(&location, "completed").await;
    assert_eq!(v["phase_results"]["analysis"]["assets_created"], 3, "{v}");
    assert_eq!(v["phase_results"]["reporting"]["status"], "committed");

    // Exactly once: three assets, one per host, the department kept aside.
    let hosts: Vec<(String, i64, Option<String>)> = sqlx::query_as(
        "SELECT hostname, count(*) OVER (PARTITION BY hostname), \
                raw_data->'custom_attributes'->>'department' \
           FROM migration.assets WHERE engagement_id = $1 ORDER BY hostname",
    )
    .bind(s.w.eng_a)
    .fetch_all(&s.server.db.owner)
    .await
    .unwrap();
    assert_eq!(
        hosts,
        [
            ("db-1".to_string(), 1, Some("Legacy".to_string())),
            ("web-1".to_string(), 1, Some("Legacy".to_string())),
            ("web-2".to_string(), 1, Some("Finance".to_string())),
        ]
    );
    let (_, import) = send(&s, "GET", &imports, Value::Null).await;
    assert_eq!(import["status"], "committed", "{import}");
    assert!(import["error_code"].is_null(), "the failure is cleared");
    assert!(import["row_counts"].get("staged").is_none(), "{import}");
    // A completed flow is not retried; the import is not applied twice.
    let (status, out) = send(&s, "POST", &format!("{location}/retry"), Value::Null).await;
    assert_eq!(status, 409, "{out}");
    let again = modernize_engine::import::apply_import(
        &s.server.db.app,
        s.w.client_a,
        import_id.parse().unwrap(),
        &Default::default(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), "import_not_applicable");
    assert_eq!(s.assets().await, 3);
    s.stop();
}

/// Sends a multipart upload by hand, `pieces` of the body one after the other with `pause`
/// between them, then reads the whole answer: (status, JSON body).
async fn slow_upload(
    s: &discovery_support::Setup,
    body: &[u8],
    pieces: usize,
    pause: Duration,
) -> (u16, Value) {
    let url = reqwest::Url::parse(&s.imports(s.w.client_a, s.w.eng_a)).unwrap();
    let mut stream = tokio::net::TcpStream::connect((
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap(),
    ))
    .await
    .unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        url.path(),
        url.host_str().unwrap(),
        s.w.analyst,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let size = body.len().div_ceil(pieces);
    for (i, piece) in body.chunks(size).enumerate() {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        // The server may have answered and closed already.
        if stream.write_all(piece).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b.trim()).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

/// The answer to an upload cut by the time limit `setting`.
fn assert_cut(status: u16, v: &Value, setting: &str) {
    assert_eq!(status, 408, "{v}");
    assert_eq!(v["error"]["code"], "upload_timeout", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains(setting), "{v}");
}

#[tokio::test]
async fn an_upload_has_its_own_time_limit() {
    let s = setup_with(|imports, server| {
        imports.upload_timeout_secs = 8;
        server.request_timeout_secs = 1;
    })
    .await;
    // A file whose mapping waits for review: its flow keeps the upload.
    let body = form(&[
        ("file", Some("servers.csv"), CSV.as_bytes()),
        ("threshold", None, b"1"),
    ]);

    // Slower than the requests' limit, within the upload's: accepted.
    let (status, v) = slow_upload(&s, &body, 5, Duration::from_millis(400)).await;
    assert_eq!(status, 202, "{v}");
    assert!(v["flow_id"].is_string(), "{v}");
    let accepted = files_under(&s.upload_dir);
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(s.flows().await, 1);

    // Stalled past the upload's limit: refused with its own code, nothing kept.
    let started = Instant::now();
    let (status, v) = slow_upload(&s, &body, 2, Duration::from_secs(10)).await;
    assert_cut(status, &v, "imports.upload_timeout_secs");
    assert!(started.elapsed() >= Duration::from_secs(8));
    assert_eq!(
        files_under(&s.upload_dir),
        accepted,
        "the cut upload left nothing"
    );
    assert_eq!(s.flows().await, 1, "no flow for the cut upload");
    s.stop();
}

#[tokio::test]
async fn a_stalled_upload_is_cut_by_the_idle_limit() {
    let s = setup_with(|imports, _| {
        imports.upload_timeout_secs = 60;
        imports.upload_idle_timeout_secs = 3;
    })
    .await;
    let body = form(&[
        ("file", Some("servers.csv"), CSV.as_bytes()),
        ("threshold", None, b"1"),
    ]);

    // Longer than the idle limit in all, but never silent that long: accepted.
    let (status, v) = slow_upload(&s, &body, 6, Duration::from_secs(1)).await;
    assert_eq!(status, 202, "{v}");
    let accepted = files_under(&s.upload_dir);
    assert_eq!(accepted.len(), 1, "{accepted:?}");

    // Silent past the idle limit: cut long before the whole upload's limit, nothing kept.
    let started = Instant::now();
    let (status, v) = slow_upload(&s, &body, 2, Duration::from_secs(8)).await;
    assert_cut(status, &v, "imports.upload_idle_timeout_secs");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(
        files_under(&s.upload_dir),
        accepted,
        "the cut upload left nothing"
    );
    assert_eq!(s.flows().await, 1, "no flow for the cut upload");
    s.stop();
}
