//! `datetime`, `date` and `time` objects and dateutil's `tzinfo`, with the helpers that build and
//! print their parts.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use minijinja::value::{DynObject, Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, State};
use std::cmp::Ordering;
use std::sync::Arc;

use super::{MICROS_PER_SECOND, PyTimeDelta, jiff_fail, no_method, strftime};
use crate::args::{Args, fail};

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

pub(super) fn tz_abbreviation(zoned: &jiff::Zoned) -> String {
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

    pub(super) fn instant(&self) -> Result<Timestamp, Error> {
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

    pub(super) fn with_civil(&self, civil: DateTime) -> Value {
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

pub(super) fn tz_arg(v: &Value) -> Result<TimeZone, Error> {
    v.downcast_object_ref::<PyTz>()
        .map(|t| t.0.clone())
        .ok_or_else(|| fail("tzinfo must be a time zone (utils.dateutil.tz.gettz(...))"))
}

pub(super) fn offset_text(offset: Offset, separator: &str) -> String {
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

pub(super) fn build_datetime(
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

pub(super) fn build_date(year: i64, month: i64, day: i64) -> Result<Date, Error> {
    let small = |v: i64, what: &str| i8::try_from(v).map_err(|_| fail(format!("{what} is out of range")));
    let year = i16::try_from(year)
        .ok()
        .filter(|y| (1..=9999).contains(y))
        .ok_or_else(|| fail(format!("year {year} is out of range")))?;
    Date::new(year, small(month, "month")?, small(day, "day")?).map_err(|e| jiff_fail("date", e))
}

pub(super) fn build_time(hour: i64, minute: i64, second: i64, micro: i64) -> Result<Time, Error> {
    let small = |v: i64, what: &str| i8::try_from(v).map_err(|_| fail(format!("{what} must be in 0..59")));
    let micro = i32::try_from(micro)
        .ok()
        .filter(|m| (0..1_000_000).contains(m))
        .ok_or_else(|| fail("microsecond must be in 0..999999"))?;
    Time::new(small(hour, "hour")?, small(minute, "minute")?, small(second, "second")?, micro * 1000)
        .map_err(|e| jiff_fail("time", e))
}

pub(super) fn weekday_number(date: Date) -> i64 {
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
