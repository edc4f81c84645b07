//! Python's `datetime`, `date`, `time` and `timedelta`, and dateutil's `relativedelta` and `tz`,
//! as template values that print, compare and add up the way the original's templates expect.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use minijinja::value::{DynObject, Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, State};
use std::cmp::Ordering;
use std::sync::Arc;

use super::args::{Args, as_float, as_int, fail};

const MICROS_PER_SECOND: i128 = 1_000_000;
const MICROS_PER_DAY: i128 = 86_400 * MICROS_PER_SECOND;
const DAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn jiff_fail(what: &str, e: impl std::fmt::Display) -> Error {
    fail(format!("{what}: {e}"))
}

/// `timedelta`: a signed number of microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PyTimeDelta {
    /// Total microseconds.
    pub micros: i128,
}

impl PyTimeDelta {
    /// `days`, `seconds`, `microseconds` as Python normalises them (only days negative).
    pub fn parts(&self) -> (i128, i128, i128) {
        let days = self.micros.div_euclid(MICROS_PER_DAY);
        let rest = self.micros.rem_euclid(MICROS_PER_DAY);
        (days, rest / MICROS_PER_SECOND, rest % MICROS_PER_SECOND)
    }

    fn duration(&self) -> Result<SignedDuration, Error> {
        i64::try_from(self.micros).map(SignedDuration::from_micros).map_err(|_| fail("timedelta out of range"))
    }

    fn from_duration(d: SignedDuration) -> Self {
        PyTimeDelta { micros: d.as_micros() }
    }

    /// `str(timedelta)`: `1 day, 2:03:04.000005`.
    pub fn to_python(&self) -> String {
        let (days, seconds, micros) = self.parts();
        let mut text = format!("{}:{:02}:{:02}", seconds / 3600, seconds % 3600 / 60, seconds % 60);
        if micros != 0 {
            text.push_str(&format!(".{micros:06}"));
        }
        if days != 0 {
            text = format!("{days} day{}, {text}", if days.abs() == 1 { "" } else { "s" });
        }
        text
    }

    fn construct(args: &Args) -> Result<PyTimeDelta, Error> {
        let units: [(&str, f64); 7] = [
            ("days", 86_400e6),
            ("seconds", 1e6),
            ("microseconds", 1.0),
            ("milliseconds", 1e3),
            ("minutes", 60e6),
            ("hours", 3_600e6),
            ("weeks", 7.0 * 86_400e6),
        ];
        args.allow(&units.map(|(n, _)| n))?;
        let mut whole: i128 = 0;
        let mut fraction = 0.0;
        for (index, (name, scale)) in units.iter().enumerate() {
            if let Some(v) = args.get(index, name) {
                match as_int(v) {
                    Some(i) => whole += i as i128 * *scale as i128,
                    None => {
                        fraction +=
                            as_float(v).ok_or_else(|| fail(format!("timedelta(): {name} must be a number")))? * scale
                    }
                }
            }
        }
        Ok(PyTimeDelta { micros: whole + fraction.round_ties_even() as i128 })
    }
}

impl Object for PyTimeDelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let (days, seconds, micros) = self.parts();
        Some(Value::from(match key.as_str()? {
            "days" => days as i64,
            "seconds" => seconds as i64,
            "microseconds" => micros as i64,
            _ => return None,
        }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["days", "seconds", "microseconds"])
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match (method, args) {
            ("total_seconds", []) => Ok(Value::from(self.micros as f64 / 1e6)),
            _ => Err(no_method("timedelta", method)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.micros.cmp(&other.downcast_ref::<Self>()?.micros))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_python())
    }
}

fn no_method(type_name: &str, method: &str) -> Error {
    Error::new(minijinja::ErrorKind::UnknownMethod, format!("'{type_name}' object has no attribute '{method}'"))
}

/// A time zone (`tzinfo`).
#[derive(Debug, Clone)]
pub struct PyTz(pub TimeZone);

impl PyTz {
    fn name(&self) -> String {
        if self.0 == TimeZone::UTC {
            return "tzutc()".into();
        }
        match self.0.iana_name() {
            Some(name) => format!("tzfile('{name}')"),
            None => format!("tzoffset(None, {})", self.0.to_offset(Timestamp::now()).seconds()),
        }
    }
}

