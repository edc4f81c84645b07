//! The differential suite: each scenario runs through the original (jinlava 8.3.0's real
//! `lava-worker`, from PyPI) and through this project on the same moto, realm and servers, and
//! what each wrote is compared field by field. A scenario matches, or differs only where it lists
//! a deliberate difference with its reason (ARCHITECTURE.md, "Deliberate differences").

mod actions;
mod compare;
mod executables;
mod harness;
mod movement;
mod orchestration;
mod python_api;
mod sql;
mod unload;

use shared::connections::Database;
use std::time::Duration;

/// Runs one statement on `db`.
pub(crate) async fn sql_exec(db: &Database, statement: &str) {
    let mut session = shared::sql::driver::Session::connect(db, None, Duration::from_secs(10)).await.unwrap();
    session.execute(statement).await.unwrap();
    session.close().await;
}

/// The SQLite database file the `lite` connection names.
pub(crate) fn sqlite(path: &std::path::Path) -> Database {
    Database::sqlite("lite", &path.display().to_string())
}
