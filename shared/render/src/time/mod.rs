//! Python's `datetime`, `date`, `time` and `timedelta`, and dateutil's `relativedelta` and `tz`,
//! as template values that print, compare and add up the way the original's templates expect.

mod arith;
mod classes;
mod datetime;
mod delta;
mod format;
mod parse;
mod relativedelta;

use minijinja::Error;
use minijinja::value::{Value, ValueKind};

use super::args::fail;

pub use arith::arithmetic;
pub use classes::{ParserModule, PyClass, TzModule};
pub use datetime::{PyDate, PyDateTime, PyTime, PyTz};
pub use delta::PyTimeDelta;
pub use format::{strftime, strptime};
pub use parse::{datetime_from_text, isoparse, parse_loose};
pub use relativedelta::{PyRelativeDelta, PyWeekday, weekdays};

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

fn no_method(type_name: &str, method: &str) -> Error {
    Error::new(minijinja::ErrorKind::UnknownMethod, format!("'{type_name}' object has no attribute '{method}'"))
}

/// The Python type name of a value, for error messages.
pub fn type_name(v: &Value) -> &'static str {
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