impl Object for PyTz {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let at = args
            .first()
            .and_then(|v| v.downcast_object_ref::<PyDateTime>())
            .ok_or_else(|| fail(format!("{method}() needs a datetime")))?;
        let zoned = PyDateTime { civil: at.civil, tz: Some(self.0.clone()) }.zoned()?;
        match method {
            "utcoffset" => {
                Ok(Value::from_object(PyTimeDelta { micros: zoned.offset().seconds() as i128 * MICROS_PER_SECOND }))
            }
            "tzname" => Ok(Value::from(tz_abbreviation(&zoned))),
            _ => Err(no_method("tzinfo", method)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

fn tz_abbreviation(zoned: &jiff::Zoned) -> String {
    zoned.time_zone().to_offset_info(zoned.timestamp()).abbreviation().to_string()
}

/// A `datetime`: wall-clock time, aware when it has a time zone.
#[derive(Debug, Clone)]
pub struct PyDateTime {
    /// Wall-clock date and time.
    pub civil: DateTime,
    /// The time zone of an aware datetime.
    pub tz: Option<TimeZone>,
}

impl PyDateTime {
    /// An aware datetime at `zoned`.
    pub fn from_zoned(zoned: &jiff::Zoned) -> Self {
        PyDateTime { civil: zoned.datetime(), tz: Some(zoned.time_zone().clone()) }
    }

    fn zoned(&self) -> Result<jiff::Zoned, Error> {
        let tz = self.tz.clone().unwrap_or_else(TimeZone::system);
        tz.to_ambiguous_zoned(self.civil).compatible().map_err(|e| jiff_fail("datetime", e))
    }

    fn offset(&self) -> Option<Offset> {
        self.tz.as_ref().and_then(|_| self.zoned().ok()).map(|z| z.offset())
    }

    fn instant(&self) -> Result<Timestamp, Error> {
        Ok(self.zoned()?.timestamp())
    }

    /// `isoformat(sep)`.
    pub fn isoformat(&self, sep: &str) -> String {
        let mut text = format!("{}{sep}{}", self.civil.date(), time_text(self.civil.time()));
        if let Some(offset) = self.offset() {
            text.push_str(&offset_text(offset, ":"));
        }
        text
    }

    fn strftime(&self, format: &str) -> Result<String, Error> {
        let zone = match &self.tz {
            Some(_) => Some(self.zoned()?),
            None => None,
        };
        Ok(strftime(self.civil, zone.as_ref(), format))
    }

    fn with_civil(&self, civil: DateTime) -> Value {
        Value::from_object(PyDateTime { civil, tz: self.tz.clone() })
    }

    fn replace(&self, args: &Args) -> Result<Value, Error> {
        args.allow(&["year", "month", "day", "hour", "minute", "second", "microsecond", "tzinfo"])?;
        let c = self.civil;
        let civil = build_datetime(
            args.int(0, "year")?.unwrap_or(c.year() as i64),
            args.int(1, "month")?.unwrap_or(c.month() as i64),
            args.int(2, "day")?.unwrap_or(c.day() as i64),
            args.int(3, "hour")?.unwrap_or(c.hour() as i64),
            args.int(4, "minute")?.unwrap_or(c.minute() as i64),
            args.int(5, "second")?.unwrap_or(c.second() as i64),
            args.int(6, "microsecond")?.unwrap_or((c.subsec_nanosecond() / 1000) as i64),
        )?;
        let tz = match args.get(7, "tzinfo") {
            None => self.tz.clone(),
            Some(v) if v.is_none() => None,
            Some(v) => Some(tz_arg(v)?),
        };
        Ok(Value::from_object(PyDateTime { civil, tz }))
    }
}

fn tz_arg(v: &Value) -> Result<TimeZone, Error> {
    v.downcast_object_ref::<PyTz>()
        .map(|t| t.0.clone())
        .ok_or_else(|| fail("tzinfo must be a time zone (utils.dateutil.tz.gettz(...))"))
}

fn offset_text(offset: Offset, separator: &str) -> String {
    let total = offset.seconds();
    let sign = if total < 0 { '-' } else { '+' };
    let abs = total.abs();
    let mut text = format!("{sign}{:02}{separator}{:02}", abs / 3600, abs % 3600 / 60);
    if abs % 60 != 0 {
        text.push_str(&format!("{separator}{:02}", abs % 60));
    }
    text
}

fn time_text(t: Time) -> String {
    let micros = t.subsec_nanosecond() / 1000;
    let base = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    if micros == 0 { base } else { format!("{base}.{micros:06}") }
}

fn build_datetime(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    micro: i64,
) -> Result<DateTime, Error> {
    let date = build_date(year, month, day)?;
    let time = build_time(hour, minute, second, micro)?;
    Ok(date.to_datetime(time))
}

fn build_date(year: i64, month: i64, day: i64) -> Result<Date, Error> {
    let small = |v: i64, what: &str| i8::try_from(v).map_err(|_| fail(format!("{what} is out of range")));
    let year = i16::try_from(year)
        .ok()
        .filter(|y| (1..=9999).contains(y))
        .ok_or_else(|| fail(format!("year {year} is out of range")))?;
    Date::new(year, small(month, "month")?, small(day, "day")?).map_err(|e| jiff_fail("date", e))
}

fn build_time(hour: i64, minute: i64, second: i64, micro: i64) -> Result<Time, Error> {
    let small = |v: i64, what: &str| i8::try_from(v).map_err(|_| fail(format!("{what} must be in 0..59")));
    let micro = i32::try_from(micro)
        .ok()
        .filter(|m| (0..1_000_000).contains(m))
        .ok_or_else(|| fail("microsecond must be in 0..999999"))?;
    Time::new(small(hour, "hour")?, small(minute, "minute")?, small(second, "second")?, micro * 1000)
        .map_err(|e| jiff_fail("time", e))
}

fn weekday_number(date: Date) -> i64 {
    date.weekday().to_monday_zero_offset() as i64
}

impl Object for PyDateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let c = self.civil;
        Some(Value::from(match key.as_str()? {
            "year" => c.year() as i64,
            "month" => c.month() as i64,
            "day" => c.day() as i64,
            "hour" => c.hour() as i64,
            "minute" => c.minute() as i64,
            "second" => c.second() as i64,
            "microsecond" => (c.subsec_nanosecond() / 1000) as i64,
            "tzinfo" => return Some(self.tz.clone().map(|t| Value::from_object(PyTz(t))).unwrap_or(Value::from(()))),
            _ => return None,
        }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["year", "month", "day", "hour", "minute", "second", "microsecond", "tzinfo"])
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let args = Args::new(method, args)?;
        match method {
            "isoformat" => {
                args.allow(&["sep", "timespec"])?;
                Ok(Value::from(self.isoformat(&args.string(0, "sep")?.unwrap_or_else(|| "T".into()))))
            }
            "strftime" => Ok(Value::from(
                self.strftime(&args.string(0, "format")?.ok_or_else(|| fail("strftime() needs a format"))?)?,
            )),
            "date" => Ok(Value::from_object(PyDate(self.civil.date()))),
            "time" | "timetz" => Ok(Value::from_object(PyTime(self.civil.time()))),
            "timestamp" => Ok(Value::from(self.instant()?.as_microsecond() as f64 / 1e6)),
            "replace" => self.replace(&args),
            "astimezone" => {
                let tz = match args.get(0, "tz") {
                    Some(v) if !v.is_none() => tz_arg(v)?,
                    _ => TimeZone::system(),
                };
                Ok(Value::from_object(PyDateTime::from_zoned(&self.instant()?.to_zoned(tz))))
            }
            "utcoffset" => Ok(self
                .offset()
                .map(|o| Value::from_object(PyTimeDelta { micros: o.seconds() as i128 * MICROS_PER_SECOND }))
                .unwrap_or(Value::from(()))),
            "tzname" => Ok(match &self.tz {
                Some(_) => Value::from(tz_abbreviation(&self.zoned()?)),
                None => Value::from(()),
            }),
            "weekday" => Ok(Value::from(weekday_number(self.civil.date()))),
            "isoweekday" => Ok(Value::from(weekday_number(self.civil.date()) + 1)),
            "toordinal" => Ok(Value::from(ordinal(self.civil.date()))),
            "ctime" => Ok(Value::from(strftime(self.civil, None, "%a %b %e %H:%M:%S %Y"))),
            _ => Err(no_method("datetime", method)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<Self>()?;
        match (&self.tz, &other.tz) {
            (None, None) => Some(self.civil.cmp(&other.civil)),
            (Some(_), Some(_)) => Some(self.instant().ok()?.cmp(&other.instant().ok()?)),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.isoformat(" "))
    }
}

fn ordinal(date: Date) -> i64 {
    let epoch = Date::constant(1, 1, 1);
    date.since((jiff::Unit::Day, epoch)).map(|span| span.get_days() as i64 + 1).unwrap_or(0)
}

/// A `date`.
#[derive(Debug, Clone, Copy)]
pub struct PyDate(pub Date);

impl Object for PyDate {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(match key.as_str()? {
            "year" => self.0.year() as i64,
            "month" => self.0.month() as i64,
            "day" => self.0.day() as i64,
            _ => return None,
        }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["year", "month", "day"])
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let args = Args::new(method, args)?;
        let d = self.0;
        match method {
            "isoformat" => Ok(Value::from(d.to_string())),
            "strftime" => Ok(Value::from(strftime(
                d.to_datetime(Time::midnight()),
                None,
                &args.string(0, "format")?.ok_or_else(|| fail("strftime() needs a format"))?,
            ))),
            "replace" => {
                args.allow(&["year", "month", "day"])?;
                let year = args.int(0, "year")?.unwrap_or(d.year() as i64);
                let month = args.int(1, "month")?.unwrap_or(d.month() as i64);
                let day = args.int(2, "day")?.unwrap_or(d.day() as i64);
                Ok(Value::from_object(PyDate(build_date(year, month, day)?)))
            }
            "weekday" => Ok(Value::from(weekday_number(d))),
            "isoweekday" => Ok(Value::from(weekday_number(d) + 1)),
            "toordinal" => Ok(Value::from(ordinal(d))),
            "ctime" => Ok(Value::from(strftime(d.to_datetime(Time::midnight()), None, "%a %b %e %H:%M:%S %Y"))),
            _ => Err(no_method("date", method)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<Self>()?.0))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A `time`.
#[derive(Debug, Clone, Copy)]
pub struct PyTime(pub Time);

impl Object for PyTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let t = self.0;
        Some(Value::from(match key.as_str()? {
            "hour" => t.hour() as i64,
            "minute" => t.minute() as i64,
            "second" => t.second() as i64,
            "microsecond" => (t.subsec_nanosecond() / 1000) as i64,
            _ => return None,
        }))
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let args = Args::new(method, args)?;
        match method {
            "isoformat" => Ok(Value::from(time_text(self.0))),
            "strftime" => {
                let format = args.string(0, "format")?.ok_or_else(|| fail("strftime() needs a format"))?;
                Ok(Value::from(strftime(Date::constant(1900, 1, 1).to_datetime(self.0), None, &format)))
            }
            _ => Err(no_method("time", method)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<Self>()?.0))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&time_text(self.0))
    }
}

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
    fn construct(args: &Args) -> Result<PyRelativeDelta, Error> {
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

    fn has_time(&self) -> bool {
        self.hours != 0
            || self.minutes != 0
            || self.seconds != 0
            || self.microseconds != 0
            || self.hour.is_some()
            || self.minute.is_some()
            || self.second.is_some()
            || self.microsecond.is_some()
    }

    fn negated(&self) -> PyRelativeDelta {
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

    fn plus(&self, other: &PyRelativeDelta) -> PyRelativeDelta {
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

    fn times(&self, factor: i64) -> PyRelativeDelta {
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
    fn apply(&self, at: DateTime) -> Result<DateTime, Error> {
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

/// Python's `strftime` with the C library's codes (and the `-` no-padding flag).
pub fn strftime(at: DateTime, zone: Option<&jiff::Zoned>, format: &str) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let unpadded = chars.peek() == Some(&'-');
        if unpadded {
            chars.next();
        }
        let Some(code) = chars.next() else {
            out.push('%');
            break;
        };
        let num = |v: i64, width: usize| if unpadded { v.to_string() } else { format!("{v:0width$}") };
        let weekday = weekday_number(at.date()) as usize;
        let hour12 = match at.hour() % 12 {
            0 => 12,
            h => h,
        } as i64;
        let text = match code {
            'a' => DAY_NAMES[weekday][..3].to_string(),
            'A' => DAY_NAMES[weekday].to_string(),
            'b' | 'h' => MONTH_NAMES[at.month() as usize - 1][..3].to_string(),
            'B' => MONTH_NAMES[at.month() as usize - 1].to_string(),
            'c' => strftime(at, zone, "%a %b %e %H:%M:%S %Y"),
            'C' => num(at.year() as i64 / 100, 2),
            'd' => num(at.day() as i64, 2),
            'D' | 'x' => strftime(at, zone, "%m/%d/%y"),
            'e' => {
                if unpadded {
                    at.day().to_string()
                } else {
                    format!("{:>2}", at.day())
                }
            }
            'f' => format!("{:06}", at.subsec_nanosecond() / 1000),
            'F' => strftime(at, zone, "%Y-%m-%d"),
            'G' => at.date().iso_week_date().year().to_string(),
            'g' => num(at.date().iso_week_date().year() as i64 % 100, 2),
            'H' => num(at.hour() as i64, 2),
            'I' => num(hour12, 2),
            'j' => num(at.day_of_year() as i64, 3),
            'k' => format!("{:>2}", at.hour()),
            'l' => format!("{hour12:>2}"),
            'm' => num(at.month() as i64, 2),
            'M' => num(at.minute() as i64, 2),
            'n' => "\n".into(),
            'p' => (if at.hour() < 12 { "AM" } else { "PM" }).into(),
            'r' => strftime(at, zone, "%I:%M:%S %p"),
            'R' => strftime(at, zone, "%H:%M"),
            's' => zone
                .map(|z| z.timestamp().as_second())
                .unwrap_or_else(|| {
                    TimeZone::system().to_ambiguous_timestamp(at).compatible().map(|t| t.as_second()).unwrap_or(0)
                })
                .to_string(),
            'S' => num(at.second() as i64, 2),
            't' => "\t".into(),
            'T' | 'X' => strftime(at, zone, "%H:%M:%S"),
            'u' => (weekday + 1).to_string(),
            'U' => num((at.day_of_year() as i64 + 6 - ((weekday as i64 + 1) % 7)) / 7, 2),
            'V' => num(at.date().iso_week_date().week() as i64, 2),
            'w' => ((weekday + 1) % 7).to_string(),
            'W' => num((at.day_of_year() as i64 + 6 - weekday as i64) / 7, 2),
            'y' => num(at.year() as i64 % 100, 2),
            'Y' => at.year().to_string(),
            'z' => zone.map(|z| offset_text(z.offset(), "")).unwrap_or_default(),
            'Z' => zone.map(tz_abbreviation).unwrap_or_default(),
            '%' => "%".into(),
            other => format!("%{other}"),
        };
        out.push_str(&text);
    }
    out
}

/// Python's `datetime.strptime` (naive unless the format has `%z`).
pub fn strptime(text: &str, format: &str) -> Result<PyDateTime, Error> {
    let bad = || fail(format!("time data '{text}' does not match format '{format}'"));
    let (mut year, mut month, mut day, mut hour, mut minute, mut second, mut micro) =
        (1900i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut offset: Option<i32> = None;
    let mut rest = text;
    let mut fmt = format.chars();
    let take_digits = |rest: &mut &str, max: usize| -> Option<i64> {
        let n = rest.chars().take(max).take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let v = rest[..n].parse().ok()?;
        *rest = &rest[n..];
        Some(v)
    };
    let take_name = |rest: &mut &str, names: &[&str]| -> Option<i64> {
        for (i, name) in names.iter().enumerate() {
            for candidate in [*name, &name[..3]] {
                if rest.len() >= candidate.len() && rest[..candidate.len()].eq_ignore_ascii_case(candidate) {
                    *rest = &rest[candidate.len()..];
                    return Some(i as i64);
                }
            }
        }
        None
    };
    while let Some(c) = fmt.next() {
        if c == '%' {
            let code = fmt.next().ok_or_else(bad)?;
            match code {
                'Y' => year = take_digits(&mut rest, 4).ok_or_else(bad)?,
                'y' => {
                    let y = take_digits(&mut rest, 2).ok_or_else(bad)?;
                    year = if y < 69 { 2000 + y } else { 1900 + y };
                }
                'm' => month = take_digits(&mut rest, 2).ok_or_else(bad)?,
                'd' => day = take_digits(&mut rest, 2).ok_or_else(bad)?,
                'H' | 'I' => hour = take_digits(&mut rest, 2).ok_or_else(bad)?,
                'M' => minute = take_digits(&mut rest, 2).ok_or_else(bad)?,
                'S' => second = take_digits(&mut rest, 2).ok_or_else(bad)?,
                'f' => {
                    let n = rest.chars().take(6).take_while(|c| c.is_ascii_digit()).count();
                    let digits = &rest[..n];
                    micro = format!("{digits:0<6}").parse().map_err(|_| bad())?;
                    rest = &rest[n..];
                }
                'j' => {
                    let doy = take_digits(&mut rest, 3).ok_or_else(bad)?;
                    let date = build_date(year, 1, 1)?
                        .checked_add(SignedDuration::from_hours((doy - 1) * 24))
                        .map_err(|_| bad())?;
                    (month, day) = (date.month() as i64, date.day() as i64);
                }
                'b' | 'B' | 'h' => month = take_name(&mut rest, &MONTH_NAMES).ok_or_else(bad)? + 1,
                'a' | 'A' => {
                    take_name(&mut rest, &DAY_NAMES).ok_or_else(bad)?;
                }
                'p' => {
                    let upper = rest.get(..2).map(str::to_ascii_uppercase);
                    pm = Some(match upper.as_deref() {
                        Some("AM") => false,
                        Some("PM") => true,
                        _ => return Err(bad()),
                    });
                    rest = &rest[2..];
                }
                'z' => {
                    if let Some(r) = rest.strip_prefix('Z') {
                        offset = Some(0);
                        rest = r;
                    } else {
                        let sign = match rest.chars().next() {
                            Some('+') => 1,
                            Some('-') => -1,
                            _ => return Err(bad()),
                        };
                        rest = &rest[1..];
                        let h = take_digits(&mut rest, 2).ok_or_else(bad)?;
                        rest = rest.strip_prefix(':').unwrap_or(rest);
                        let m = take_digits(&mut rest, 2).unwrap_or(0);
                        offset = Some(sign * (h * 3600 + m * 60) as i32);
                    }
                }
                '%' => rest = rest.strip_prefix('%').ok_or_else(bad)?,
                _ => return Err(fail(format!("strptime: unsupported directive %{code}"))),
            }
        } else if c.is_whitespace() {
            rest = rest.trim_start();
        } else {
            rest = rest.strip_prefix(c).ok_or_else(bad)?;
        }
    }
    if !rest.is_empty() {
        return Err(fail(format!("unconverted data remains: {rest}")));
    }
    if let Some(pm) = pm {
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let civil = build_datetime(year, month, day, hour, minute, second, micro)?;
    let tz = offset
        .map(|s| Offset::from_seconds(s).map(TimeZone::fixed))
        .transpose()
        .map_err(|e| jiff_fail("strptime", e))?;
    Ok(PyDateTime { civil, tz })
}

/// ISO 8601 as dateutil's `isoparse` and Python's `fromisoformat` read it.
pub fn isoparse(text: &str) -> Result<PyDateTime, Error> {
    let bad = || fail(format!("Invalid isoformat string: '{text}'"));
    let s = text.trim();
    let (date_part, time_part) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let (year, month, day) = match date_part.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] if digits(y) && digits(m) && digits(d) => {
            (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?)
        }
        [y, m] if digits(y) && digits(m) => (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, 1),
        [y] if digits(y) && y.len() == 8 => (
            y[..4].parse().map_err(|_| bad())?,
            y[4..6].parse().map_err(|_| bad())?,
            y[6..].parse().map_err(|_| bad())?,
        ),
        [y] if digits(y) && y.len() == 4 => (y.parse().map_err(|_| bad())?, 1, 1),
        _ => return Err(bad()),
    };
    let (mut hour, mut minute, mut second, mut micro, mut offset) = (0, 0, 0, 0, None);
    if let Some(t) = time_part {
        let zone_at = t.find(['Z', 'z', '+', '-']);
        let (clock, zone) = match zone_at {
            Some(i) => (&t[..i], Some(&t[i..])),
            None => (t, None),
        };
        let (clock, fraction) = match clock.split_once(['.', ',']) {
            Some((c, f)) => (c, Some(f)),
            None => (clock, None),
        };
        let fields: Vec<&str> = if clock.contains(':') {
            clock.split(':').collect()
        } else {
            clock.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap_or("")).collect()
        };
        if fields.is_empty() || fields.len() > 3 || !fields.iter().all(|f| f.len() == 2 && digits(f)) {
            return Err(bad());
        }
        let field = |i: usize| fields.get(i).map(|f| f.parse::<i64>().unwrap_or(0)).unwrap_or(0);
        (hour, minute, second) = (field(0), field(1), field(2));
        if let Some(f) = fraction {
            if !digits(f) {
                return Err(bad());
            }
            micro = format!("{:0<6}", &f[..f.len().min(6)]).parse().map_err(|_| bad())?;
        }
        if let Some(z) = zone {
            offset = Some(parse_offset(z).ok_or_else(bad)?);
        }
    }
    let civil = build_datetime(year, month, day, hour, minute, second, micro)?;
    let tz = offset
        .map(|s| Offset::from_seconds(s).map(TimeZone::fixed))
        .transpose()
        .map_err(|e| jiff_fail("isoparse", e))?;
    Ok(PyDateTime { civil, tz })
}

/// `Z`, `UTC`, `+11`, `+1100`, `+11:00` as seconds east of UTC.
fn parse_offset(z: &str) -> Option<i32> {
    if matches!(z.to_ascii_uppercase().as_str(), "Z" | "UTC" | "GMT") {
        return Some(0);
    }
    let sign = match z.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let body: String = z[1..].chars().filter(|c| *c != ':').collect();
    if !body.bytes().all(|b| b.is_ascii_digit()) || !matches!(body.len(), 2 | 4) {
        return None;
    }
    let h: i32 = body[..2].parse().ok()?;
    let m: i32 = body.get(2..4).map(|m| m.parse().unwrap_or(0)).unwrap_or(0);
    Some(sign * (h * 3600 + m * 60))
}

/// dateutil's `parser.parse` for the forms people write: ISO, `4 Mar 2025 7:15pm`,
/// `March 4, 2025`, `03/04/2025 10:00` (month first unless `dayfirst`). Missing date parts
/// come from today, missing time parts are zero.
pub fn parse_loose(text: &str, dayfirst: bool) -> Result<PyDateTime, Error> {
    if let Ok(iso) = isoparse(text) {
        return Ok(iso);
    }
    let bad = || fail(format!("Unknown string format: {text}"));
    let today = jiff::Zoned::now().date();
    let (mut year, mut month, mut day) = (None::<i64>, None::<i64>, None::<i64>);
    let (mut hour, mut minute, mut second, mut micro) = (0i64, 0i64, 0i64, 0i64);
    let mut offset = None;
    let mut numbers: Vec<String> = Vec::new();
    let words = text.split([' ', ',', '\t']).filter(|w| !w.is_empty());
    for word in words {
        let lower = word.to_ascii_lowercase();
        let (core, meridian) = match lower.strip_suffix("am").or_else(|| lower.strip_suffix("a.m.")) {
            Some(c) => (c.to_string(), Some(false)),
            None => match lower.strip_suffix("pm").or_else(|| lower.strip_suffix("p.m.")) {
                Some(c) => (c.to_string(), Some(true)),
                None => (lower.clone(), None),
            },
        };
        if core.is_empty() {
            if let Some(pm) = meridian {
                hour = hour % 12 + if pm { 12 } else { 0 };
            }
            continue;
        }
        if let Some(i) = MONTH_NAMES.iter().position(|m| m.to_ascii_lowercase().starts_with(&core) && core.len() >= 3) {
            month = Some(i as i64 + 1);
        } else if DAY_NAMES.iter().any(|d| d.to_ascii_lowercase().starts_with(&core) && core.len() >= 3)
            || core == "at"
            || core == "on"
        {
        } else if core.contains(':') || meridian.is_some() {
            let (clock, fraction) = core.split_once('.').map(|(c, f)| (c, Some(f))).unwrap_or((&core, None));
            let parts: Vec<i64> = clock.split(':').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
            hour = *parts.first().ok_or_else(bad)?;
            minute = parts.get(1).copied().unwrap_or(0);
            second = parts.get(2).copied().unwrap_or(0);
            if let Some(f) = fraction {
                micro = format!("{:0<6}", &f[..f.len().min(6)]).parse().map_err(|_| bad())?;
            }
            if let Some(pm) = meridian {
                hour = hour % 12 + if pm { 12 } else { 0 };
            }
        } else if let Some(o) = parse_offset(word) {
            offset = Some(o);
        } else if core.chars().all(|c| c.is_ascii_digit() || matches!(c, '/' | '-' | '.')) {
            numbers.extend(core.split(['/', '-', '.']).filter(|p| !p.is_empty()).map(str::to_string));
        } else if let Some(stripped) =
            ["st", "nd", "rd", "th"].iter().find_map(|s| core.strip_suffix(s)).filter(|c| c.parse::<i64>().is_ok())
        {
            day = Some(stripped.parse().map_err(|_| bad())?);
        } else {
            return Err(bad());
        }
    }
    let mut rest: Vec<(i64, usize)> = Vec::new();
    for n in &numbers {
        let v: i64 = n.parse().map_err(|_| bad())?;
        if n.len() >= 3 || v > 31 {
            if year.is_some() {
                return Err(bad());
            }
            year = Some(if n.len() <= 2 { 2000 + v } else { v });
        } else {
            rest.push((v, n.len()));
        }
    }
    let year_first = numbers.first().is_some_and(|n| n.len() >= 3);
    match (month.is_some(), rest.as_slice()) {
        (_, []) => {}
        (true, [d]) => day = day.or(Some(d.0)),
        (true, [d, y]) => {
            day = Some(d.0);
            year = Some(2000 + y.0);
        }
        (false, [a]) => day = Some(a.0),
        (false, [a, b]) => {
            let (m, d) = if dayfirst && !year_first { (b.0, a.0) } else { (a.0, b.0) };
            (month, day) = (Some(m), Some(d));
        }
        (false, [a, b, c]) => {
            let (m, d) = if dayfirst { (b.0, a.0) } else { (a.0, b.0) };
            (month, day, year) = (Some(m), Some(d), Some(2000 + c.0));
        }
        _ => return Err(bad()),
    }
    let civil = build_datetime(
        year.unwrap_or(today.year() as i64),
        month.unwrap_or(today.month() as i64),
        day.unwrap_or(today.day() as i64),
        hour,
        minute,
        second,
        micro,
    )?;
    let tz =
        offset.map(|s| Offset::from_seconds(s).map(TimeZone::fixed)).transpose().map_err(|e| jiff_fail("parse", e))?;
    Ok(PyDateTime { civil, tz })
}

/// The classes `utils.datetime`, `utils.date`, `utils.time`, `utils.timedelta` and
/// `utils.dateutil.relativedelta.relativedelta`: callable, with their class methods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PyClass {
    /// `datetime.datetime`
    DateTime,
    /// `datetime.date`
    Date,
    /// `datetime.time`
    Time,
    /// `datetime.timedelta`
    TimeDelta,
    /// `dateutil.relativedelta.relativedelta`
    RelativeDelta,
}

fn now_naive_local() -> DateTime {
    jiff::Zoned::now().datetime()
}

fn from_timestamp(seconds: f64, tz: Option<TimeZone>) -> Result<PyDateTime, Error> {
    let at = Timestamp::from_microsecond((seconds * 1e6).round() as i64).map_err(|e| jiff_fail("fromtimestamp", e))?;
    Ok(match tz {
        Some(tz) => PyDateTime::from_zoned(&at.to_zoned(tz)),
        None => PyDateTime { civil: at.to_zoned(TimeZone::system()).datetime(), tz: None },
    })
}

impl Object for PyClass {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        match **self {
            PyClass::DateTime => {
                let a = Args::new("datetime", args)?;
                a.allow(&["year", "month", "day", "hour", "minute", "second", "microsecond", "tzinfo"])?;
                let int = |i: usize, n: &str| a.int(i, n).map(|v| v.unwrap_or(0));
                let civil = build_datetime(
                    a.int(0, "year")?.ok_or_else(|| fail("datetime() missing required argument 'year'"))?,
                    a.int(1, "month")?.ok_or_else(|| fail("datetime() missing required argument 'month'"))?,
                    a.int(2, "day")?.ok_or_else(|| fail("datetime() missing required argument 'day'"))?,
                    int(3, "hour")?,
                    int(4, "minute")?,
                    int(5, "second")?,
                    int(6, "microsecond")?,
                )?;
                let tz = a.get(7, "tzinfo").filter(|v| !v.is_none()).map(tz_arg).transpose()?;
                Ok(Value::from_object(PyDateTime { civil, tz }))
            }
            PyClass::Date => {
                let a = Args::new("date", args)?;
                a.allow(&["year", "month", "day"])?;
                let field = |i: usize, n: &str| {
                    a.int(i, n)?.ok_or_else(|| fail(format!("date() missing required argument '{n}'")))
                };
                Ok(Value::from_object(PyDate(build_date(field(0, "year")?, field(1, "month")?, field(2, "day")?)?)))
            }
            PyClass::Time => {
                let a = Args::new("time", args)?;
                a.allow(&["hour", "minute", "second", "microsecond"])?;
                let int = |i: usize, n: &str| a.int(i, n).map(|v| v.unwrap_or(0));
                Ok(Value::from_object(PyTime(build_time(
                    int(0, "hour")?,
                    int(1, "minute")?,
                    int(2, "second")?,
                    int(3, "microsecond")?,
                )?)))
            }
            PyClass::TimeDelta => Ok(Value::from_object(PyTimeDelta::construct(&Args::new("timedelta", args)?)?)),
            PyClass::RelativeDelta => {
                Ok(Value::from_object(PyRelativeDelta::construct(&Args::new("relativedelta", args)?)?))
            }
        }
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let a = Args::new(method, args)?;
        let datetime = |d: PyDateTime| Ok(Value::from_object(d));
        let tz_of = |i: usize, n: &str| a.get(i, n).filter(|v| !v.is_none()).map(tz_arg).transpose();
        match (**self, method) {
            (PyClass::DateTime, "now") => match tz_of(0, "tz")? {
                Some(tz) => datetime(PyDateTime::from_zoned(&jiff::Zoned::now().with_time_zone(tz))),
                None => datetime(PyDateTime { civil: now_naive_local(), tz: None }),
            },
            (PyClass::DateTime, "today") => datetime(PyDateTime { civil: now_naive_local(), tz: None }),
            (PyClass::DateTime, "utcnow") => {
                datetime(PyDateTime { civil: Timestamp::now().to_zoned(TimeZone::UTC).datetime(), tz: None })
            }
            (PyClass::DateTime, "fromtimestamp") => datetime(from_timestamp(
                a.float(0, "timestamp")?.ok_or_else(|| fail("fromtimestamp() needs a timestamp"))?,
                tz_of(1, "tz")?,
            )?),
            (PyClass::DateTime, "utcfromtimestamp") => {
                let d = from_timestamp(
                    a.float(0, "timestamp")?.ok_or_else(|| fail("utcfromtimestamp() needs a timestamp"))?,
                    Some(TimeZone::UTC),
                )?;
                datetime(PyDateTime { tz: None, ..d })
            }
            (PyClass::DateTime, "strptime") => {
                let text = a.string(0, "date_string")?.ok_or_else(|| fail("strptime() needs a string"))?;
                let format = a.string(1, "format")?.ok_or_else(|| fail("strptime() needs a format"))?;
                datetime(strptime(&text, &format)?)
            }
            (PyClass::DateTime, "fromisoformat") => {
                datetime(isoparse(&a.string(0, "date_string")?.ok_or_else(|| fail("fromisoformat() needs a string"))?)?)
            }
            (PyClass::DateTime, "combine") => {
                let date = a
                    .required(0, "date")?
                    .downcast_object_ref::<PyDate>()
                    .ok_or_else(|| fail("combine(): date must be a date"))?
                    .0;
                let time = a
                    .required(1, "time")?
                    .downcast_object_ref::<PyTime>()
                    .ok_or_else(|| fail("combine(): time must be a time"))?
                    .0;
                datetime(PyDateTime { civil: date.to_datetime(time), tz: tz_of(2, "tzinfo")? })
            }
            (PyClass::Date, "today") => Ok(Value::from_object(PyDate(jiff::Zoned::now().date()))),
            (PyClass::Date, "fromisoformat") => Ok(Value::from_object(PyDate(
                isoparse(&a.string(0, "date_string")?.ok_or_else(|| fail("fromisoformat() needs a string"))?)?
                    .civil
                    .date(),
            ))),
            (PyClass::Date, "fromtimestamp") => Ok(Value::from_object(PyDate(
                from_timestamp(
                    a.float(0, "timestamp")?.ok_or_else(|| fail("fromtimestamp() needs a timestamp"))?,
                    None,
                )?
                .civil
                .date(),
            ))),
            _ => Err(no_method(&format!("{:?}", **self).to_lowercase(), method)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match **self {
            PyClass::DateTime => "datetime.datetime",
            PyClass::Date => "datetime.date",
            PyClass::Time => "datetime.time",
            PyClass::TimeDelta => "datetime.timedelta",
            PyClass::RelativeDelta => "dateutil.relativedelta.relativedelta",
        };
        write!(f, "<class '{name}'>")
    }
}

/// Arithmetic between date/time values: `Some(result)` when either operand is one of them.
pub fn arithmetic(op: char, lhs: &Value, rhs: &Value) -> Option<Result<Value, Error>> {
    let dt = |v: &Value| v.downcast_object_ref::<PyDateTime>().cloned();
    let date = |v: &Value| v.downcast_object_ref::<PyDate>().copied();
    let td = |v: &Value| v.downcast_object_ref::<PyTimeDelta>().copied();
    let rd = |v: &Value| v.downcast_object_ref::<PyRelativeDelta>().copied();
    if dt(lhs).is_none()
        && date(lhs).is_none()
        && td(lhs).is_none()
        && rd(lhs).is_none()
        && dt(rhs).is_none()
        && date(rhs).is_none()
        && td(rhs).is_none()
        && rd(rhs).is_none()
    {
        return None;
    }
    let unsupported =
        || Err(fail(format!("unsupported operand type(s) for {op}: '{}' and '{}'", type_name(lhs), type_name(rhs))));
    let shift = |d: &PyDateTime, micros: i128| -> Result<Value, Error> {
        let civil = d.civil.checked_add(PyTimeDelta { micros }.duration()?).map_err(|e| jiff_fail("datetime", e))?;
        Ok(d.with_civil(civil))
    };
    let shift_date = |d: Date, days: i128| -> Result<Value, Error> {
        let moved = d.checked_add(SignedDuration::from_hours(days as i64 * 24)).map_err(|e| jiff_fail("date", e))?;
        Ok(Value::from_object(PyDate(moved)))
    };
    let apply_rd = |r: &PyRelativeDelta, v: &Value| -> Option<Result<Value, Error>> {
        if let Some(d) = dt(v) {
            return Some(r.apply(d.civil).map(|c| d.with_civil(c)));
        }
        let d = date(v)?;
        Some(r.apply(d.0.to_datetime(Time::midnight())).map(|c| {
            if r.has_time() {
                Value::from_object(PyDateTime { civil: c, tz: None })
            } else {
                Value::from_object(PyDate(c.date()))
            }
        }))
    };
    let result = match op {
        '+' => {
            if let (Some(d), Some(t)) = (dt(lhs), td(rhs)).or_else2(|| (dt(rhs), td(lhs))) {
                shift(&d, t.micros)
            } else if let (Some(d), Some(t)) = (date(lhs), td(rhs)).or_else2(|| (date(rhs), td(lhs))) {
                shift_date(d.0, t.parts().0)
            } else if let (Some(a), Some(b)) = (td(lhs), td(rhs)) {
                Ok(Value::from_object(PyTimeDelta { micros: a.micros + b.micros }))
            } else if let (Some(a), Some(b)) = (rd(lhs), rd(rhs)) {
                Ok(Value::from_object(a.plus(&b)))
            } else if let Some(r) = rd(rhs) {
                return apply_rd(&r, lhs).or_else(|| Some(unsupported()));
            } else if let Some(r) = rd(lhs) {
                return apply_rd(&r, rhs).or_else(|| Some(unsupported()));
            } else {
                unsupported()
            }
        }
        '-' => {
            if let (Some(a), Some(b)) = (dt(lhs), dt(rhs)) {
                match (&a.tz, &b.tz) {
                    (None, None) => Ok(PyTimeDelta::from_duration(a.civil.duration_since(b.civil))),
                    (Some(x), Some(y)) if x == y => Ok(PyTimeDelta::from_duration(a.civil.duration_since(b.civil))),
                    (Some(_), Some(_)) => {
                        (|| Ok(PyTimeDelta::from_duration(a.instant()?.duration_since(b.instant()?))))()
                    }
                    _ => Err(fail("can't subtract offset-naive and offset-aware datetimes")),
                }
                .map(Value::from_object)
            } else if let (Some(d), Some(t)) = (dt(lhs), td(rhs)) {
                shift(&d, -t.micros)
            } else if let (Some(a), Some(b)) = (date(lhs), date(rhs)) {
                Ok(Value::from_object(PyTimeDelta::from_duration(a.0.duration_since(b.0))))
            } else if let (Some(d), Some(t)) = (date(lhs), td(rhs)) {
                shift_date(d.0, -t.parts().0)
            } else if let (Some(a), Some(b)) = (td(lhs), td(rhs)) {
                Ok(Value::from_object(PyTimeDelta { micros: a.micros - b.micros }))
            } else if let (Some(a), Some(b)) = (rd(lhs), rd(rhs)) {
                Ok(Value::from_object(a.plus(&b.negated())))
            } else if let Some(r) = rd(rhs) {
                return apply_rd(&r.negated(), lhs).or_else(|| Some(unsupported()));
            } else {
                unsupported()
            }
        }
        '*' => {
            let (delta, factor) = if td(lhs).is_some() || rd(lhs).is_some() { (lhs, rhs) } else { (rhs, lhs) };
            if let (Some(t), Some(f)) = (td(delta), as_float(factor)) {
                let micros = match as_int(factor) {
                    Some(i) => t.micros * i as i128,
                    None => (t.micros as f64 * f).round_ties_even() as i128,
                };
                Ok(Value::from_object(PyTimeDelta { micros }))
            } else if let (Some(r), Some(i)) = (rd(delta), as_int(factor)) {
                Ok(Value::from_object(r.times(i)))
            } else {
                unsupported()
            }
        }
        '/' => {
            if let (Some(a), Some(b)) = (td(lhs), td(rhs)) {
                if b.micros == 0 {
                    Err(fail("division by zero"))
                } else {
                    Ok(Value::from(a.micros as f64 / b.micros as f64))
                }
            } else if let (Some(a), Some(f)) = (td(lhs), as_float(rhs)) {
                if f == 0.0 {
                    Err(fail("division by zero"))
                } else {
                    Ok(Value::from_object(PyTimeDelta { micros: (a.micros as f64 / f).round_ties_even() as i128 }))
                }
            } else {
                unsupported()
            }
        }
        'n' => {
            if let Some(t) = td(lhs) {
                Ok(Value::from_object(PyTimeDelta { micros: -t.micros }))
            } else if let Some(r) = rd(lhs) {
                Ok(Value::from_object(r.negated()))
            } else {
                unsupported()
            }
        }
        _ => unsupported(),
    };
    Some(result)
}

trait OrElse2<A, B> {
    fn or_else2(self, f: impl FnOnce() -> (Option<A>, Option<B>)) -> (Option<A>, Option<B>);
}

impl<A, B> OrElse2<A, B> for (Option<A>, Option<B>) {
    /// The pair when both sides are present, else the alternative pair.
    fn or_else2(self, f: impl FnOnce() -> (Option<A>, Option<B>)) -> (Option<A>, Option<B>) {
        if self.0.is_some() && self.1.is_some() { self } else { f() }
    }
}

/// The Python type name of a value, for error messages.
pub fn type_name(v: &Value) -> &'static str {
    use minijinja::value::ValueKind;
    if v.downcast_object_ref::<PyDateTime>().is_some() {
        return "datetime.datetime";
    }
    if v.downcast_object_ref::<PyDate>().is_some() {
        return "datetime.date";
    }
    if v.downcast_object_ref::<PyTimeDelta>().is_some() {
        return "datetime.timedelta";
    }
    if v.downcast_object_ref::<PyRelativeDelta>().is_some() {
        return "relativedelta";
    }
    match v.kind() {
        ValueKind::Undefined => "Undefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

/// Time zones: dateutil's `tz` module (`gettz`, `tzutc`, `tzlocal`, `UTC`).
#[derive(Debug)]
pub struct TzModule;

impl Object for TzModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "UTC").then(|| Value::from_object(PyTz(TimeZone::UTC)))
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let a = Args::new(method, args)?;
        match method {
            "gettz" => Ok(match a.string(0, "name")? {
                None => Value::from_object(PyTz(TimeZone::system())),
                Some(name) => TimeZone::get(&name).map(|t| Value::from_object(PyTz(t))).unwrap_or(Value::from(())),
            }),
            "tzutc" => Ok(Value::from_object(PyTz(TimeZone::UTC))),
            "tzlocal" => Ok(Value::from_object(PyTz(TimeZone::system()))),
            "tzoffset" => {
                let seconds = a.int(1, "offset")?.unwrap_or(0);
                let offset = Offset::from_seconds(seconds as i32).map_err(|e| jiff_fail("tzoffset", e))?;
                Ok(Value::from_object(PyTz(TimeZone::fixed(offset))))
            }
            _ => Err(no_method("dateutil.tz", method)),
        }
    }
}

/// dateutil's `parser` module (`parse`, `isoparse`), also `utils.parsedate`.
#[derive(Debug)]
pub struct ParserModule;

impl Object for ParserModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let a = Args::new(method, args)?;
        let text = a.string(0, "timestr")?.ok_or_else(|| fail(format!("{method}() needs a string")))?;
        match method {
            "parse" => {
                a.allow(&["timestr", "dayfirst", "yearfirst", "fuzzy", "ignoretz"])?;
                let dayfirst = a.get(usize::MAX, "dayfirst").is_some_and(Value::is_true);
                let mut parsed = parse_loose(&text, dayfirst)?;
                if a.get(usize::MAX, "ignoretz").is_some_and(Value::is_true) {
                    parsed.tz = None;
                }
                Ok(Value::from_object(parsed))
            }
            "isoparse" => Ok(Value::from_object(isoparse(&text)?)),
            _ => Err(no_method("dateutil.parser", method)),
        }
    }
}

