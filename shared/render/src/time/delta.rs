//! `timedelta`: a signed number of microseconds that prints, compares and adds up as in Python.

use jiff::SignedDuration;
use minijinja::value::{DynObject, Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, State};
use std::cmp::Ordering;
use std::sync::Arc;

use super::{MICROS_PER_DAY, MICROS_PER_SECOND, no_method};
use crate::args::{Args, as_float, as_int, fail};

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

    pub(super) fn duration(&self) -> Result<SignedDuration, Error> {
        i64::try_from(self.micros).map(SignedDuration::from_micros).map_err(|_| fail("timedelta out of range"))
    }

    pub(super) fn from_duration(d: SignedDuration) -> Self {
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

    pub(super) fn construct(args: &Args) -> Result<PyTimeDelta, Error> {
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
}
