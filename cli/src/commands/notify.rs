//! `lava email` and `lava slack`: send a message through an `email` or `slack` connection, as
//! the original's `lava-email` and `lava-slack` do; what those connections' connector scripts
//! run. The body is a file, or standard input when it is absent or `-`.

use crate::{Target, catalog, connect};
use anyhow::{Context, Result, bail};
use clap::Args;
use shared::actions::{ActionServices, ConnectionEmail, ConnectionSlack};
use shared::config::Config;
use std::io::Read;

#[derive(Debug, Args)]
pub struct EmailArgs {
    /// The `email` (or `ses`) connection.
    #[arg(short = 'c', long)]
    conn_id: String,
    /// A file to attach, local or s3://bucket/key (repeatable).
    #[arg(short = 'a', long = "attach")]
    attach: Vec<String>,
    /// A recipient on the To: line (repeatable).
    #[arg(long)]
    to: Vec<String>,
    /// A recipient on the Cc: line (repeatable).
    #[arg(long)]
    cc: Vec<String>,
    /// A recipient on no line (repeatable).
    #[arg(long)]
    bcc: Vec<String>,
    /// The sender (else the connection's, else SES_FROM).
    #[arg(long)]
    from: Option<String>,
    /// A reply-to address, after the connection's (repeatable).
    #[arg(long)]
    reply_to: Vec<String>,
    /// The subject.
    #[arg(short = 's', long)]
    subject: String,
    /// The body from this file (the original's legacy option).
    #[arg(long, conflicts_with_all = ["text", "filename"])]
    html: Option<String>,
    /// The body from this file (the original's legacy option).
    #[arg(long, conflicts_with = "filename")]
    text: Option<String>,
    /// The body: a file, or standard input when absent or `-` (its first 2 MB; HTML when it
    /// starts `<html` or `<!DOCTYPE html`).
    filename: Option<String>,
    #[command(flatten)]
    compat: Compat,
}

#[derive(Debug, Args)]
pub struct SlackArgs {
    /// The `slack` connection.
    #[arg(short = 'c', long)]
    conn_id: String,
    /// The bar colour of the attachment style (a hex colour; `#` is put in front when missing).
    #[arg(long)]
    bar_colour: Option<String>,
    /// The sender's name (else the connection's).
    #[arg(long)]
    from: Option<String>,
    /// Text before the message, e.g. <!here>.
    #[arg(long)]
    preamble: Option<String>,
    /// The subject.
    #[arg(short = 's', long)]
    subject: Option<String>,
    /// block, attachment or plain (else the connection's, else block).
    #[arg(long, value_parser = ["block", "attachment", "plain"])]
    style: Option<String>,
    /// The message: a file, or standard input when absent or `-` (its first 3000 bytes).
    filename: Option<String>,
    #[command(flatten)]
    compat: Compat,
}

/// Options the original's commands take that change nothing here: credentials come from the
/// AWS SDK's environment, and errors go to standard error.
#[derive(Debug, Args)]
struct Compat {
    #[arg(long, hide = true)]
    profile: Option<String>,
    #[arg(short = 'l', long, hide = true)]
    level: Option<String>,
    #[arg(long, hide = true)]
    log: Option<String>,
    #[arg(long, hide = true)]
    tag: Option<String>,
    #[arg(long, alias = "no-color", hide = true)]
    no_colour: bool,
}

/// The body from `file` (or standard input), at most `limit` bytes of it.
fn body(file: Option<&str>, limit: usize) -> Result<String> {
    let mut bytes = Vec::new();
    match file {
        None | Some("-") => {
            std::io::stdin().take(limit as u64).read_to_end(&mut bytes).context("reading standard input")?
        }
        Some(path) => std::fs::File::open(path)
            .with_context(|| format!("reading {path}"))?
            .take(limit as u64)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {path}"))?,
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The realm's action services, as the actions function has them.
async fn services(target: &Target) -> Result<ActionServices> {
    let (ports, names) = connect(target).await?;
    let realm = catalog(&ports, names.clone()).realm().await.context("reading the realm entry")?;
    let config = Config::new(std::env::vars(), realm.config.as_ref());
    Ok(shared::actions::services(realm, names, config, &ports))
}

impl EmailArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let file = self.html.as_deref().or(self.text.as_deref()).or(self.filename.as_deref());
        let request = ConnectionEmail {
            conn_id: self.conn_id,
            to: self.to,
            cc: self.cc,
            bcc: self.bcc,
            reply_to: self.reply_to,
            from: self.from,
            subject: self.subject,
            body: body(file, 2 << 20)?,
            attachments: self.attach,
        };
        if request.to.is_empty() && request.cc.is_empty() && request.bcc.is_empty() {
            bail!("no recipients: give --to, --cc or --bcc");
        }
        services(target).await?.send_connection_email(&request).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(String::new())
    }
}

impl SlackArgs {
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        let request = ConnectionSlack {
            conn_id: self.conn_id,
            message: body(self.filename.as_deref(), 3000)?,
            subject: self.subject,
            from: self.from,
            style: self.style,
            colour: self.bar_colour,
            preamble: self.preamble,
        };
        services(target).await?.send_connection_slack(&request).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(String::new())
    }
}
