//! `lava connection …`: the spec commands, and `resolve`, which prints a database connection
//! with its secrets resolved.

use crate::commands::specs::SpecCommand;
use crate::{SpecKind, Target, catalog, connect};
use anyhow::Result;
use clap::Subcommand;
use serde_json::json;
use shared::config::Config;
use shared::connections::{Connections, Engine};
use shared::model::ConnectionType;

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// The spec commands.
    #[command(flatten)]
    Spec(SpecCommand),
    /// Print a connection's details with its secrets resolved, as JSON, for the `lava` Python
    /// package (the output holds the password): a database's (`get_pysql_connection`), an aws
    /// connection's keys (`get_aws_connection`), a generic connection's attributes, an smb
    /// connection's server; other types' fields as stored.
    Resolve {
        /// The connection.
        conn_id: String,
    },
    /// Write a connection's connector script (what `LAVA_CONN_<LABEL>` names in a job) into a
    /// directory, and print its path (the Python package's `get_cli_connection`).
    Script {
        /// The connection.
        conn_id: String,
        /// The directory to write it in (a private sub-directory is made there).
        #[arg(long, default_value = ".")]
        dir: std::path::PathBuf,
    },
}

impl ConnectionCommand {
    /// Runs the command.
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        match self {
            ConnectionCommand::Spec(command) => command.run(target, SpecKind::Connection).await,
            ConnectionCommand::Resolve { conn_id } => resolve(target, &conn_id).await,
            ConnectionCommand::Script { conn_id, dir } => {
                let connections = connections(target).await?;
                let app = std::env::var("LAVA_JOB_ID").ok();
                let script =
                    shared::connections::scripts::write_connector(&connections, &conn_id, &dir, app.as_deref()).await?;
                Ok(script.display().to_string())
            }
        }
    }
}

async fn connections(target: &Target) -> Result<Connections> {
    let (ports, names) = connect(target).await?;
    let config = Config::new(std::env::vars(), None);
    Ok(Connections::new(catalog(&ports, names), ports.secrets, config).with_blobs(ports.blobs))
}

/// The connection `conn_id` as JSON, with its secrets.
async fn resolve(target: &Target, conn_id: &str) -> Result<String> {
    let connections = connections(target).await?;
    let resolved = connections.resolve(conn_id).await?;
    let kind = resolved.kind.clone();
    if Engine::of(&kind).is_ok() {
        let db = connections.database_from(resolved).await?;
        let engine = match db.engine {
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
            Engine::Sqlite => "sqlite3",
        };
        return Ok(json!({
            "conn_id": db.conn_id, "type": db.kind.name(), "engine": engine, "host": db.host, "port": db.port,
            "user": db.user, "password": db.password.expose(), "database": db.database, "ssl": db.tls.required(),
            "ssl_mode": db.tls.libpq_name(), "ca_cert": db.ca_cert,
        })
        .to_string());
    }
    Ok(match kind {
        ConnectionType::Aws => {
            let keys = connections.aws_keys(conn_id).await?;
            let mut out = json!({"conn_id": conn_id, "type": kind.name(), "aws_access_key_id": keys.id.expose(),
                "aws_secret_access_key": keys.secret.expose(), "region": keys.region});
            if let Some(token) = &keys.token {
                out["aws_session_token"] = json!(token.expose());
            }
            out
        }
        ConnectionType::Smb => {
            let smb = connections.smb(conn_id).await?;
            json!({"conn_id": conn_id, "type": kind.name(), "host": smb.host, "port": smb.port, "is_direct_tcp": smb.direct_tcp,
                "remote_name": smb.remote_name, "my_name": smb.my_name, "user": smb.user,
                "password": smb.password.expose(), "domain": smb.domain})
        }
        _ => {
            let mut out = serde_json::Map::from_iter([
                ("conn_id".to_string(), json!(conn_id)),
                ("type".to_string(), json!(kind.name())),
            ]);
            out.extend(resolved.fields);
            serde_json::Value::Object(out)
        }
    }
    .to_string())
}
