//! `lava checksum`: the original's change-detection checksums on table entries (`lava-checksum`).
//! A checksum is `1;LC;<algorithm>;<hex digest>` in the entry's `x-lava-chk` field: the digest
//! of Python's `json.dumps(entry, sort_keys=True)` without the fields named `x-…`/`X-…` (lava's
//! metadata) or `$…` (JSON Schema's). This module computes, checks and reports; it does no I/O.

use serde_json::{Map, Value};
use sha2::Digest;

/// The field holding an entry's checksum.
pub const FIELD: &str = "x-lava-chk";

/// The algorithms this tool computes (the original's `hashlib.algorithms_guaranteed` less the
/// variable-length SHAKEs and BLAKE2).
pub const ALGORITHMS: [&str; 10] =
    ["md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_224", "sha3_256", "sha3_384", "sha3_512"];

/// How much a result matters; results below the chosen level are not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Nothing to do.
    Info,
    /// Worth a look.
    Warning,
    /// Something was (or would be) changed.
    Notice,
    /// A checksum does not match or cannot be read.
    Error,
}

impl Severity {
    /// The original's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Notice => "NOTICE",
            Severity::Error => "ERROR",
        }
    }

    /// The lowest severity shown with `verbose` `-v`s (NOTICE and above by default).
    pub fn threshold(verbose: u8) -> Severity {
        match verbose {
            0 => Severity::Notice,
            1 => Severity::Warning,
            _ => Severity::Info,
        }
    }
}

/// What was found or done for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The entry's key.
    pub id: String,
    /// What happened, in the original's words.
    pub description: String,
    /// How much it matters.
    pub severity: Severity,
}

/// A parsed checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// The format version (1).
    pub version: u32,
    /// The tag (`LC`; not compared).
    pub tag: String,
    /// The algorithm's name.
    pub algorithm: String,
    /// The hex digest.
    pub digest: String,
}

impl Checksum {
    /// Reads `1;LC;sha256;<hex>`, with the original's errors.
    pub fn parse(text: &str) -> Result<Checksum, String> {
        let parts: Vec<&str> = text.split(';').collect();
        let [version, tag, algorithm, digest] = parts[..] else { return Err("Malformed checksum".into()) };
        let version =
            version.trim().parse().map_err(|_| format!("invalid literal for int() with base 10: '{version}'"))?;
        if !ALGORITHMS.contains(&algorithm) {
            return Err(format!("Algorithm must be one of {}", ALGORITHMS.join(", ")));
        }
        Ok(Checksum { version, tag: tag.into(), algorithm: algorithm.into(), digest: digest.into() })
    }

    /// The checksum of `entry` by `algorithm`.
    pub fn of(entry: &Map<String, Value>, algorithm: &str) -> Result<Checksum, String> {
        Ok(Checksum { version: 1, tag: "LC".into(), algorithm: algorithm.into(), digest: digest(entry, algorithm)? })
    }

    /// Whether it is the checksum of `entry` (by its own algorithm; the tag aside).
    pub fn holds_for(&self, entry: &Map<String, Value>) -> Result<bool, String> {
        if self.version != 1 {
            return Err("Only checksum format version 1 is currently supported".into());
        }
        Ok(digest(entry, &self.algorithm)? == self.digest)
    }

    /// Whether two checksums are the same (the tag aside, as the original compares them).
    pub fn same(&self, other: &Checksum) -> bool {
        (self.version, &self.algorithm, &self.digest) == (other.version, &other.algorithm, &other.digest)
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{};{};{};{}", self.version, self.tag, self.algorithm, self.digest)
    }
}

/// The hex digest of an entry's fields (metadata aside) as Python's `json.dumps` prints them.
pub fn digest(entry: &Map<String, Value>, algorithm: &str) -> Result<String, String> {
    let kept: Map<String, Value> = entry
        .iter()
        .filter(|(k, _)| !(k.starts_with("x-") || k.starts_with("X-") || k.starts_with('$')))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let text = shared::render::python::json_dumps_with(&Value::Object(kept), None, true);
    let bytes = text.as_bytes();
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Ok(match algorithm {
        "md5" => hex(&md5::Md5::digest(bytes)),
        "sha1" => hex(&sha1::Sha1::digest(bytes)),
        "sha224" => hex(&sha2::Sha224::digest(bytes)),
        "sha256" => hex(&sha2::Sha256::digest(bytes)),
        "sha384" => hex(&sha2::Sha384::digest(bytes)),
        "sha512" => hex(&sha2::Sha512::digest(bytes)),
        "sha3_224" => hex(&sha3::Sha3_224::digest(bytes)),
        "sha3_256" => hex(&sha3::Sha3_256::digest(bytes)),
        "sha3_384" => hex(&sha3::Sha3_384::digest(bytes)),
        "sha3_512" => hex(&sha3::Sha3_512::digest(bytes)),
        other => return Err(format!("Algorithm must be one of {}: not {other}", ALGORITHMS.join(", "))),
    })
}

