//! What the operator commands decide, apart from reading and writing: glob matching, dump file
//! names and the realm's tables (`lava dump`, `backup`, `restore`), the hygiene checks (`lava
//! check`), connection usage (`lava conn-usage`) and job activity (`lava job activity`).

pub mod activity;
pub mod checks;
pub mod checksum;
pub mod dag_gen;
pub mod dag_show;
pub mod project;
pub mod ps;
pub mod schema;

use serde_json::Value;

use shared::model::JobSpec;
use shared::names::ResourceNames;

/// Whether `text` matches the glob `pattern` as Python's `fnmatch` does (the project's
/// [`fnmatch`](shared::model::values::fnmatch)), optionally without regard to case.
pub fn glob_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    if ignore_case {
        shared::model::values::fnmatch(&pattern.to_lowercase(), &text.to_lowercase())
    } else {
        shared::model::values::fnmatch(pattern, text)
    }
}

/// A key made safe as a file name, as the original's dumps name their files: ASCII only, lower
/// case, characters other than word characters, `.`, `/`, `=`, `+`, `-` and spaces dropped,
/// runs of `/` and `.` made one `.`, runs of spaces and `-` made one `-`.
pub fn file_name(key: &str) -> String {
    let kept: String = key
        .chars()
        .filter(|c| c.is_ascii())
        .filter(|c| c.is_ascii_alphanumeric() || "_./=+- \t".contains(*c))
        .collect::<String>()
        .trim()
        .to_lowercase();
    let mut out = String::new();
    let mut last: Option<char> = None;
    for c in kept.chars() {
        let mapped = match c {
            '/' | '.' => '.',
            ' ' | '\t' | '-' => '-',
            other => other,
        };
        if (mapped == '.' || mapped == '-') && last == Some(mapped) {
            continue;
        }
        out.push(mapped);
        last = Some(mapped);
    }
    out.trim_matches(|c| c == '.' || c == '-').to_string()
}

/// The tables `lava dump`, `backup` and `restore` handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// Job specs (`job_id`).
    Jobs,
    /// Connection specs (`conn_id`).
    Connections,
    /// S3 triggers (`trigger_id`).
    S3triggers,
    /// Realm entries (`realm`), account-wide.
    Realms,
}

impl TableKind {
    /// The four, in backup order.
    pub const ALL: [TableKind; 4] = [TableKind::Jobs, TableKind::Connections, TableKind::S3triggers, TableKind::Realms];

    /// The name the commands and backups use (`jobs`, `connections`, `s3triggers`, `realms`).
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Jobs => "jobs",
            TableKind::Connections => "connections",
            TableKind::S3triggers => "s3triggers",
            TableKind::Realms => "realms",
        }
    }

    /// The table named by `text`: any unique start of a name, or `triggers`.
    pub fn parse(text: &str) -> Result<TableKind, String> {
        let text = text.trim().to_lowercase();
        if text == "triggers" {
            return Ok(TableKind::S3triggers);
        }
        let found: Vec<TableKind> =
            Self::ALL.into_iter().filter(|k| !text.is_empty() && k.name().starts_with(&text)).collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!("{text}: not a table (jobs, connections, s3triggers, realms)")),
            _ => Err(format!("{text}: ambiguous ({})", found.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "))),
        }
    }

    /// The key attribute of its items.
    pub fn key(self) -> &'static str {
        match self {
            TableKind::Jobs => "job_id",
            TableKind::Connections => "conn_id",
            TableKind::S3triggers => "trigger_id",
            TableKind::Realms => "realm",
        }
    }

    /// Its table in `names`' realm.
    pub fn table(self, names: &ResourceNames) -> &str {
        match self {
            TableKind::Jobs => &names.jobs_table,
            TableKind::Connections => &names.connections_table,
            TableKind::S3triggers => &names.s3triggers_table,
            TableKind::Realms => &names.realms_table,
        }
    }
}

