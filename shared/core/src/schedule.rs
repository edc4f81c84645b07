//! Scheduling maths: cron expressions evaluated minute by minute in a dispatcher's time zone,
//! with the daylight-saving rules of cron (cronie): a fixed-time job whose wall-clock minute is
//! skipped by a spring-forward change runs at the change; in a repeated (fall-back) hour it runs
//! once; jobs with a wildcard hour run by elapsed time in both cases.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::model::schedule::{ScheduleEntry, check_cron};

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
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

fn field_mask(field: &str, index: usize) -> u64 {
    const RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let (lo, hi) = RANGES[index];
    let number = |text: &str| -> u32 {
        let lower = text.to_ascii_lowercase();
        match index {
            3 => MONTHS.iter().position(|m| *m == lower).map(|p| p as u32 + 1),
            4 => DAYS.iter().position(|d| *d == lower).map(|p| p as u32),
            _ => None,
        }
        .or_else(|| text.parse().ok())
        .unwrap_or(lo)
    };
    let mut mask = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().unwrap_or(1).max(1)),
            None => (part, 1),
        };
        let (start, end) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (number(a), number(b)),
                None if part.contains('/') => (number(r), hi),
                None => (number(r), number(r)),
            },
        };
        let mut v = start;
        while v <= end {
            mask |= 1 << v;
            v += step;
        }
    }
    if index == 4 && mask & (1 << 7) != 0 {
        mask = (mask | 1) & !(1 << 7);
    }
    mask
}

impl Cron {
    /// Parses five fields or an `@` form (`@reboot` never fires on a tick).
    pub fn parse(text: &str) -> Result<Cron, String> {
        check_cron(text)?;
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            "@reboot" => {
                return Ok(Cron {
                    minutes: 0,
                    hours: 0,
                    days: 0,
                    months: 0,
                    weekdays: 0,
                    day_star: false,
                    weekday_star: false,
                    hour_star: false,
                    never: true,
                });
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        Ok(Cron {
            minutes: field_mask(fields[0], 0),
            hours: field_mask(fields[1], 1) as u32,
            days: field_mask(fields[2], 2) as u32,
            months: field_mask(fields[3], 3) as u16,
            weekdays: field_mask(fields[4], 4) as u8,
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