/// A datetime value for a JSON timestamp string, keeping its written offset.
pub fn datetime_from_text(text: &str) -> Option<Value> {
    let parsed = isoparse(text).ok()?;
    parsed.tz.as_ref()?;
    Some(Value::from_object(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timedelta_prints_like_python() {
        let cases = [
            (0, "0:00:00"),
            (90 * 1_000_000, "0:01:30"),
            (MICROS_PER_DAY, "1 day, 0:00:00"),
            (-1, "-1 day, 23:59:59.999999"),
            (3 * MICROS_PER_DAY + 5, "3 days, 0:00:00.000005"),
        ];
        for (micros, text) in cases {
            assert_eq!(PyTimeDelta { micros }.to_python(), text);
        }
    }

    #[test]
    fn parses_the_usual_forms() {
        let cases = [
            ("2025-03-04", "2025-03-04 00:00:00"),
            ("2025-03-04T07:15:02+11:00", "2025-03-04 07:15:02+11:00"),
            ("20250304T071502Z", "2025-03-04 07:15:02+00:00"),
            ("4 Mar 2025 7:15pm", "2025-03-04 19:15:00"),
            ("March 4, 2025", "2025-03-04 00:00:00"),
            ("03/04/2025 10:00", "2025-03-04 10:00:00"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_loose(text, false).unwrap().isoformat(" "), expected, "{text}");
        }
        assert_eq!(parse_loose("03/04/2025", true).unwrap().civil.date(), Date::constant(2025, 4, 3));
        assert!(parse_loose("not a date", false).is_err());
    }

    #[test]
    fn strptime_reads_what_strftime_writes() {
        let d = strptime("2025-03-04 19:15:02", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            strftime(d.civil, None, "%a %d %b %Y %I:%M %p, day %j, week %U/%W/%V"),
            "Tue 04 Mar 2025 07:15 PM, day 063, week 09/09/10"
        );
        assert!(strptime("2025-03-04", "%d/%m/%Y").is_err());
    }
}
