//! Reading specs from files: JSON or YAML, one record or a list of records per file.

use serde_json::Value;
use std::path::Path;

use crate::error::{Error, Result};

/// Reads every record in a JSON or YAML file (by extension; `.yaml`/`.yml` are YAML, anything
/// else JSON). A file may hold one map or a list of maps.
pub fn read_records(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let is_yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
    parse_records(&text, is_yaml).map_err(|reason| Error::refused(path.display().to_string(), reason))
}

/// Parses JSON or YAML text into records (a map, or a list of maps).
pub fn parse_records(text: &str, yaml: bool) -> std::result::Result<Vec<Value>, String> {
    let value: Value = if yaml {
        serde_norway::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?
    } else {
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?
    };
    match value {
        Value::Array(items) => {
            if let Some(i) = items.iter().position(|v| !v.is_object()) {
                return Err(format!("item {i} is not a map"));
            }
            Ok(items)
        }
        Value::Object(_) => Ok(vec![value]),
        _ => Err("expected a map or a list of maps".into()),
    }
}

/// Every `.json`, `.yaml` and `.yml` file directly in a folder, sorted by name.
pub fn spec_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "yaml" | "yml")))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_give_the_same_records() {
        let yaml = "job_id: a/b\ntype: cmd\nworker: core\npayload: echo hi\nmax_tries: 2\nenabled: true\n";
        let json = r#"{"job_id": "a/b", "type": "cmd", "worker": "core", "payload": "echo hi", "max_tries": 2, "enabled": true}"#;
        assert_eq!(parse_records(yaml, true).unwrap(), parse_records(json, false).unwrap());
    }

    #[test]
    fn lists_and_errors() {
        assert_eq!(parse_records("[{\"a\": 1}, {\"b\": 2}]", false).unwrap().len(), 2);
        assert_eq!(parse_records("[{\"a\": 1}, 3]", false), Err("item 1 is not a map".into()));
        assert!(parse_records("a: [", true).unwrap_err().starts_with("not valid YAML"));
        assert_eq!(parse_records("42", false), Err("expected a map or a list of maps".into()));
    }
}
