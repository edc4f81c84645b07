//! The job `schedule` field: cron strings, `{crontab, from, to}` objects, or lists of both;
//! and cron itself: one reader of its timing strings, evaluated minute by minute in a
//! dispatcher's time zone with the daylight-saving rules of cron (cronie): a fixed-time job whose
//! wall-clock minute is skipped by a spring-forward change runs at the change; in a repeated
//! (fall-back) hour it runs once; jobs with a wildcard hour run by elapsed time in both cases.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
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

/// Checks the syntax of a cron timing string (see [`Cron::parse`]).
pub fn check_cron(crontab: &str) -> Result<(), String> {
    Cron::parse(crontab).map(|_| ())
}

/// A parsed cron expression.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    day_star: bool,
    weekday_star: bool,
    hour_star: bool,
    /// `@reboot`: never fires on a schedule tick.
    never: bool,
}

/// The values each cron field allows: minute, hour, day, month, weekday (7 is Sunday too).
const FIELD_RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];

/// The bits of one cron field (`index`: minute, hour, day, month, weekday; weekday 7 is 0),
/// or `None` when the field is not numbers, names, ranges, steps and lists within its range.
fn field_mask(field: &str, index: usize) -> Option<u64> {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let (lo, hi) = FIELD_RANGES[index];
    let number = |text: &str| -> Option<u32> {
        let lower = text.to_ascii_lowercase();
        let named = match index {
            3 => MONTHS.iter().position(|m| *m == lower).map(|p| p as u32 + 1),
            4 => DAYS.iter().position(|d| *d == lower).map(|p| p as u32),
            _ => None,
        };
        named.or_else(|| text.parse().ok()).filter(|n| (lo..=hi).contains(n))
    };
    let mut mask = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s.parse::<u32>().ok().filter(|n| *n > 0)?)),
            None => (part, None),
        };
        let (start, end) = match range.split_once('-') {
            _ if range == "*" => (lo, hi),
            Some((a, b)) => Some((number(a)?, number(b)?)).filter(|(a, b)| a <= b)?,
            None => {
                let first = number(range)?;
                (first, if step.is_some() { hi } else { first })
            }
        };
        let mut v = start;
        while v <= end {
            mask |= 1 << v;
            v += step.unwrap_or(1);
        }
    }
    if index == 4 && mask & (1 << 7) != 0 {
        mask = (mask | 1) & !(1 << 7);
    }
    Some(mask)
}

impl Cron {
    /// Reads a cron timing string: five fields of numbers, ranges, steps, lists and month and
    /// day names, or one of the `@` forms (`@reboot` never fires on a tick).
    pub fn parse(crontab: &str) -> Result<Cron, String> {
        let expanded = match crontab {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            "@reboot" => {
                return Ok(Cron { never: true, ..Cron::default() });
            }
            other if other.starts_with('@') => {
                let known = CRON_KEYWORDS.join(", ");
                return Err(format!("bad cron schedule {crontab:?}: unknown @ form (known: {known})"));
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "bad cron schedule {crontab:?}: expected 5 fields (minute hour day month weekday), found {}",
                fields.len()
            ));
        }
        const NAMES: [&str; 5] = ["minute", "hour", "day of month", "month", "day of week"];
        let mut masks = [0u64; 5];
        for (i, field) in fields.iter().enumerate() {
            masks[i] = field_mask(field, i).ok_or_else(|| {
                let (lo, hi) = FIELD_RANGES[i];
                format!("bad cron schedule {crontab:?}: bad {} field {field:?} (allowed {lo}-{hi})", NAMES[i])
            })?;
        }
        Ok(Cron {
            minutes: masks[0],
            hours: masks[1] as u32,
            days: masks[2] as u32,
            months: masks[3] as u16,
            weekdays: masks[4] as u8,
            day_star: fields[2].starts_with('*'),
            weekday_star: fields[4].starts_with('*'),
            hour_star: fields[1].starts_with('*'),
            never: false,
        })
    }

    /// Whether the wall-clock minute `at` matches. As in cron, when both day fields are
    /// restricted a day matching either one matches.
    pub fn matches(&self, at: DateTime) -> bool {
        if self.never {
            return false;
        }
        let weekday = at.weekday().to_sunday_zero_offset() as u32;
        let day = self.days & (1 << at.day()) != 0;
        let dow = self.weekdays & (1 << weekday) != 0;
        let day_ok = if self.day_star || self.weekday_star { day && dow } else { day || dow };
        self.minutes & (1 << at.minute()) != 0
            && self.hours & (1 << at.hour()) != 0
            && self.months & (1 << at.month()) != 0
            && day_ok
    }

    /// The minutes (UTC instants, whole minutes) in `(after, upto]` at which the job fires in
    /// zone `tz`.
    pub fn fire_times(&self, tz: &TimeZone, after: Timestamp, upto: Timestamp) -> Vec<Timestamp> {
        let mut fires = Vec::new();
        if self.never {
            return fires;
        }
        let minute = SignedDuration::from_mins(1);
        let mut at = floor_minute(after).checked_add(minute).expect("timestamps in range");
        while at <= upto {
            let here = at.to_zoned(tz.clone()).datetime();
            let before = at.checked_sub(minute).expect("in range").to_zoned(tz.clone()).datetime();
            let step = here.duration_since(before);
            let fires_now = if step < minute {
                // The clock went back: this wall-clock minute came round before. A fixed-time
                // job ran then; a wildcard-hour job runs by elapsed time.
                self.matches(here) && (self.hour_star || !occurred_before(tz, here, at))
            } else if step > minute {
                // The clock went forward: wall-clock minutes were skipped. Fixed-time jobs due
                // in the gap run now.
                self.matches(here) || (!self.hour_star && skipped(before, here).any(|w| self.matches(w)))
            } else {
                self.matches(here) && (self.hour_star || !occurred_before(tz, here, at))
            };
            if fires_now {
                fires.push(at);
            }
            at = at.checked_add(minute).expect("in range");
        }
        fires
    }
}

/// Whether wall-clock `local` also maps to an instant before `at` (the second pass of a
/// repeated hour).
fn occurred_before(tz: &TimeZone, local: DateTime, at: Timestamp) -> bool {
    let ambiguous = tz.to_ambiguous_timestamp(local);
    ambiguous.is_ambiguous() && ambiguous.earlier().is_ok_and(|first| first < at)
}

fn skipped(before: DateTime, here: DateTime) -> impl Iterator<Item = DateTime> {
    let mut w = before;
    std::iter::from_fn(move || {
        w = w.checked_add(SignedDuration::from_mins(1)).ok()?;
        (w < here).then_some(w)
    })
}

/// `at` truncated to its minute.
pub fn floor_minute(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second().div_euclid(60) * 60).expect("in range")
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
