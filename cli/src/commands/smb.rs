//! `lava smb get|put`: one file between an SMB share and a local file or S3 object, as the
//! original's `lava-smb` does; what an `smb` connection's connector script runs.

use crate::{Target, catalog, connect};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{Map, json};
use shared::config::Config;
use shared::connections::Connections;
use shared::ports::Encryption;
use shared::smb::{Direction, Transfer, split_location};

#[derive(Debug, Args)]
pub struct SmbArgs {
    /// The `smb` connection.
    #[arg(long)]
    conn_id: String,
    /// Do not render the transfer's locations with Jinja.
    #[arg(short = 'J', long, global = true)]
    no_jinja: bool,
    /// Accepted for the original's callers; credentials come from the AWS SDK's environment.
    #[arg(long, hide = true)]
    profile: Option<String>,
    /// A tag for the log lines (the original's `job:run`).
    #[arg(long)]
    tag: Option<String>,
    /// Accepted for the original's callers (`-l LEVEL`); errors go to stderr either way.
    #[arg(short = 'l', long, hide = true)]
    level: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    op: SmbOp,
}

#[derive(Debug, Subcommand)]
enum SmbOp {
    /// Copy a file from an SMB file share.
    Get {
        /// The AWS KMS key to write an S3 target with.
        #[arg(short = 'k', long)]
        kms_key_id: Option<String>,
        /// Source: share-name:path (rendered).
        smb_path: String,
        /// Target file; s3://… is written to S3 (rendered).
        file: String,
    },
    /// Copy a file to an SMB file share.
    Put {
        /// Create the target directory (and its parents) if it does not exist.
        #[arg(short = 'm', long)]
        mkdir: bool,
        /// Source file; s3://… is read from S3 (rendered).
        file: String,
        /// Target: share-name:path (rendered).
        smb_path: String,
    },
}

impl SmbArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let (ports, names) = connect(target).await?;
        let catalog = catalog(&ports, names);
        let realm = catalog.realm().await.ok();
        let connections = Connections::new(catalog, ports.secrets.clone(), Config::new(std::env::vars(), None))
            .with_blobs(ports.blobs.clone());
        let (direction, smb_path, file, kms_key_id, create_dirs) = match self.op {
            SmbOp::Get { kms_key_id, smb_path, file } => (Direction::Get, smb_path, file, kms_key_id, false),
            SmbOp::Put { mkdir, file, smb_path } => (Direction::Put, smb_path, file, None, mkdir),
        };
        let (smb_path, mut file) = if self.no_jinja {
            (smb_path, file)
        } else {
            let now = shared::model::values::format_timestamp(&jiff::Zoned::now());
            let mut context = Map::new();
            context.insert("start".into(), json!(now));
            context.insert("ustart".into(), json!(now));
            context.insert("realm".into(), realm.as_ref().map(|r| r.to_value()).unwrap_or_default());
            let context = shared::render::context_from_json(&context);
            let renderer = shared::render::Renderer::default();
            let render = |text: &str| renderer.render(text, &context).map_err(anyhow::Error::msg);
            (render(&smb_path)?, render(&file)?)
        };
        let (share, path) = split_location(&smb_path)?;
        if !file.starts_with("s3://") && !std::path::Path::new(&file).is_absolute() {
            file = std::env::current_dir().context("the current directory")?.join(&file).display().to_string();
        }
        let server = connections.smb(&self.conn_id).await?;
        let transfer = Transfer { direction, share, path, file, kms_key_id, create_dirs };
        let encryption = realm.as_ref().map(Encryption::for_realm).unwrap_or(Encryption::Aes256);
        let result =
            shared::smb::transfer(&server, &transfer, ports.blobs.as_ref(), &encryption, &std::env::temp_dir()).await?;
        if let Some(tag) = &self.tag {
            tracing::info!(tag = %tag, "{} -> {}", result["source"], result["destination"]);
        }
        Ok(if self.json { result.to_string() } else { String::new() })
    }
}
