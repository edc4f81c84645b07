//! Resource names of a realm, derived in one place. Table and worker-queue names are the
//! original's (`lava.<realm>.jobs`, `lava-<realm>-<worker>`), so existing realms keep working.
//! Every name can be overridden from the environment; code never builds names elsewhere.

/// One DynamoDB index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    /// Index name.
    pub name: &'static str,
    /// Hash key attribute (string).
    pub hash_key: &'static str,
    /// Range key attribute (string).
    pub range_key: &'static str,
    /// Non-key attributes projected; `None` projects everything.
    pub include: Option<&'static [&'static str]>,
}

/// One DynamoDB table: keys (all strings), indexes and TTL attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// Table name.
    pub name: String,
    /// Hash key attribute.
    pub hash_key: &'static str,
    /// Range key attribute, if any.
    pub range_key: Option<&'static str>,
    /// Global secondary indexes.
    pub global_indexes: Vec<IndexDef>,
    /// Local secondary indexes.
    pub local_indexes: Vec<IndexDef>,
    /// TTL attribute, if any.
    pub ttl_attribute: Option<&'static str>,
    /// Provisioned read and write capacity units (the table and its indexes), as the original's
    /// template sets them; `None`: on-demand billing (this project's templates).
    pub capacity: Option<(i64, i64)>,
}

/// The names of every resource of one realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNames {
    /// Realm name.
    pub realm: String,
    /// `lava.realms` (account-wide).
    pub realms_table: String,
    /// `lava.<realm>.jobs`
    pub jobs_table: String,
    /// `lava.<realm>.connections`
    pub connections_table: String,
    /// `lava.<realm>.events`
    pub events_table: String,
    /// `lava.<realm>.state`
    pub state_table: String,
    /// `lava.<realm>.s3triggers`
    pub s3triggers_table: String,
    /// Queue feeding the dispatch Lambda: `lava-<realm>--dispatch` (a double hyphen, so it can
    /// never be a worker's queue: worker names start with a letter).
    pub dispatch_queue: String,
    /// Queue feeding the actions Lambda: `lava-<realm>--actions`.
    pub actions_queue: String,
}

/// Environment variables that override each name.
pub const NAME_OVERRIDES: &[&str] = &[
    "LAVA_REALMS_TABLE",
    "LAVA_JOBS_TABLE",
    "LAVA_CONNECTIONS_TABLE",
    "LAVA_EVENTS_TABLE",
    "LAVA_STATE_TABLE",
    "LAVA_S3TRIGGERS_TABLE",
    "LAVA_DISPATCH_QUEUE",
    "LAVA_ACTIONS_QUEUE",
];

impl ResourceNames {
    /// The default names of `realm`'s resources.
    pub fn for_realm(realm: &str) -> Self {
        ResourceNames {
            realm: realm.to_string(),
            realms_table: "lava.realms".into(),
            jobs_table: format!("lava.{realm}.jobs"),
            connections_table: format!("lava.{realm}.connections"),
            events_table: format!("lava.{realm}.events"),
            state_table: format!("lava.{realm}.state"),
            s3triggers_table: format!("lava.{realm}.s3triggers"),
            dispatch_queue: format!("lava-{realm}--dispatch"),
            actions_queue: format!("lava-{realm}--actions"),
        }
    }

    /// The SNS topic the original's producers publish dispatch requests to,
    /// `lava-<realm>-dispatch`; it feeds the dispatch queue.
    pub fn dispatch_topic(&self) -> String {
        format!("lava-{}-dispatch", self.realm)
    }

    /// Queue feeding the s3trigger Lambda with object notifications: `lava-<realm>--s3events`.
    pub fn s3events_queue(&self) -> String {
        format!("lava-{}--s3events", self.realm)
    }

    /// The default names, each replaced by its [`NAME_OVERRIDES`] variable where `lookup` has one.
    pub fn with_overrides(realm: &str, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut names = Self::for_realm(realm);
        let fields = [
            &mut names.realms_table,
            &mut names.jobs_table,
            &mut names.connections_table,
            &mut names.events_table,
            &mut names.state_table,
            &mut names.s3triggers_table,
            &mut names.dispatch_queue,
            &mut names.actions_queue,
        ];
        for (field, var) in fields.into_iter().zip(NAME_OVERRIDES) {
            if let Some(value) = lookup(var).filter(|v| !v.trim().is_empty()) {
                *field = value;
            }
        }
        names
    }

    /// A worker fleet's queue: `lava-<realm>-<worker>`.
    pub fn worker_queue(&self, worker: &str) -> String {
        format!("lava-{}-{worker}", self.realm)
    }

    /// The dead-letter queue of any of the realm's queues: `<queue>-dlq`.
    pub fn dead_letter_queue(queue: &str) -> String {
        format!("{queue}-dlq")
    }

    /// The bucket a locally created realm uses (`lava-<realm>`, `_` becoming `-`).
    pub fn local_bucket(&self) -> String {
        format!("lava-{}", self.realm.replace('_', "-"))
    }

