//! The classes and modules templates call: `datetime`, `date`, `time`, `timedelta` and
//! `relativedelta` with their class methods, and dateutil's `tz` and `parser` modules.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Error, State};
use std::sync::Arc;

use super::datetime::{build_date, build_datetime, build_time, tz_arg};
use super::{
    PyDate, PyDateTime, PyRelativeDelta, PyTime, PyTimeDelta, PyTz, isoparse, jiff_fail, no_method, parse_loose,
    strptime,
};
use crate::args::{Args, fail};

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
