//! `lava state …`: put, get and list the state manager's items.

use crate::{Target, catalog, connect};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use minijinja::context;
use serde_json::{Map, Value};
use shared::config::Config;
use shared::model::StateType;
use shared::model::values::parse_duration;
use shared::render::{Renderer, from_json};
use shared::state::{NewState, StateStore, is_reserved};

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Put a state item, replacing any earlier one.
    Put {
        /// Its id (ids starting with "lava" are reserved).
        state_id: String,
        /// A KEY=VALUE pair of a map-of-strings value (repeatable).
        #[arg(short, long = "param", conflicts_with = "value")]
        param: Vec<String>,
        /// A string value.
        #[arg(short, long)]
        value: Option<String>,
        /// Any JSON value (the Python package's `LavaStateItem.put`).
        #[arg(long, conflicts_with_all = ["value", "param"])]
        json_value: Option<String>,
        /// KMS key for the secure type (default alias/lava-<realm>-sys).
        #[arg(long)]
        kms_key: Option<String>,
        /// Publisher (default: $LAVA_JOB_ID, else "lava-state CLI").
        #[arg(long)]
        publisher: Option<String>,
        /// Time to live, e.g. 2d (default: the realm's STATE_TTL, 7d).
        #[arg(long)]
        ttl: Option<String>,
        /// Encoding.
        #[arg(long = "type", default_value = "json", value_parser = ["json", "raw", "secure"])]
        state_type: String,
    },
    /// Print a state item's value through a template (default `{{ state }}`; `s` is the value too).
    Get {
        /// Its id.
        state_id: String,
        /// Jinja template.
        template: Option<String>,
        /// Print nothing (instead of failing) when the item does not exist.
        #[arg(short, long)]
        ignore_missing: bool,
        /// Print the value as JSON (no template).
        #[arg(long, conflicts_with = "template")]
        json: bool,
        /// Print the whole item as JSON: state_id, type, value, publisher, timestamp.
        #[arg(long, conflicts_with_all = ["template", "json"])]
        item: bool,
    },
    /// List the state items: id, type, timestamp, publisher.
    List {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
}

impl StateCommand {
    /// Runs the command.
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        match self {
            StateCommand::Put { state_id, param, value, json_value, kms_key, publisher, ttl, state_type } => {
                if is_reserved(&state_id) {
                    bail!("{state_id}: Values beginning with \"lava\" are reserved");
                }
                let value = match (value, json_value) {
                    (Some(v), _) => Value::String(v),
                    (None, Some(text)) => {
                        serde_json::from_str(&text).with_context(|| format!("--json-value: not JSON: {text}"))?
                    }
                    (None, None) => {
                        let mut map = Map::new();
                        for pair in &param {
                            let (k, v) =
                                pair.split_once('=').with_context(|| format!("-p {pair}: expected KEY=VALUE"))?;
                            map.insert(k.to_string(), Value::String(v.to_string()));
                        }
                        Value::Object(map)
                    }
                };
                let ttl_seconds = ttl.as_deref().map(parse_duration).transpose().map_err(anyhow::Error::msg)?;
                let state_type = match state_type.as_str() {
                    "raw" => StateType::Raw,
                    "secure" => StateType::Secure,
                    _ => StateType::Json,
                };
                let publisher =
                    publisher.or_else(|| std::env::var("LAVA_JOB_ID").ok()).unwrap_or_else(|| "lava-state CLI".into());
                let store = state_store(target).await?;
                store
                    .put(&NewState {
                        state_id: state_id.clone(),
                        value,
                        state_type,
                        ttl_seconds,
                        publisher: Some(publisher),
                        kms_key,
                    })
                    .await?;
                Ok(format!("state {state_id} written"))
            }
            StateCommand::Get { state_id, template, ignore_missing, json, item } => {
                if is_reserved(&state_id) {
                    bail!("{state_id}: Values beginning with \"lava\" are reserved");
                }
                let store = state_store(target).await?;
                let (found, value) = match store.get(&state_id).await? {
                    Some(found) => found,
                    None if ignore_missing => return Ok(String::new()),
                    None => bail!("{state_id}: not found"),
                };
                if item {
                    return Ok(serde_json::json!({"state_id": found.state_id, "type": found.state_type,
                        "value": value, "publisher": found.publisher, "timestamp": found.timestamp})
                    .to_string());
                }
                if json {
                    return Ok(value.to_string());
                }
                let renderer = Renderer::default();
                let v = from_json(&value);
                let context = context! { state => v.clone(), s => v };
                renderer.render(template.as_deref().unwrap_or("{{ state }}"), &context).map_err(anyhow::Error::msg)
            }
            StateCommand::List { json } => {
                let store = state_store(target).await?;
                if json {
                    let items: Vec<Value> = store
                        .list()
                        .await?
                        .into_iter()
                        .map(|item| {
                            serde_json::json!({"state_id": item.state_id, "type": item.state_type,
                                "timestamp": item.timestamp, "publisher": item.publisher})
                        })
                        .collect();
                    return Ok(crate::pretty(&Value::Array(items)));
                }
                let mut lines = vec![format!("{:<32} {:<7} {:<26} PUBLISHER", "STATE_ID", "TYPE", "TIMESTAMP")];
                for item in store.list().await? {
                    let kind = serde_json::to_value(item.state_type)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    lines.push(format!(
                        "{:<32} {kind:<7} {:<26} {}",
                        item.state_id,
                        item.timestamp,
                        item.publisher.unwrap_or_default()
                    ));
                }
                Ok(lines.join("\n"))
            }
        }
    }
}

/// The realm's state store, configured from the environment and the realm entry's config.
async fn state_store(target: &Target) -> Result<StateStore> {
    let (ports, names) = connect(target).await?;
    let realm_config = catalog(&ports, names.clone()).realm().await.ok().and_then(|r| r.config);
    let config = Config::new(std::env::vars(), realm_config.as_ref());
    Ok(StateStore::new(ports.tables, ports.keys, names, config))
}