    /// Every table as the original's realm template (`cfn/lava-realm.cfn.json`) makes it:
    /// [`Self::tables`] without [`OWN_INDEXES`].
    pub fn original_tables(&self) -> Vec<TableDef> {
        let mut tables = self.tables();
        for table in &mut tables {
            table.global_indexes.retain(|i| !OWN_INDEXES.contains(&i.name));
            // The template's default capacity parameters.
            table.capacity = Some(if table.name == self.events_table {
                (5, 5)
            } else if table.name == self.state_table {
                (3, 3)
            } else {
                (5, 1)
            });
        }
        tables
    }

    /// Every table of the realm with its keys, indexes and TTL, as the templates create them.
    pub fn tables(&self) -> Vec<TableDef> {
        let plain = |name: &String, hash_key| TableDef {
            name: name.clone(),
            hash_key,
            range_key: None,
            global_indexes: vec![],
            local_indexes: vec![],
            ttl_attribute: None,
            capacity: None,
        };
        vec![
            plain(&self.realms_table, "realm"),
            TableDef {
                global_indexes: vec![
                    IndexDef {
                        name: "dispatcher-index",
                        hash_key: "dispatcher",
                        range_key: "job_id",
                        include: Some(&["worker", "schedule"]),
                    },
                    IndexDef {
                        name: TYPE_INDEX,
                        hash_key: "type",
                        range_key: "job_id",
                        include: Some(&["worker", "enabled", "parameters"]),
                    },
                ],
                ..plain(&self.jobs_table, "job_id")
            },
            plain(&self.connections_table, "conn_id"),
            TableDef {
                range_key: Some("run_id"),
                global_indexes: vec![IndexDef {
                    name: RUN_INDEX,
                    hash_key: "run_id",
                    range_key: "job_id",
                    include: Some(&["status", "tu_event"]),
                }],
                local_indexes: vec![IndexDef {
                    name: "job_id-tu_event-index",
                    hash_key: "job_id",
                    range_key: "tu_event",
                    include: None,
                }],
                ttl_attribute: Some("ttl"),
                ..plain(&self.events_table, "job_id")
            },
            TableDef { ttl_attribute: Some("ttl"), ..plain(&self.state_table, "state_id") },
            TableDef {
                global_indexes: vec![IndexDef {
                    name: "s3trigger-index",
                    hash_key: "bucket",
                    range_key: "prefix",
                    include: None,
                }],
                ..plain(&self.s3triggers_table, "trigger_id")
            },
        ]
    }
}

/// The jobs table's index of jobs by type (this project's: finds the `lavasched` jobs, which
/// dispatchers are served, without reading the whole table every minute).
pub const TYPE_INDEX: &str = "type-index";
/// The events table's index of runs by run id (this project's: a pipeline's children share
/// their parent's; `lava run show`).
pub const RUN_INDEX: &str = "run_id-index";
/// The indexes this project adds to the original's tables: optional accelerators, each with a
/// path that works without it; `lava realm upgrade` adds them.
pub const OWN_INDEXES: [&str; 2] = [TYPE_INDEX, RUN_INDEX];

/// Checks a realm name: 3–11 characters, `[a-z][a-z0-9_]*` (no hyphen).
pub fn check_realm_name(realm: &str) -> Result<(), String> {
    let ok = (3..=11).contains(&realm.len())
        && realm.starts_with(|c: char| c.is_ascii_lowercase())
        && realm.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bad realm name {realm:?}: 3-11 characters, a lowercase letter then lowercase letters, digits or _"
        ))
    }
}

/// Checks a worker name: 3–11 characters, `[a-z][-a-z0-9_]*`.
pub fn check_worker_name(worker: &str) -> Result<(), String> {
    let ok = (3..=11).contains(&worker.len())
        && worker.starts_with(|c: char| c.is_ascii_lowercase())
        && worker.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bad worker name {worker:?}: 3-11 characters, a lowercase letter then lowercase letters, digits, - or _"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_names() {
        let n = ResourceNames::for_realm("prod01");
        assert_eq!(n.jobs_table, "lava.prod01.jobs");
        assert_eq!(n.realms_table, "lava.realms");
        assert_eq!(n.worker_queue("core"), "lava-prod01-core");
        assert_eq!(ResourceNames::dead_letter_queue(&n.dispatch_queue), "lava-prod01--dispatch-dlq");
        assert_eq!(n.s3events_queue(), "lava-prod01--s3events");
        assert_eq!(ResourceNames::for_realm("dev_1").local_bucket(), "lava-dev-1");
    }

    #[test]
    fn overrides_replace_single_names() {
        let n = ResourceNames::with_overrides("dev", |k| (k == "LAVA_JOBS_TABLE").then(|| "custom.jobs".to_string()));
        assert_eq!(n.jobs_table, "custom.jobs");
        assert_eq!(n.events_table, "lava.dev.events");
    }

    #[test]
    fn name_rules() {
        assert!(check_realm_name("prod01").is_ok());
        assert!(check_realm_name("pr-od").is_err());
        assert!(check_realm_name("ab").is_err());
        assert!(check_worker_name("core-bulk").is_ok());
        assert!(check_worker_name("Core").is_err());
    }
}
