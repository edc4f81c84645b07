//! SQL jobs: statement splitting and CSV output (pure), and with the `sql` feature the drivers
//! (PostgreSQL, MySQL/MariaDB, SQLite through sqlx) and the `sql`/`sqli` runners.

pub mod csv;
pub mod split;
#[cfg(feature = "sql")]
pub mod driver;
#[cfg(feature = "sql")]
pub mod jobs;
