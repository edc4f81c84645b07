//! A job's schedule made ready to evaluate: its entries' cron expressions (read and evaluated
//! by the model's [`Cron`]) with their `from`/`to` windows, the minutes a schedule fires in a
//! range, and the next fire times (`lava schedule preview`).

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::model::schedule::ScheduleEntry;
pub use crate::model::schedule::{Cron, floor_minute};

/// A schedule entry made ready to evaluate.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The cron expression.
    pub cron: Cron,
    /// Active from (inclusive).
    pub from: Option<Timestamp>,
    /// Active until (inclusive).
    pub to: Option<Timestamp>,
}

fn instant(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let civil: DateTime = text
        .parse()
        .or_else(|_| text.parse::<jiff::civil::Date>().map(|d| d.to_datetime(jiff::civil::Time::midnight())))
        .map_err(|e| format!("bad timestamp {text:?}: {e}"))?;
    tz.to_ambiguous_timestamp(civil).compatible().map_err(|e| format!("bad timestamp {text:?}: {e}"))
}

impl Entry {
    /// Reads a schedule entry; `from`/`to` without an offset are in `tz`.
    pub fn new(entry: &ScheduleEntry, tz: &TimeZone) -> Result<Entry, String> {
        Ok(Entry {
            cron: Cron::parse(&entry.crontab)?,
            from: entry.from.as_deref().map(|t| instant(t, tz)).transpose()?,
            to: entry.to.as_deref().map(|t| instant(t, tz)).transpose()?,
        })
    }

    /// The original's activity rule: active iff `from ≤ at ≤ to`, or, when `from > to` (an
    /// exclusion window), `at ≤ to` or `at ≥ from`.
    pub fn active(&self, at: Timestamp) -> bool {
        let from = self.from.unwrap_or(Timestamp::MIN);
        let to = self.to.unwrap_or(Timestamp::MAX);
        if from <= to { from <= at && at <= to } else { at <= to || at >= from }
    }
}

/// Every minute in `(after, upto]` at which any entry of a schedule fires (each once).
pub fn schedule_fire_times(entries: &[Entry], tz: &TimeZone, after: Timestamp, upto: Timestamp) -> Vec<Timestamp> {
    let mut all: Vec<Timestamp> =
        entries.iter().flat_map(|e| e.cron.fire_times(tz, after, upto).into_iter().filter(|t| e.active(*t))).collect();
    all.sort();
    all.dedup();
    all
}

