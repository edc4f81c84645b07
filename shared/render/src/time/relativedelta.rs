//! dateutil's `relativedelta` (calendar-aware offsets plus absolute replacements) and its
//! weekday constants `MO`..`SU`.

use jiff::SignedDuration;
use jiff::civil::DateTime;
use minijinja::value::{DynObject, Object, ObjectRepr, Value};
use minijinja::{Error, State};
use std::cmp::Ordering;
use std::sync::Arc;

use super::datetime::{build_date, build_datetime, weekday_number};
use super::{MICROS_PER_SECOND, PyTimeDelta, jiff_fail};
use crate::args::{Args, as_int, fail};

/// dateutil's `relativedelta`: calendar-aware offsets plus absolute replacements.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PyRelativeDelta {
    years: i64,
    months: i64,
    days: i64,
    hours: i64,
    minutes: i64,
    seconds: i64,
    microseconds: i64,
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    hour: Option<i64>,
    minute: Option<i64>,
    second: Option<i64>,
    microsecond: Option<i64>,
    weekday: Option<PyWeekday>,
}

const RELATIVE_FIELDS: [&str; 8] = ["years", "months", "days", "leapdays", "weeks", "hours", "minutes", "seconds"];

impl PyRelativeDelta {
    pub(super) fn construct(args: &Args) -> Result<PyRelativeDelta, Error> {
        if !args.positional().is_empty() {
            return Err(fail(
                "relativedelta(): give keyword arguments such as months=6 (the two-datetime form is not supported)",
            ));
        }
        let mut names: Vec<&str> = RELATIVE_FIELDS.to_vec();
        names.extend(["microseconds", "year", "month", "day", "weekday", "hour", "minute", "second", "microsecond"]);
        args.allow(&names)?;
        let int = |name: &str| args.int(usize::MAX, name);
        let mut rd = PyRelativeDelta {
            years: int("years")?.unwrap_or(0),
            months: int("months")?.unwrap_or(0),
            days: int("days")?.unwrap_or(0) + 7 * int("weeks")?.unwrap_or(0),
            hours: int("hours")?.unwrap_or(0),
            minutes: int("minutes")?.unwrap_or(0),
            seconds: int("seconds")?.unwrap_or(0),
            microseconds: int("microseconds")?.unwrap_or(0),
            year: int("year")?,
            month: int("month")?,
            day: int("day")?,
            hour: int("hour")?,
            minute: int("minute")?,
            second: int("second")?,
            microsecond: int("microsecond")?,
            weekday: None,
        };
        if let Some(w) = args.get(usize::MAX, "weekday") {
            rd.weekday = Some(match as_int(w) {
                Some(n) if (0..7).contains(&n) => PyWeekday { weekday: n, n: None },
                _ => *w
                    .downcast_object_ref::<PyWeekday>()
                    .ok_or_else(|| fail("relativedelta(): weekday must be 0..6 or MO..SU"))?,
            });
        }
        rd.normalise();
        Ok(rd)
    }

    /// dateutil's `_fix`: carries overflowing units upwards, keeping each unit's sign.
    fn normalise(&mut self) {
        fn carry(low: &mut i64, high: &mut i64, limit: i64) {
            if low.abs() > limit - 1 {
                let sign = low.signum();
                let (div, rem) = ((*low * sign) / limit, (*low * sign) % limit);
                *low = rem * sign;
                *high += div * sign;
            }
        }
        carry(&mut self.microseconds, &mut self.seconds, 1_000_000);
        carry(&mut self.seconds, &mut self.minutes, 60);
        carry(&mut self.minutes, &mut self.hours, 60);
        carry(&mut self.hours, &mut self.days, 24);
        carry(&mut self.months, &mut self.years, 12);
    }

    pub(super) fn has_time(&self) -> bool {
        self.hours != 0
            || self.minutes != 0
            || self.seconds != 0
            || self.microseconds != 0
            || self.hour.is_some()
            || self.minute.is_some()
            || self.second.is_some()
            || self.microsecond.is_some()
    }

    pub(super) fn negated(&self) -> PyRelativeDelta {
        PyRelativeDelta {
            years: -self.years,
            months: -self.months,
            days: -self.days,
            hours: -self.hours,
            minutes: -self.minutes,
            seconds: -self.seconds,
            microseconds: -self.microseconds,
            ..*self
        }
    }

    pub(super) fn plus(&self, other: &PyRelativeDelta) -> PyRelativeDelta {
        let mut sum = PyRelativeDelta {
            years: self.years + other.years,
            months: self.months + other.months,
            days: self.days + other.days,
            hours: self.hours + other.hours,
            minutes: self.minutes + other.minutes,
            seconds: self.seconds + other.seconds,
            microseconds: self.microseconds + other.microseconds,
            year: other.year.or(self.year),
            month: other.month.or(self.month),
            day: other.day.or(self.day),
            hour: other.hour.or(self.hour),
            minute: other.minute.or(self.minute),
            second: other.second.or(self.second),
            microsecond: other.microsecond.or(self.microsecond),
            weekday: other.weekday.or(self.weekday),
        };
        sum.normalise();
        sum
    }