/// The key of an item of `kind` (empty when it has none).
pub fn item_key(kind: TableKind, item: &serde_json::Map<String, Value>) -> String {
    item.get(kind.key()).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Jobs naming a connection that matches any of `patterns`, with the connections matched, by
/// job id.
pub fn connection_usage(jobs: &[JobSpec], patterns: &[String], ignore_case: bool) -> Vec<(String, Vec<String>)> {
    let mut used = Vec::new();
    for job in jobs {
        let matched: Vec<String> = job
            .connection_ids()
            .into_iter()
            .filter(|id| patterns.iter().any(|p| glob_match(p, id, ignore_case)))
            .collect();
        if !matched.is_empty() {
            used.push((job.job_id.clone(), matched));
        }
    }
    used.sort();
    used
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs_match_as_fnmatch_does() {
        for (pattern, text, expected) in [
            ("*", "anything", true),
            ("redshift*", "redshift-prod", true),
            ("*redshift*", "my-redshift-prod", true),
            ("*redshift", "redshift-prod", false),
            ("r?d", "red", true),
            ("r?d", "rd", false),
            ("[abc]x", "bx", true),
            ("[!abc]x", "bx", false),
            ("[a-c]x", "cx", true),
            ("a*b*c", "a-b-x-c", true),
            ("a*b*c", "a-b-x", false),
            ("demo/*", "demo/hello", true),
            ("", "", true),
        ] {
            assert_eq!(glob_match(pattern, text, false), expected, "{pattern} {text}");
        }
        assert!(glob_match("RED*", "redshift", true) && !glob_match("RED*", "redshift", false));
    }

    #[test]
    fn file_names_are_made_as_the_original_makes_them() {
        assert_eq!(file_name("demo/hello"), "demo.hello");
        assert_eq!(file_name("Finance/Daily Load--v2"), "finance.daily-load-v2");
        assert_eq!(file_name("a//b..c"), "a.b.c");
        assert_eq!(file_name("x:y*z"), "xyz");
        assert_eq!(file_name("/lead/"), "lead");
    }

    #[test]
    fn tables_are_named_by_any_unique_start() {
        assert_eq!(TableKind::parse("j"), Ok(TableKind::Jobs));
        assert_eq!(TableKind::parse("conn"), Ok(TableKind::Connections));
        assert_eq!(TableKind::parse("triggers"), Ok(TableKind::S3triggers));
        assert_eq!(TableKind::parse("r"), Ok(TableKind::Realms));
        assert!(TableKind::parse("x").unwrap_err().contains("not a table"));
    }

    #[test]
    fn connection_usage_finds_the_connection_parameters() {
        let jobs: Vec<JobSpec> = [
            json!({"job_id": "a", "type": "sql", "worker": "core", "parameters": {"conn_id": "redshift-prod"}, "payload": "x.sql"}),
            json!({"job_id": "b", "type": "exe", "worker": "core", "parameters": {"connections": {"db": "pg-main", "rs": "redshift-dev"}}, "payload": "x.sh"}),
            json!({"job_id": "c", "type": "db_from_s3", "worker": "core", "parameters": {"db_conn_id": "pg-main", "s3_conn_id": "aws-in", "bucket": "b", "key": "k", "schema": "s", "table": "t", "mode": "append"}}),
            json!({"job_id": "d", "type": "foreach", "worker": "core", "parameters": {"foreach": {"type": "query", "conn_id": "redshift-x", "query": "select 1"}}, "payload": "a"}),
            json!({"job_id": "e", "type": "cmd", "worker": "core", "payload": "true"}),
        ]
        .iter()
        .map(|v| JobSpec::from_value(v).unwrap())
        .collect();
        assert_eq!(jobs[1].connection_ids(), ["pg-main", "redshift-dev"]);
        assert_eq!(
            connection_usage(&jobs, &["redshift*".into()], false),
            [
                ("a".to_string(), vec!["redshift-prod".to_string()]),
                ("b".into(), vec!["redshift-dev".into()]),
                ("d".into(), vec!["redshift-x".into()])
            ]
        );
        assert_eq!(connection_usage(&jobs, &["PG-*".into()], true).len(), 2);
        assert!(connection_usage(&jobs, &["none".into()], false).is_empty());
    }
}