/// The next `count` fire times after `from`, looking at most `horizon_days` ahead.
pub fn next_fire_times(
    entries: &[Entry],
    tz: &TimeZone,
    from: Timestamp,
    count: usize,
    horizon_days: i64,
) -> Vec<Timestamp> {
    let mut found = Vec::new();
    let mut after = floor_minute(from);
    for _ in 0..horizon_days {
        let upto = after.checked_add(SignedDuration::from_hours(24)).expect("in range");
        found.extend(schedule_fire_times(entries, tz, after, upto));
        if found.len() >= count {
            break;
        }
        after = upto;
    }
    found.truncate(count);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn fires(cron: &str, zone: &str, from: &str, to: &str) -> Vec<String> {
        let tz = TimeZone::get(zone).unwrap();
        Cron::parse(cron)
            .unwrap()
            .fire_times(&tz, at(from), at(to))
            .iter()
            .map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %:z").to_string())
            .collect()
    }

    #[test]
    fn fields_and_day_rules() {
        let table: [(&str, &str, bool); 10] = [
            ("0 12 * * 1-5", "2025-03-04T12:00", true),
            ("0 12 * * 1-5", "2025-03-08T12:00", false),
            ("0-59/15 * * * *", "2025-03-04T10:45", true),
            ("0-59/15 * * * *", "2025-03-04T10:46", false),
            ("15 6 * jan,Feb mon-fri", "2025-02-03T06:15", true),
            ("0 0 1,15 * 5", "2025-03-07T00:00", true),
            ("0 0 1,15 * 5", "2025-03-15T00:00", true),
            ("0 0 1,15 * 5", "2025-03-13T00:00", false),
            ("30 4 * * 7", "2025-03-09T04:30", true),
            ("5/20 * * * *", "2025-03-09T04:45", true),
        ];
        for (cron, when, expected) in table {
            assert_eq!(Cron::parse(cron).unwrap().matches(when.parse().unwrap()), expected, "{cron} at {when}");
        }
        assert!(!Cron::parse("@reboot").unwrap().matches("2025-03-04T00:00".parse().unwrap()));
        assert!(Cron::parse("@daily").unwrap().matches("2025-03-04T00:00".parse().unwrap()));
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        // Sydney: clocks went back at 03:00 AEDT on 2025-04-06 (to 02:00 AEST), forward at
        // 02:00 AEST on 2025-10-05 (to 03:00 AEDT). New York went forward on 2025-03-09.
        let cases: [(&str, &str, &str, &str, &[&str]); 7] = [
            (
                "15 6 * * *",
                "Australia/Sydney",
                "2025-03-03T19:00:00Z",
                "2025-03-03T20:00:00Z",
                &["2025-03-04 06:15 +11:00"],
            ),
            (
                "30 2 * * *",
                "Australia/Sydney",
                "2025-04-05T14:00:00Z",
                "2025-04-05T18:00:00Z",
                &["2025-04-06 02:30 +11:00"],
            ),
            (
                "*/30 2 * * *",
                "Australia/Sydney",
                "2025-04-05T14:00:00Z",
                "2025-04-05T18:00:00Z",
                &["2025-04-06 02:00 +11:00", "2025-04-06 02:30 +11:00"],
            ),
            (
                "0,30 * * * *",
                "Australia/Sydney",
                "2025-04-05T15:10:00Z",
                "2025-04-05T16:40:00Z",
                &["2025-04-06 02:30 +11:00", "2025-04-06 02:00 +10:00", "2025-04-06 02:30 +10:00"],
            ),
            (
                "30 2 * * *",
                "Australia/Sydney",
                "2025-10-04T14:00:00Z",
                "2025-10-04T17:00:00Z",
                &["2025-10-05 03:00 +11:00"],
            ),
            (
                "30 2 * * *",
                "America/New_York",
                "2025-03-09T05:00:00Z",
                "2025-03-09T09:00:00Z",
                &["2025-03-09 03:00 -04:00"],
            ),
            ("0 9 * * *", "UTC", "2025-03-04T08:59:00Z", "2025-03-04T09:00:00Z", &["2025-03-04 09:00 +00:00"]),
        ];
        for (cron, zone, from, to, expected) in cases {
            assert_eq!(fires(cron, zone, from, to), expected.to_vec(), "{cron} in {zone}");
        }
        // The window is (after, upto]: the minute at `after` itself is not included.
        assert!(fires("0 9 * * *", "UTC", "2025-03-04T09:00:00Z", "2025-03-04T09:05:00Z").is_empty());
    }

    #[test]
    fn next_times_span_days() {
        let entries =
            [Entry::new(&ScheduleEntry { crontab: "0 12 * * 1-5".into(), from: None, to: None }, &TimeZone::UTC)
                .unwrap()];
        let next = next_fire_times(&entries, &TimeZone::UTC, at("2025-03-07T13:00:00Z"), 2, 30);
        assert_eq!(
            next,
            [at("2025-03-10T12:00:00Z"), at("2025-03-11T12:00:00Z")],
            "Friday afternoon → Monday, Tuesday"
        );
    }

    #[test]
    fn active_windows() {
        let utc = TimeZone::UTC;
        let entry = |from: Option<&str>, to: Option<&str>| {
            Entry::new(
                &ScheduleEntry { crontab: "* * * * *".into(), from: from.map(Into::into), to: to.map(Into::into) },
                &utc,
            )
            .unwrap()
        };
        let window = entry(Some("2025-01-01T00:00:00Z"), Some("2025-02-01T00:00:00Z"));
        assert!(window.active(at("2025-01-15T00:00:00Z")) && !window.active(at("2025-03-01T00:00:00Z")));
        let exclusion = entry(Some("2025-02-01T00:00:00Z"), Some("2025-01-01T00:00:00Z"));
        assert!(!exclusion.active(at("2025-01-15T00:00:00Z")) && exclusion.active(at("2025-03-01T00:00:00Z")));
        let local = Entry::new(
            &ScheduleEntry { crontab: "@daily".into(), from: Some("2025-01-01".into()), to: None },
            &TimeZone::get("Australia/Sydney").unwrap(),
        )
        .unwrap();
        assert_eq!(local.from, Some(at("2024-12-31T13:00:00Z")));
    }
}
