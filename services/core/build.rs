//! The migrations are embedded at compile time (`refinery::embed_migrations!`
//! in `db.rs`): rebuild this crate whenever a migration is added or changed.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
