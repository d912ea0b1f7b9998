// `sqlx::migrate!` embeds the files of `migrations/` at compile time; without this, cargo would
// not rebuild the crate when a migration is added and binaries would carry a stale schema.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
