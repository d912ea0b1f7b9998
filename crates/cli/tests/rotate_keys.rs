//! `modernize admin rotate-keys` end to end: secrets sealed under one master key are re-wrapped
//! under a newly generated one, the old key is removed from the key file, and every secret still
//! opens; a second run changes nothing. Also the startup errors for bad vault configuration.

use modernize_domain::ids::ClientAccountId;
use modernize_domain::tenancy::TenantScope;
use modernize_server::AppState;
use modernize_server::settings::VaultSettings;
use modernize_server::vault::credentials as vault;
use modernize_server::vault::keys::{self, KeyFile};
use modernize_server::vault::rotate;
use modernize_server::vault::{Keyring, Sealed};
use modernize_testkit::TestDb;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};
use uuid::Uuid;

fn modernize(url: &str, key_file: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modernize"));
    cmd.env_remove("MODERNIZE_CONFIG")
        .env("DATABASE_URL", url)
        .env("MODERNIZE_VAULT__KEY_FILE", key_file)
        .env("MODERNIZE_LOG__FILTER", "warn")
        .current_dir(std::env::temp_dir());
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn keyring_from(path: &Path) -> Keyring {
    let settings = VaultSettings {
        key_file: Some(path.to_path_buf()),
        ..VaultSettings::default()
    };
    keys::load(&settings, None).unwrap().unwrap().0
}

#[tokio::test]
async fn rotate_keys_rewraps_every_secret_so_the_old_key_can_be_removed() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("vault-keys.toml");
    let k1 = Keyring::generate_key();
    KeyFile {
        active_key_id: Some("k1".into()),
        keys: [("k1".to_string(), k1)].into_iter().collect(),
    }
    .write(&key_file)
    .unwrap();
    let old = keyring_from(&key_file);

    // Credentials of two clients and a user's TOTP secret, sealed under k1.
    let adapter = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO migration.platform_adapters (id, adapter_name, adapter_type, version) \
         VALUES ($1, 'vmware', 'discovery', '1')",
    )
    .bind(adapter)
    .execute(&db.owner)
    .await
    .unwrap();
    let mut stored = Vec::new();
    for (n, slug) in ["alpha", "beta", "gamma"].iter().enumerate() {
        let client = Uuid::new_v4();
        sqlx::query("INSERT INTO migration.client_accounts (id, name, slug) VALUES ($1, $2, $2)")
            .bind(client)
            .bind(slug)
            .execute(&db.owner)
            .await
            .unwrap();
        let id = Uuid::new_v4();
        let secret = json!({"password": format!("secret-{n}")});
        let sealed = vault::seal(&old, id, client, &secret);
        sqlx::query(
            "INSERT INTO migration.platform_credentials (id, client_account_id, platform_adapter_id, \
                 credential_name, credential_type, encrypted_credentials, encryption_key_id) \
             VALUES ($1, $2, $3, 'prod', 'basic_auth', $4, $5)",
        )
        .bind(id)
        .bind(client)
        .bind(adapter)
        .bind(&sealed.blob)
        .bind(&sealed.key_id)
        .execute(&db.owner)
        .await
        .unwrap();
        stored.push((client, id, secret));
    }
    let mut conn = db.owner.acquire().await.unwrap();
    let user = modernize_db::identity::create_user(&mut conn, "totp@example.com", None, None)
        .await
        .unwrap();
    drop(conn);
    let totp = old.seal(b"JBSWY3DPEHPK3PXP", &rotate::totp_aad(user.0));
    sqlx::query(
        "INSERT INTO migration.user_credentials (user_id, totp_secret_encrypted, totp_encryption_key_id) \
         VALUES ($1, $2, $3)",
    )
    .bind(user.0)
    .bind(&totp.blob)
    .bind(&totp.key_id)
    .execute(&db.owner)
    .await
    .unwrap();

    let url = db.owner_url();
    let report = json_of(
        &modernize(&url, &key_file)
            .args(["admin", "rotate-keys", "--generate", "--json"])
            .output()
            .unwrap(),
    );
    let new_id = report["generated_key_id"].as_str().unwrap().to_string();
    assert_ne!(new_id, "k1");
    assert_eq!(report["active_key_id"], new_id.as_str());
    assert_eq!(report["rewrapped"], 4, "{report}");
    assert_eq!(report["already_current"], 0);
    assert_eq!(report["failed"], json!([]));

    // The key file gained the new key, active, and stayed private.
    let file = KeyFile::read(&key_file).unwrap();
    assert_eq!(file.active_key_id.as_deref(), Some(new_id.as_str()));
    assert!(file.keys.contains_key("k1") && file.keys.contains_key(&new_id));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Remove k1: every secret still opens, through the audited internal path.
    let mut without_old = file.clone();
    without_old.keys.remove("k1");
    without_old.write(&key_file).unwrap();
    let state =
        AppState::new(db.database(), Default::default()).with_keyring(keyring_from(&key_file));
    for (client, id, secret) in &stored {
        let client = ClientAccountId(*client);
        let value = vault::reveal(
            &state,
            TenantScope::Client {
                client_account_id: client,
                user_id: None,
            },
            client,
            *id,
            "rotation check",
        )
        .await
        .unwrap();
        assert_eq!(&value.expose_json().unwrap(), secret);
    }
    let (blob, key_id): (Vec<u8>, String) = sqlx::query_as(
        "SELECT totp_secret_encrypted, totp_encryption_key_id FROM migration.user_credentials WHERE user_id = $1",
    )
    .bind(user.0)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    let sealed = Sealed { key_id, blob };
    assert_eq!(
        keyring_from(&key_file)
            .open(&sealed, &rotate::totp_aad(user.0))
            .unwrap(),
        b"JBSWY3DPEHPK3PXP"
    );

    // A second run is a no-op.
    let again = json_of(
        &modernize(&url, &key_file)
            .args(["admin", "rotate-keys", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(
        (
            again["rewrapped"].as_u64(),
            again["already_current"].as_u64()
        ),
        (Some(0), Some(4))
    );
    assert!(again["generated_key_id"].is_null());
    let out = modernize(&url, &key_file)
        .args(["admin", "rotate-keys"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("re-wrapped: 0") && text.contains("already current: 4"),
        "{text}"
    );

    let (audited,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs WHERE event_type = 'vault.keys_rotated'",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(audited, 3);
}

#[tokio::test]
async fn a_secret_whose_key_is_missing_fails_the_run_and_is_named() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys.toml");
    let mut file = KeyFile::default();
    file.add_generated();
    file.write(&key_file).unwrap();
    let user = {
        let mut conn = db.owner.acquire().await.unwrap();
        modernize_db::identity::create_user(&mut conn, "u@example.com", None, None)
            .await
            .unwrap()
    };
    // Sealed under a key nobody has any more.
    let lost = {
        let keys = [("lost".to_string(), Keyring::generate_key())]
            .into_iter()
            .collect();
        Keyring::new("lost", &keys).unwrap()
    };
    let sealed = lost.seal(b"secret", &rotate::totp_aad(user.0));
    sqlx::query(
        "INSERT INTO migration.user_credentials (user_id, totp_secret_encrypted, totp_encryption_key_id) \
         VALUES ($1, $2, 'lost')",
    )
    .bind(user.0)
    .bind(&sealed.blob)
    .execute(&db.owner)
    .await
    .unwrap();
    let out = modernize(&db.owner_url(), &key_file)
        .args(["admin", "rotate-keys"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("failed: 1") && text.contains(&user.to_string()),
        "{text}"
    );
    assert!(
        stderr(&out).contains("could not be re-wrapped"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn bad_vault_configuration_is_a_clear_error() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.toml");
    let url = db.owner_url();

    // A configured key file that does not exist is named.
    let out = modernize(&url, &missing)
        .args(["admin", "rotate-keys"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("absent.toml"), "{}", stderr(&out));

    // An invalid key is named by its id.
    let mut cmd = modernize(&url, &missing);
    cmd.env_remove("MODERNIZE_VAULT__KEY_FILE")
        .env("MODERNIZE_VAULT__KEYS__broken", "c2hvcnQ=")
        .args(["admin", "rotate-keys"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("\"broken\""), "{}", stderr(&out));

    // --generate needs a key file to write to.
    let mut cmd = modernize(&url, &missing);
    cmd.env_remove("MODERNIZE_VAULT__KEY_FILE")
        .env("MODERNIZE_VAULT__KEYS__k1", Keyring::generate_key())
        .args(["admin", "rotate-keys", "--generate"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("vault.key_file"), "{}", stderr(&out));

    // External database, no keys: nothing to rotate with.
    let mut cmd = modernize(&url, &missing);
    cmd.env_remove("MODERNIZE_VAULT__KEY_FILE")
        .args(["admin", "rotate-keys"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no vault master key"),
        "{}",
        stderr(&out)
    );
}
