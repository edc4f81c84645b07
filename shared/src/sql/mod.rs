//! SQL jobs: statement splitting and CSV output (pure), `sqlc` (the database's own client through
//! a connector script), and with the `sql` feature the drivers (PostgreSQL, MySQL/MariaDB,
//! SQLite through sqlx) and the `sql`/`sqli` runners.

pub mod client;
pub mod csv;
#[cfg(feature = "sql")]
pub mod driver;
#[cfg(feature = "sql")]
pub mod jobs;
#[cfg(feature = "sql")]
pub mod script;
pub mod split;
