// `sqlx::migrate!` embeds the migrations (../migrations, ../migrations/sqlite) when this
// crate compiles, which Cargo cannot see: without this, a migration added or changed after
// the last build is silently left out of the binaries.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
