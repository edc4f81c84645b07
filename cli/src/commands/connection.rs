//! `lava connection …`: the spec commands, and `resolve`, which prints a database connection
//! with its secrets resolved.

use crate::commands::specs::SpecCommand;
use crate::{SpecKind, Target, catalog, connect};
use anyhow::Result;
use clap::Subcommand;
use serde_json::json;
use shared::config::Config;
use shared::connections::{Connections, Engine};

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// The spec commands.
    #[command(flatten)]
    Spec(SpecCommand),
    /// Print a database connection's details with its secrets resolved, as JSON (for the
    /// `lava` Python package's `get_pysql_connection`; the output holds the password).
    Resolve {
        /// The connection.
        conn_id: String,
    },
}

impl ConnectionCommand {
    /// Runs the command.
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        match self {
            ConnectionCommand::Spec(command) => command.run(target, SpecKind::Connection).await,
            ConnectionCommand::Resolve { conn_id } => resolve(target, &conn_id).await,
        }
    }
}

/// The connection `conn_id` as JSON, with its password.
async fn resolve(target: &Target, conn_id: &str) -> Result<String> {
    let (ports, names) = connect(target).await?;
    let config = Config::new(std::env::vars(), None);
    let connections = Connections::new(catalog(&ports, names), ports.secrets, config).with_blobs(ports.blobs);
    let db = connections.database(conn_id).await.map_err(anyhow::Error::msg)?;
    let engine = match db.engine {
        Engine::Postgres => "postgres",
        Engine::MySql => "mysql",
        Engine::Sqlite => "sqlite3",
    };
    Ok(json!({
        "conn_id": db.conn_id, "type": db.kind, "engine": engine, "host": db.host, "port": db.port, "user": db.user,
        "password": db.password.expose(), "database": db.database, "ssl": db.tls.required(),
        "ssl_mode": db.tls.libpq_name(), "ca_cert": db.ca_cert,
    })
    .to_string())
}
