//! The job `schedule` field: cron strings, `{crontab, from, to}` objects, or lists of both.

use serde_json::Value;

use super::validation::{Report, kind_of};

/// The `@` forms a crontab accepts.
const CRON_KEYWORDS: &[&str] =
    &["@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/// One entry of a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleEntry {
    /// Cron timing (five fields, or an `@` form).
    pub crontab: String,
    /// Active from (inclusive), ISO text as written.
    pub from: Option<String>,
    /// Active until (inclusive), ISO text as written.
    pub to: Option<String>,
}

/// Reads a schedule value into its entries. Empty forms (null, `""`, `"--"`) give none.
pub fn schedule_entries(value: &Value) -> Result<Vec<ScheduleEntry>, String> {
    let one = |v: &Value| -> Result<Option<ScheduleEntry>, String> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) if s.trim().is_empty() || s.trim() == "--" => Ok(None),
            Value::String(s) => Ok(Some(ScheduleEntry { crontab: s.trim().to_string(), from: None, to: None })),
            Value::Object(m) => {
                let mut unexpected: Vec<&str> =
                    m.keys().map(String::as_str).filter(|k| !["crontab", "from", "to"].contains(k)).collect();
                unexpected.sort_unstable();
                if !unexpected.is_empty() {
                    return Err(format!("Unexpected keys: {}", unexpected.join(", ")));
                }
                let text = |k: &str| -> Result<Option<String>, String> {
                    match m.get(k) {
                        None | Some(Value::Null) => Ok(None),
                        Some(Value::String(s)) => Ok(Some(s.clone())),
                        Some(other) => Err(format!("{k} must be a string, not {}", kind_of(other))),
                    }
                };
                let crontab = text("crontab")?.ok_or("Missing keys: crontab")?;
                Ok(Some(ScheduleEntry { crontab: crontab.trim().to_string(), from: text("from")?, to: text("to")? }))
            }
            other => Err(format!("must be a cron string or a scheduling object, not {}", kind_of(other))),
        }
    };
    match value {
        Value::Array(items) => {
            let mut entries = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if let Some(entry) = one(item).map_err(|e| format!("[{i}]: {e}"))? {
                    entries.push(entry);
                }
            }
            Ok(entries)
        }
        other => Ok(one(other)?.into_iter().collect()),
    }
}

/// Checks a schedule value, adding errors under `path`.
pub fn validate_schedule(value: &Value, path: &str, report: &mut Report) {
    match schedule_entries(value) {
        Err(reason) => report.error(path, reason),
        Ok(entries) => {
            for entry in entries {
                if let Err(reason) = check_cron(&entry.crontab) {
                    report.error(path, reason);
                }
                for (name, when) in [("from", &entry.from), ("to", &entry.to)] {
                    if let Some(text) = when
                        && text.parse::<jiff::Timestamp>().is_err()
                        && text.parse::<jiff::civil::DateTime>().is_err()
                    {
                        report.error(format!("{path}.{name}"), format!("bad timestamp {text:?}"));
                    }
                }
            }
        }
    }
}

/// Checks the syntax of a cron timing string: five fields of numbers, ranges, steps, lists and
/// month/day names, or one of the `@` forms.
pub fn check_cron(crontab: &str) -> Result<(), String> {
    if crontab.starts_with('@') {
        return if CRON_KEYWORDS.contains(&crontab) {
            Ok(())
        } else {
            Err(format!("bad cron schedule {crontab:?}: unknown @ form (known: {})", CRON_KEYWORDS.join(", ")))
        };
    }
    let fields: Vec<&str> = crontab.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "bad cron schedule {crontab:?}: expected 5 fields (minute hour day month weekday), found {}",
            fields.len()
        ));
    }
    const NAMES: [&str; 5] = ["minute", "hour", "day of month", "month", "day of week"];
    const RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    for (i, field) in fields.iter().enumerate() {
        let (lo, hi) = RANGES[i];
        let number = |text: &str| -> Option<u32> {
            let lower = text.to_ascii_lowercase();
            let named = match i {
                3 => MONTHS.iter().position(|m| *m == lower).map(|p| p as u32 + 1),
                4 => DAYS.iter().position(|d| *d == lower).map(|p| p as u32),
                _ => None,
            };
            named.or_else(|| text.parse().ok()).filter(|n| (lo..=hi).contains(n))
        };
        let valid = field.split(',').all(|part| {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            let step_ok = step.is_none_or(|s| s.parse::<u32>().is_ok_and(|n| n > 0));
            let range_ok = range == "*"
                || match range.split_once('-') {
                    Some((a, b)) => number(a).zip(number(b)).is_some_and(|(a, b)| a <= b),
                    None => number(range).is_some(),
                };
            step_ok && range_ok
        });
        if !valid {
            return Err(format!("bad cron schedule {crontab:?}: bad {} field {field:?} (allowed {lo}-{hi})", NAMES[i]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cron_syntax() {
        for good in ["0 12 * * 1-5", "0-59/15 * * * *", "15 6 * jan,Feb mon-fri", "@daily", "*/5 0,12 1 * 7"] {
            assert_eq!(check_cron(good), Ok(()), "{good}");
        }
        for bad in ["0 12 * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "@often", "5-1 * * * *", "*/0 * * * *"] {
            assert!(check_cron(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn schedule_forms() {
        let v = json!(["15 6 * * 1-5", {"crontab": "15 8 * * 0,6", "from": "2025-01-01T00:00:00+11:00"}, "--"]);
        let entries = schedule_entries(&v).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].from.as_deref(), Some("2025-01-01T00:00:00+11:00"));
        assert_eq!(
            schedule_entries(&json!({"crontab": "* * * * *", "every": 2})),
            Err("Unexpected keys: every".into())
        );
        assert!(schedule_entries(&json!(null)).unwrap().is_empty());
    }
}