/// `check`: whether each entry's checksum holds.
pub fn check(id: &str, entry: &Map<String, Value>) -> Outcome {
    let outcome = |description: &str, severity| Outcome { id: id.into(), description: description.into(), severity };
    let Some(text) = entry.get(FIELD).and_then(Value::as_str).filter(|t| !t.is_empty()) else {
        return outcome("No checksum", Severity::Warning);
    };
    match Checksum::parse(text).and_then(|c| c.holds_for(entry)) {
        Ok(true) => outcome("OK", Severity::Info),
        Ok(false) => outcome("Invalid checksum", Severity::Error),
        Err(e) => outcome(&e, Severity::Error),
    }
}

/// What `add` or `update` does to one entry: the outcome, and the checksum to write if any.
pub fn add(id: &str, entry: &Map<String, Value>, algorithm: &str, dry_run: bool) -> (Outcome, Option<Checksum>) {
    if entry.get(FIELD).and_then(Value::as_str).is_some_and(|t| !t.is_empty()) {
        let outcome = Outcome { id: id.into(), description: "Has existing checksum".into(), severity: Severity::Info };
        return (outcome, None);
    }
    changed(id, entry, algorithm, dry_run, "added")
}

/// `update`: a missing checksum is left alone; one that holds by its own algorithm stays
/// unless `force`; any other is replaced.
pub fn update(
    id: &str,
    entry: &Map<String, Value>,
    algorithm: &str,
    (dry_run, force): (bool, bool),
) -> (Outcome, Option<Checksum>) {
    let info = |description: &str| {
        (Outcome { id: id.into(), description: description.into(), severity: Severity::Info }, None)
    };
    let Some(text) = entry.get(FIELD).and_then(Value::as_str) else { return info("No checksum") };
    let existing = Checksum::parse(text).ok();
    let new = match Checksum::of(entry, algorithm) {
        Ok(new) => new,
        Err(e) => return (Outcome { id: id.into(), description: e, severity: Severity::Error }, None),
    };
    if existing.as_ref().is_some_and(|e| e.same(&new)) {
        return info("Checksum OK");
    }
    if !force && existing.is_some_and(|e| e.holds_for(entry) == Ok(true)) {
        return info("Checksum different but OK");
    }
    changed(id, entry, algorithm, dry_run, "updated")
}

fn changed(
    id: &str,
    entry: &Map<String, Value>,
    algorithm: &str,
    dry_run: bool,
    done: &str,
) -> (Outcome, Option<Checksum>) {
    let description = if dry_run { format!("Checksum would be {done}") } else { format!("Checksum {done}") };
    let outcome = Outcome { id: id.into(), description, severity: Severity::Notice };
    match Checksum::of(entry, algorithm) {
        Ok(new) if !dry_run => (outcome, Some(new)),
        Ok(_) => (outcome, None),
        Err(e) => (Outcome { id: id.into(), description: e, severity: Severity::Error }, None),
    }
}

/// The outcomes at or above `least`, sorted by id, in one of the original's formats (`txt`,
/// `tty`, `md`, `html`); nothing when none is left.
pub fn report(outcomes: &[Outcome], least: Severity, format: &str, key_field: &str) -> String {
    let mut shown: Vec<&Outcome> = outcomes.iter().filter(|o| o.severity >= least).collect();
    shown.sort_by(|a, b| a.id.cmp(&b.id));
    if shown.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    match format {
        "tty" => {
            for o in shown {
                let colour = match o.severity {
                    Severity::Info => "\x1b[32m",
                    Severity::Warning => "\x1b[33m",
                    Severity::Notice => "\x1b[34m",
                    Severity::Error => "\x1b[31m",
                };
                out.push_str(&format!("{colour}{}: {}\x1b[0m\n", o.id, o.description));
            }
        }
        "md" => {
            out.push_str(&format!("|{key_field}|Severity|Description|\n|--|--|--|\n"));
            for o in shown {
                out.push_str(&format!("|{}|{}|{}|\n", o.id, o.severity.name(), o.description));
            }
        }
        "html" => out.push_str(&html_report(&shown, key_field)),
        _ => {
            for o in shown {
                out.push_str(&format!("{}: {} : {}\n", o.id, o.severity.name(), o.description));
            }
        }
    }
    out
}

