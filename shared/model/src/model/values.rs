//! Value formats shared by every record: durations (`nnX`), sizes (`nnU`), config booleans,
//! S3 locations and timestamps.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A duration as written in specs: a number of seconds, or a string `nnX` with X in `s m h d w`
/// (missing unit = seconds). Kept as written so records round-trip unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DurationSpec {
    /// A bare number of seconds.
    Seconds(f64),
    /// A `nnX` string.
    Text(String),
}

impl DurationSpec {
    /// The duration in seconds, or the reason it cannot be read.
    pub fn seconds(&self) -> Result<f64, String> {
        match self {
            DurationSpec::Seconds(s) => Ok(*s),
            DurationSpec::Text(t) => parse_duration(t),
        }
    }
}

impl std::fmt::Display for DurationSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DurationSpec::Seconds(s) => write!(f, "{s}"),
            DurationSpec::Text(t) => f.write_str(t),
        }
    }
}

/// Reads a duration string (`10m`, `1.5h`, `30`, ` 2 d `) into seconds.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, multiplier) = match t.chars().last() {
        Some('w') => (&t[..t.len() - 1], 604_800.0),
        Some('d') => (&t[..t.len() - 1], 86_400.0),
        Some('h') => (&t[..t.len() - 1], 3_600.0),
        Some('m') => (&t[..t.len() - 1], 60.0),
        Some('s') => (&t[..t.len() - 1], 1.0),
        _ => (t, 1.0),
    };
    let value = parse_plain_number(number.trim())
        .ok_or_else(|| format!("bad duration {text:?}: expected a number with an optional unit s, m, h, d or w"))?;
    Ok(value * multiplier)
}

/// Reads a size (`100K`, `2MiB`, `512`) into bytes. Units are powers of 1000 (`K`, `KB`, `M`…)
/// or of 1024 (`KiB`, `MiB`…), case-sensitive.
pub fn parse_size(text: &str) -> Result<u64, String> {
    const UNITS: &[(&str, f64)] = &[
        ("KiB", 1024.0),
        ("MiB", 1024.0 * 1024.0),
        ("GiB", 1024.0 * 1024.0 * 1024.0),
        ("TiB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("PiB", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("KB", 1e3),
        ("MB", 1e6),
        ("GB", 1e9),
        ("TB", 1e12),
        ("PB", 1e15),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("B", 1.0),
    ];
    let t = text.trim();
    let (number, multiplier) =
        UNITS.iter().find_map(|(unit, m)| t.strip_suffix(unit).map(|n| (n, *m))).unwrap_or((t, 1.0));
    let value = parse_plain_number(number.trim())
        .filter(|v| *v >= 0.0)
        .ok_or_else(|| format!("bad size {text:?}: expected a number with an optional unit such as K, MB or MiB"))?;
    Ok((value * multiplier) as u64)
}

/// A decimal number with optional sign, fraction and exponent; no `inf`/`nan`.
fn parse_plain_number(text: &str) -> Option<f64> {
    let ok = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    if ok { text.parse().ok() } else { None }
}

/// Reads a configuration boolean: a real boolean, `true/t/yes/y` or `false/f/no/n`
/// (case-insensitive), or an integer (non-zero is true).
pub fn parse_config_bool(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => Ok(n.as_f64().is_some_and(|v| v != 0.0)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" => Ok(true),
            "false" | "f" | "no" | "n" => Ok(false),
            other => other
                .parse::<i64>()
                .map(|n| n != 0)
                .map_err(|_| format!("bad boolean {s:?}: expected true/false, yes/no or an integer")),
        },
        other => Err(format!("bad boolean {other}: expected true/false, yes/no or an integer")),
    }
}

/// An S3 location split into bucket and key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// Bucket name.
    pub bucket: String,
    /// Key or prefix, without leading or trailing `/`.
    pub key: String,
}

impl S3Location {
    /// Parses `s3://bucket/prefix` (also `s3:bucket/prefix`, `bucket/prefix`, `/bucket/prefix`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest =
            text.strip_prefix("s3://").or_else(|| text.strip_prefix("s3:")).unwrap_or(text).trim_start_matches('/');
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("bad S3 location {text:?}: no bucket"));
        }
        Ok(S3Location { bucket: bucket.to_string(), key: key.trim_matches('/').to_string() })
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.key)
        }
    }
}

/// Parses an ISO 8601 timestamp that carries a UTC offset (`2025-03-04T06:15:00+11:00`, `…Z`).
pub fn parse_timestamp(text: &str) -> Result<jiff::Timestamp, String> {
    text.trim().parse::<jiff::Timestamp>().map_err(|e| format!("bad timestamp {text:?}: {e}"))
}

