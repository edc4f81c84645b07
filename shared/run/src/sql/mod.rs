//! SQL without the job types: statement splitting, CSV output, `db_from_s3`'s and `redshift_unload`'s decisions (pure), and with the `sql`
//! feature the drivers (PostgreSQL, MySQL/MariaDB, SQLite through sqlx) and what `lava-sql`
//! runs (`script`). The SQL job types live in `runners::sql` and `runners::sql_client`.

pub mod csv;
#[cfg(feature = "sql")]
pub mod driver;
pub mod load;
#[cfg(feature = "sql")]
pub mod parquet;
#[cfg(feature = "sql")]
pub mod pipe;
#[cfg(feature = "sql")]
pub mod script;
pub mod split;
#[cfg(feature = "sql")]
pub mod sqlite_s3;
pub mod unload;