/// The original's HTML report, as its template prints it.
fn html_report(shown: &[&Outcome], key_field: &str) -> String {
    let escape = |t: &str| {
        t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&#34;").replace('\'', "&#39;")
    };
    let mut out = format!(
        "<TABLE class=\"lava-checksum-report\">\n        <THEAD>\n            <TR>\n                <TH>{}</TH>\n                <TH>Severity</TH>\n                <TH>Description</TH>\n            </TR>\n        </THEAD>\n        <TBODY>",
        escape(key_field)
    );
    for o in shown {
        out.push_str(&format!(
            "\n            <TR class=\"result-{}\">\n                <TD>{}</TD>\n                <TD>{}</TD>\n                <TD>{}</TD>\n            </TR>\n        ",
            o.severity.name().to_lowercase(),
            escape(&o.id),
            o.severity.name(),
            escape(&o.description)
        ));
    }
    out.push_str("\n        </TBODY>\n    </TABLE>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_digest_is_the_original_s() {
        // Worked out with the original's DictChecksum on this entry.
        let e = entry(
            json!({"job_id": "demo/hello", "type": "cmd", "payload": "echo hi", "worker": "core", "enabled": true, "n": 3,
            "x-lava-note": "ignored", "$schema": "ignored"}),
        );
        assert_eq!(
            Checksum::of(&e, "sha256").unwrap().to_string(),
            "1;LC;sha256;501601e738ded8beff54c3baea6dbb75b4e8c5405bf172aaac0b8f745bafc962"
        );
    }

    #[test]
    fn check_add_and_update_say_what_the_original_says() {
        let mut e = entry(json!({"job_id": "a", "n": 1.5, "s": "é"}));
        assert_eq!(check("a", &e).description, "No checksum");
        let (done, new) = add("a", &e, "sha256", false);
        assert_eq!((done.description.as_str(), done.severity), ("Checksum added", Severity::Notice));
        e.insert(FIELD.into(), json!(new.unwrap().to_string()));
        assert_eq!(check("a", &e).description, "OK");
        assert_eq!(add("a", &e, "sha256", true).0.description, "Has existing checksum");
        assert_eq!(update("a", &e, "sha256", (false, false)).0.description, "Checksum OK");
        assert_eq!(update("a", &e, "md5", (false, false)).0.description, "Checksum different but OK");
        let (forced, md5) = update("a", &e, "md5", (false, true));
        assert_eq!(forced.description, "Checksum updated");
        assert!(md5.unwrap().to_string().starts_with("1;LC;md5;"));
        e.insert("n".into(), json!(2));
        assert_eq!(
            (check("a", &e).description.as_str(), check("a", &e).severity),
            ("Invalid checksum", Severity::Error)
        );
        assert_eq!(update("a", &e, "sha256", (true, false)).0.description, "Checksum would be updated");
        e.insert(FIELD.into(), json!("nonsense"));
        assert_eq!(check("a", &e).description, "Malformed checksum");
    }

    #[test]
    fn reports_are_sorted_filtered_and_formatted() {
        let o = |id: &str, d: &str, s| Outcome { id: id.into(), description: d.into(), severity: s };
        let all = [o("b", "Checksum added", Severity::Notice), o("a", "OK", Severity::Info)];
        assert_eq!(report(&all, Severity::Notice, "txt", "job_id"), "b: NOTICE : Checksum added\n");
        assert_eq!(
            report(&all, Severity::Info, "md", "job_id"),
            "|job_id|Severity|Description|\n|--|--|--|\n|a|INFO|OK|\n|b|NOTICE|Checksum added|\n"
        );
        assert_eq!(report(&all, Severity::Error, "txt", "job_id"), "");
        assert_eq!(report(&all, Severity::Notice, "tty", "job_id"), "\x1b[34mb: Checksum added\x1b[0m\n");
    }
}
