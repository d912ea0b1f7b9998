//! Discovery imports over real HTTP: a multipart upload starts a discovery flow run by an
//! in-process worker (an RVTools workbook to completion; a CSV that waits for its mapping
//! review and completes once approved through the flow approvals API); a garbled file fails the
//! flow without assets; the upload limit (413), empty and malformed forms (422, 415), viewers
//! (403) and another client's administrator (404, exactly as for a missing engagement), with
//! nothing left on disk after a refused upload.

mod assets_support;
mod common;
mod discovery_support;

use discovery_support::{LIMIT, files_under, form, setup};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use uuid::Uuid;

const REVIEW_CSV: &str = "hostname,ip_address,os,memory_gb,Zorblax Level,Quux Ref\n\
    web-1,10.1.0.1,Ubuntu 22.04,8,alpha,q1\n\
    web-2,10.1.0.2,Ubuntu 22.04,16,beta,q2\n\
    db-1,10.1.0.3,Windows Server 2022,32,gamma,q3\n";

#[tokio::test]
async fn an_uploaded_csv_waits_for_review_and_an_rvtools_workbook_completes() {
    let s = setup(1 << 30).await;
    let (status, headers, v) = s
        .upload(
            &s.w.analyst,
            form(&[
                ("file", Some("servers.csv"), REVIEW_CSV.as_bytes()),
                ("threshold", None, b"0.95"),
            ]),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let flow_id = v["flow_id"].as_str().unwrap();
    let location = headers["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!(
            "/api/v1/clients/{}/engagements/{}/flows/{flow_id}",
            s.w.client_a, s.w.eng_a
        )
    );
    assert_eq!(v["import"]["file_name"], "servers.csv");
    assert_eq!(v["import"]["size_bytes"], REVIEW_CSV.len());
    let digest: String = Sha256::digest(REVIEW_CSV.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v["import"]["sha256"], digest);
    assert_eq!(v["threshold"], 0.95);
    let stored = files_under(&s.upload_dir.join(s.w.client_a.to_string()));
    assert_eq!(
        stored.len(),
        1,
        "stored in the client's directory: {stored:?}"
    );
    assert_eq!(std::fs::read(&stored[0]).unwrap(), REVIEW_CSV.as_bytes());

    let v = s.wait(&location, "waiting_for_approval").await;
    assert_eq!(v["current_phase"], "analysis");
    assert_eq!(v["pending_approval"]["gate"], "decision");
    assert!(
        v["waiting_reason"]
            .as_str()
            .unwrap()
            .contains("Zorblax Level"),
        "{v}"
    );
    assert_eq!(v["phase_results"]["environment_scanning"]["format"], "csv");
    assert_eq!(s.assets().await, 0);
    // Viewers may not decide.
    let approvals = s.server.url(&format!("{location}/approvals"));
    let resp = s
        .server
        .client
        .post(&approvals)
        .bearer_auth(&s.w.viewer)
        .json(&serde_json::json!({"decision": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let resp = s
        .server
        .client
        .post(&approvals)
        .bearer_auth(&s.w.analyst)
        .json(&serde_json::json!({"decision": "approve", "comment": "proposals are fine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v = s.wait(&location, "completed").await;
    assert_eq!(
        v["phase_results"]["reporting"]["status"], "committed",
        "{v}"
    );
    assert_eq!(s.assets().await, 3);
    assert!(
        files_under(&s.upload_dir).is_empty(),
        "the upload is removed when the flow completes"
    );
    let (audited,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs \
          WHERE event_type = 'discovery.import_uploaded' AND target_id = $1",
    )
    .bind(flow_id)
    .fetch_one(&s.server.db.owner)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // A real RVTools export, end to end.
    let xlsx = std::fs::read(
        "/work/shared/samples/rvtools/partnersizingworkshop__SizingWorkshop-RVTools.xlsx",
    )
    .unwrap();
    let (status, headers, v) = s
        .upload(&s.w.analyst, form(&[("file", Some("rvtools.xlsx"), &xlsx)]))
        .await;
    assert_eq!(status, 202, "{v}");
    let location = headers["location"].to_str().unwrap().to_string();
    let start = Instant::now();
    let v = loop {
        let v = s.flow(&location).await;
        match v["status"].as_str().unwrap() {
            "completed" => break v,
            // Columns no attribute claims with confidence wait for review.
            "waiting_for_approval" => {
                let resp = s
                    .server
                    .client
                    .post(s.server.url(&format!("{location}/approvals")))
                    .bearer_auth(&s.w.analyst)
                    .json(&serde_json::json!({"decision": "approve"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 200);
            }
            "failed" => panic!("{v}"),
            _ => assert!(start.elapsed() < LIMIT, "{}", v["status"]),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        v["phase_results"]["environment_scanning"]["layout"],
        "rvtools"
    );
    let created = v["phase_results"]["analysis"]["assets_created"]
        .as_i64()
        .unwrap();
    assert!(created > 0, "{v}");
    assert_eq!(s.assets().await, 3 + created);
    s.stop();
}

#[tokio::test]
async fn refused_uploads_leave_nothing_and_garbled_files_fail_their_flow() {
    let s = setup(1000).await;
    // Over the limit while streaming: 413, nothing on disk, no flow.
    let big = vec![b'a'; 5000];
    let (status, _, v) = s
        .upload(&s.w.analyst, form(&[("file", Some("big.csv"), &big)]))
        .await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large");
    assert!(v["error"]["message"].as_str().unwrap().contains("1000"));
    // Declared far over the limit: refused before reading.
    let huge = vec![b'a'; 200_000];
    let (status, _, v) = s
        .upload(&s.w.analyst, form(&[("file", Some("huge.csv"), &huge)]))
        .await;
    assert_eq!(status, 413, "{v}");
    assert!(
        files_under(&s.upload_dir).is_empty(),
        "{:?}",
        files_under(&s.upload_dir)
    );
    assert_eq!(s.flows().await, 0);

    // Empty file, no file, bad fields: 422 naming the field.
    for (body, field) in [
        (form(&[("file", Some("empty.csv"), b"")]), "file"),
        (form(&[("dry_run", None, b"true")]), "file"),
        (
            form(&[
                ("file", Some("a.csv"), b"a,b\n1,2\n"),
                ("threshold", None, b"2"),
            ]),
            "threshold",
        ),
        (
            form(&[
                ("file", Some("a.csv"), b"a,b\n1,2\n"),
                ("dry_run", None, b"maybe"),
            ]),
            "dry_run",
        ),
        (
            form(&[
                ("file", Some("a.csv"), b"a,b\n1,2\n"),
                ("colour", None, b"red"),
            ]),
            "colour",
        ),
    ] {
        let (status, _, v) = s.upload(&s.w.analyst, body).await;
        assert_eq!(status, 422, "{field}: {v}");
        assert_eq!(v["error"]["code"], "validation_failed");
        assert_eq!(v["error"]["details"][0]["field"], field, "{v}");
    }
    // Truncated multipart body: 400, nothing left.
    let mut cut = form(&[("file", Some("a.csv"), b"a,b\n1,2\n3,4\n")]);
    cut.truncate(cut.len() - 30);
    let (status, _, v) = s.upload(&s.w.analyst, cut).await;
    assert_eq!(status, 400, "{v}");
    // Not multipart: 415.
    let resp = s
        .server
        .client
        .post(s.imports(s.w.client_a, s.w.eng_a))
        .bearer_auth(&s.w.analyst)
        .json(&serde_json::json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    assert!(
        files_under(&s.upload_dir).is_empty(),
        "{:?}",
        files_under(&s.upload_dir)
    );
    assert_eq!(s.flows().await, 0);

    // Viewers cannot upload; another client's administrator gets the answer of a missing
    // engagement.
    let ok_body = || form(&[("file", Some("a.csv"), b"hostname\nweb-1\n")]);
    let (status, _, _) = s.upload(&s.w.viewer, ok_body()).await;
    assert_eq!(status, 403);
    let (status, _, theirs) = s.upload(&s.w.intruder, ok_body()).await;
    let (missing_status, _, missing) = s
        .upload_to(Uuid::new_v4(), Uuid::new_v4(), &s.w.intruder, ok_body())
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        (
            status,
            &theirs["error"]["code"],
            &theirs["error"]["message"]
        ),
        (
            missing_status,
            &missing["error"]["code"],
            &missing["error"]["message"]
        )
    );
    // Own client, engagement of another client: 404 too.
    let (status, _, _) = s
        .upload_to(s.w.client_a, s.w.eng_b, &s.w.analyst, ok_body())
        .await;
    assert_eq!(status, 404);
    assert!(files_under(&s.upload_dir).is_empty());
    assert_eq!(s.flows().await, 0);

    // A garbled file is accepted as an upload; its flow fails with the file's error code and
    // writes no asset.
    let (status, headers, v) = s
        .upload(
            &s.w.analyst,
            form(&[(
                "file",
                Some("garbled.xlsx"),
                b"PK\x03\x04 not a workbook at all",
            )]),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let location = headers["location"].to_str().unwrap().to_string();
    let v = s.wait(&location, "failed").await;
    let reason = v["phase_history"].as_array().unwrap().last().unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.starts_with("corrupt_file") || reason.starts_with("unsupported_format"),
        "{reason}"
    );
    assert_eq!(s.assets().await, 0);
    s.stop();
}

#[tokio::test]
async fn uploads_are_refused_beyond_the_clients_storage_quota() {
    let s = setup(1 << 30).await;
    let quota = |gb: Option<i32>| {
        let (owner, client) = (s.server.db.owner.clone(), s.w.client_a);
        async move {
            sqlx::query("UPDATE migration.client_accounts SET storage_quota_gb = $1 WHERE id = $2")
                .bind(gb)
                .bind(client)
                .execute(&owner)
                .await
                .unwrap();
        }
    };
    let small = || form(&[("file", Some("a.csv"), b"hostname\nweb-1\n")]);

    // A quota of 0 GB leaves no room: 409 limit_exceeded, nothing stored, no flow.
    quota(Some(0)).await;
    let (status, _, v) = s.upload(&s.w.analyst, small()).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["code"], "limit_exceeded");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("storage quota of 0 GB"),
        "{v}"
    );
    assert!(files_under(&s.upload_dir).is_empty());
    assert_eq!(s.flows().await, 0);

    // 1 GB, of which an earlier upload kept (a sparse file) leaves 1000 bytes.
    let kept_dir = s
        .upload_dir
        .join(s.w.client_a.to_string())
        .join(Uuid::new_v4().to_string());
    std::fs::create_dir_all(&kept_dir).unwrap();
    let kept = kept_dir.join("kept.csv");
    std::fs::File::create(&kept)
        .unwrap()
        .set_len((1 << 30) - 1000)
        .unwrap();
    // Another client's uploads do not count against client A.
    let theirs = s
        .upload_dir
        .join(s.w.client_b.to_string())
        .join(Uuid::new_v4().to_string());
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::File::create(theirs.join("big.csv"))
        .unwrap()
        .set_len(1 << 31)
        .unwrap();
    quota(Some(1)).await;
    // Over the room while streaming, and declared far over it: refused, the kept file stays.
    for size in [1500, 200_000] {
        let body = form(&[("file", Some("b.csv"), &vec![b'a'; size])]);
        let (status, _, v) = s.upload(&s.w.analyst, body).await;
        assert_eq!(
            (status, &v["error"]["code"]),
            (409, &"limit_exceeded".into()),
            "{size}: {v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("{} of 1073741824 bytes", (1u64 << 30) - 1000)),
            "{v}"
        );
    }
    assert_eq!(files_under(&s.upload_dir).len(), 2);
    assert_eq!(s.flows().await, 0);
    // What fits is accepted and counts while its flow keeps it (waiting for review).
    let review = form(&[
        ("file", Some("servers.csv"), REVIEW_CSV.as_bytes()),
        ("threshold", None, b"0.95"),
    ]);
    let (status, headers, v) = s.upload(&s.w.analyst, review).await;
    assert_eq!(status, 202, "{v}");
    let location = headers["location"].to_str().unwrap().to_string();
    s.wait(&location, "waiting_for_approval").await;
    let body = || form(&[("file", Some("c.csv"), &vec![b'a'; 900])]);
    let (status, _, v) = s.upload(&s.w.analyst, body()).await;
    assert_eq!(status, 409, "{v}");

    // Without a quota only imports.max_upload_bytes applies.
    quota(None).await;
    let (status, _, v) = s.upload(&s.w.analyst, body()).await;
    assert_eq!(status, 202, "{v}");
    s.stop();
}
