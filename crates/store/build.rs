//! Rebuilds the crate when a migration changes: `sqlx::migrate!` embeds
//! `./migrations` at compile time, and proc macros cannot track files.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