/// Formats an instant the way lava writes timestamps: whole seconds with the UTC offset of the
/// given zone, e.g. `2025-03-04T10:15:30+11:00`.
pub fn format_timestamp(at: &jiff::Zoned) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// At most this many characters of a value from outside (a message field, a request line) are
/// echoed into a log line, an event or a dead-letter reason.
pub const ECHO_LIMIT: usize = 1000;

/// `text` cut to `max_chars` characters, saying how many were cut.
pub fn bounded(text: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        None => std::borrow::Cow::Borrowed(text),
        Some((at, _)) => {
            let cut = text[at..].chars().count();
            std::borrow::Cow::Owned(format!("{}… [{cut} more characters cut]", &text[..at]))
        }
    }
}

/// Python's `fnmatch.fnmatchcase`: `*` (which also matches `/`), `?`, `[abc]`, `[!abc]`, `[a-z]`.
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    fn matches(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| matches(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && matches(&p[1..], &t[1..]),
            Some('[') => {
                let Some(end) = p.iter().skip(2).position(|c| *c == ']').map(|i| i + 2) else {
                    return t.first() == Some(&'[') && matches(&p[1..], &t[1..]);
                };
                let Some(c) = t.first() else { return false };
                let (negate, set) = match p[1] {
                    '!' => (true, &p[2..end]),
                    _ => (false, &p[1..end]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= (set[i]..=set[i + 2]).contains(c);
                        i += 3;
                    } else {
                        hit |= set[i] == *c;
                        i += 1;
                    }
                }
                hit != negate && matches(&p[end + 1..], &t[1..])
            }
            Some(c) => t.first() == Some(c) && matches(&p[1..], &t[1..]),
        }
    }
    matches(&pattern.chars().collect::<Vec<_>>(), &text.chars().collect::<Vec<_>>())
}

/// A boolean parameter. Accepts real booleans and the config forms (`"yes"`, `"false"`, `1`):
/// the original tested truthiness, which made `"false"` true; here it means false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        parse_config_bool(&v).map(Flag).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_and_says_so() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("abcdef", 3), "abc… [3 more characters cut]");
        assert_eq!(bounded("ééééé", 2), "éé… [3 more characters cut]");
        let long = "x".repeat(200_000);
        assert!(bounded(&long, ECHO_LIMIT).len() < ECHO_LIMIT + 40);
    }
    use serde_json::json;

    #[test]
    fn durations_read_like_the_original() {
        let cases = [
            ("10m", 600.0),
            ("1.5h", 5400.0),
            ("30", 30.0),
            (" 2 d ", 172_800.0),
            ("1w", 604_800.0),
            ("+.5s", 0.5),
            ("1e2s", 100.0),
            ("-3s", -3.0),
        ];
        for (text, seconds) in cases {
            assert_eq!(parse_duration(text), Ok(seconds), "{text}");
        }
        for bad in ["", "m", "10x", "ten minutes", "10 M", "inf", "nan"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn sizes_use_decimal_and_binary_units() {
        let cases =
            [("100K", 100_000), ("10M", 10_000_000), ("2MiB", 2_097_152), ("512", 512), ("1KiB", 1024), ("3B", 3)];
        for (text, bytes) in cases {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        assert!(parse_size("10mb").is_err());
        assert!(parse_size("-1K").is_err());
    }

    #[test]
    fn config_booleans() {
        for (v, b) in
            [(json!(true), true), (json!("Yes"), true), (json!(" f "), false), (json!("0"), false), (json!(2), true)]
        {
            assert_eq!(parse_config_bool(&v), Ok(b), "{v}");
        }
        assert!(parse_config_bool(&json!("maybe")).is_err());
    }

    #[test]
    fn s3_locations_accept_the_original_forms() {
        for text in ["s3://b/p/q", "s3:b/p/q", "b/p/q/", "/b/p/q"] {
            assert_eq!(
                S3Location::parse(text).unwrap(),
                S3Location { bucket: "b".into(), key: "p/q".into() },
                "{text}"
            );
        }
        assert!(S3Location::parse("s3://").is_err());
    }

    #[test]
    fn timestamps_need_an_offset() {
        assert!(parse_timestamp("2025-03-04T06:15:00+11:00").is_ok());
        assert!(parse_timestamp("2025-03-04T06:15:00Z").is_ok());
        assert!(parse_timestamp("2025-03-04T06:15:00").is_err());
        let at = jiff::Timestamp::from_second(1_741_032_930).unwrap().in_tz("Australia/Sydney").unwrap();
        assert_eq!(format_timestamp(&at), "2025-03-04T07:15:30+11:00");
    }
}