    pub(super) fn times(&self, factor: i64) -> PyRelativeDelta {
        let mut product = PyRelativeDelta {
            years: self.years * factor,
            months: self.months * factor,
            days: self.days * factor,
            hours: self.hours * factor,
            minutes: self.minutes * factor,
            seconds: self.seconds * factor,
            microseconds: self.microseconds * factor,
            ..*self
        };
        product.normalise();
        product
    }

    /// dateutil's `relativedelta.__add__(datetime)`.
    pub(super) fn apply(&self, at: DateTime) -> Result<DateTime, Error> {
        let mut year = self.year.unwrap_or(at.year() as i64) + self.years;
        let mut month = self.month.unwrap_or(at.month() as i64);
        if self.months != 0 {
            month += self.months;
            if month > 12 {
                year += 1;
                month -= 12;
            } else if month < 1 {
                year -= 1;
                month += 12;
            }
        }
        let first = build_date(year, month, 1)?;
        let day = self.day.unwrap_or(at.day() as i64).min(first.days_in_month() as i64);
        let replaced = build_datetime(
            year,
            month,
            day,
            self.hour.unwrap_or(at.hour() as i64),
            self.minute.unwrap_or(at.minute() as i64),
            self.second.unwrap_or(at.second() as i64),
            self.microsecond.unwrap_or((at.subsec_nanosecond() / 1000) as i64),
        )?;
        let shift =
            ((self.days as i128 * 24 + self.hours as i128) * 60 + self.minutes as i128) * 60 * MICROS_PER_SECOND
                + self.seconds as i128 * MICROS_PER_SECOND
                + self.microseconds as i128;
        let mut result = replaced
            .checked_add(PyTimeDelta { micros: shift }.duration()?)
            .map_err(|e| jiff_fail("relativedelta", e))?;
        if let Some(PyWeekday { weekday, n }) = self.weekday {
            let nth = n.unwrap_or(1);
            let mut jump = (nth.abs() - 1) * 7;
            let current = weekday_number(result.date());
            if nth > 0 {
                jump += (7 - current + weekday).rem_euclid(7);
            } else {
                jump += (current - weekday).rem_euclid(7);
                jump = -jump;
            }
            result =
                result.checked_add(SignedDuration::from_hours(jump * 24)).map_err(|e| jiff_fail("relativedelta", e))?;
        }
        Ok(result)
    }
}

impl Object for PyRelativeDelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let relative = match key.as_str()? {
            "years" => self.years,
            "months" => self.months,
            "days" => self.days,
            "hours" => self.hours,
            "minutes" => self.minutes,
            "seconds" => self.seconds,
            "microseconds" => self.microseconds,
            "weeks" => self.days / 7,
            name => {
                let absolute = match name {
                    "year" => self.year,
                    "month" => self.month,
                    "day" => self.day,
                    "hour" => self.hour,
                    "minute" => self.minute,
                    "second" => self.second,
                    "microsecond" => self.microsecond,
                    _ => return None,
                };
                return Some(absolute.map(Value::from).unwrap_or(Value::from(())));
            }
        };
        Some(Value::from(relative))
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        (**self == *other.downcast_ref::<Self>()?).then_some(Ordering::Equal)
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (name, v) in [
            ("years", self.years),
            ("months", self.months),
            ("days", self.days),
            ("hours", self.hours),
            ("minutes", self.minutes),
            ("seconds", self.seconds),
            ("microseconds", self.microseconds),
        ] {
            if v != 0 {
                parts.push(format!("{name}={v:+}"));
            }
        }
        for (name, v) in [("year", self.year), ("month", self.month), ("day", self.day)] {
            if let Some(v) = v {
                parts.push(format!("{name}={v}"));
            }
        }
        if let Some(w) = self.weekday {
            parts.push(format!("weekday={}", w.name()));
        }
        for (name, v) in
            [("hour", self.hour), ("minute", self.minute), ("second", self.second), ("microsecond", self.microsecond)]
        {
            if let Some(v) = v {
                parts.push(format!("{name}={v}"));
            }
        }
        write!(f, "relativedelta({})", parts.join(", "))
    }
}

/// dateutil's weekday constants `MO`..`SU`, callable as `MO(-1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyWeekday {
    weekday: i64,
    n: Option<i64>,
}

impl PyWeekday {
    fn name(&self) -> String {
        let short = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][self.weekday as usize];
        match self.n {
            Some(n) => format!("{short}({n:+})"),
            None => short.to_string(),
        }
    }
}

impl Object for PyWeekday {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let n = Args::new("weekday", args)?.int(0, "n")?;
        if n == Some(0) {
            return Err(fail("Can't create weekday with n==0"));
        }
        Ok(Value::from_object(PyWeekday { weekday: self.weekday, n }))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// The weekday constants for `utils.dateutil.relativedelta`.
pub fn weekdays() -> Vec<(&'static str, Value)> {
    ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, Value::from_object(PyWeekday { weekday: i as i64, n: None })))
        .collect()
}
