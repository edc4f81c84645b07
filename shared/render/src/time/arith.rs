//! Arithmetic between date/time values (`+ - * /` and unary minus), as Python does it.

use jiff::SignedDuration;
use jiff::civil::{Date, Time};
use minijinja::Error;
use minijinja::value::Value;

use super::{PyDate, PyDateTime, PyRelativeDelta, PyTimeDelta, jiff_fail, type_name};
use crate::args::{as_float, as_int, fail};

/// Arithmetic between date/time values: `Some(result)` when either operand is one of them.
pub fn arithmetic(op: char, lhs: &Value, rhs: &Value) -> Option<Result<Value, Error>> {
    let is_time = |v: &Value| dt(v).is_some() || date(v).is_some() || td(v).is_some() || rd(v).is_some();
    if !is_time(lhs) && !is_time(rhs) {
        return None;
    }
    let result = match op {
        '+' => add(lhs, rhs),
        '-' => subtract(lhs, rhs),
        '*' => multiply(lhs, rhs),
        '/' => divide(lhs, rhs),
        'n' => negate(lhs),
        _ => None,
    };
    Some(result.unwrap_or_else(|| {
        Err(fail(format!("unsupported operand type(s) for {op}: '{}' and '{}'", type_name(lhs), type_name(rhs))))
    }))
}

fn dt(v: &Value) -> Option<PyDateTime> {
    v.downcast_object_ref::<PyDateTime>().cloned()
}

fn date(v: &Value) -> Option<PyDate> {
    v.downcast_object_ref::<PyDate>().copied()
}

fn td(v: &Value) -> Option<PyTimeDelta> {
    v.downcast_object_ref::<PyTimeDelta>().copied()
}

fn rd(v: &Value) -> Option<PyRelativeDelta> {
    v.downcast_object_ref::<PyRelativeDelta>().copied()
}

/// A datetime moved by `micros` microseconds.
fn shift(d: &PyDateTime, micros: i128) -> Result<Value, Error> {
    let civil = d.civil.checked_add(PyTimeDelta { micros }.duration()?).map_err(|e| jiff_fail("datetime", e))?;
    Ok(d.with_civil(civil))
}

/// A date moved by `days` days.
fn shift_date(d: Date, days: i128) -> Result<Value, Error> {
    let moved = d.checked_add(SignedDuration::from_hours(days as i64 * 24)).map_err(|e| jiff_fail("date", e))?;
    Ok(Value::from_object(PyDate(moved)))
}

/// A relativedelta applied to a datetime or a date (a date with a time part becomes a datetime).
fn apply_rd(r: &PyRelativeDelta, v: &Value) -> Option<Result<Value, Error>> {
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
}

/// `+` of time values (`None`: unsupported operands).
fn add(lhs: &Value, rhs: &Value) -> Option<Result<Value, Error>> {
    Some(if let (Some(d), Some(t)) = (dt(lhs), td(rhs)).or_else2(|| (dt(rhs), td(lhs))) {
        shift(&d, t.micros)
    } else if let (Some(d), Some(t)) = (date(lhs), td(rhs)).or_else2(|| (date(rhs), td(lhs))) {
        shift_date(d.0, t.parts().0)
    } else if let (Some(a), Some(b)) = (td(lhs), td(rhs)) {
        Ok(Value::from_object(PyTimeDelta { micros: a.micros + b.micros }))
    } else if let (Some(a), Some(b)) = (rd(lhs), rd(rhs)) {
        Ok(Value::from_object(a.plus(&b)))
    } else if let Some(r) = rd(rhs) {
        return apply_rd(&r, lhs);
    } else {
        return apply_rd(&rd(lhs)?, rhs);
    })
}

/// `-` of time values (`None`: unsupported operands).
fn subtract(lhs: &Value, rhs: &Value) -> Option<Result<Value, Error>> {
    Some(if let (Some(a), Some(b)) = (dt(lhs), dt(rhs)) {
        match (&a.tz, &b.tz) {
            (None, None) => Ok(PyTimeDelta::from_duration(a.civil.duration_since(b.civil))),
            (Some(x), Some(y)) if x == y => Ok(PyTimeDelta::from_duration(a.civil.duration_since(b.civil))),
            (Some(_), Some(_)) => (|| Ok(PyTimeDelta::from_duration(a.instant()?.duration_since(b.instant()?))))(),
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
    } else {
        return apply_rd(&rd(rhs)?.negated(), lhs);
    })
}

/// `*` of a timedelta or relativedelta and a number (`None`: unsupported operands).
fn multiply(lhs: &Value, rhs: &Value) -> Option<Result<Value, Error>> {
    let (delta, factor) = if td(lhs).is_some() || rd(lhs).is_some() { (lhs, rhs) } else { (rhs, lhs) };
    if let (Some(t), Some(f)) = (td(delta), as_float(factor)) {
        let micros = match as_int(factor) {
            Some(i) => t.micros * i as i128,
            None => (t.micros as f64 * f).round_ties_even() as i128,
        };
        Some(Ok(Value::from_object(PyTimeDelta { micros })))
    } else {
        let (r, i) = (rd(delta)?, as_int(factor)?);
        Some(Ok(Value::from_object(r.times(i))))
    }
}

/// `/` of a timedelta by a timedelta or a number (`None`: unsupported operands).
fn divide(lhs: &Value, rhs: &Value) -> Option<Result<Value, Error>> {
    let a = td(lhs)?;
    if let Some(b) = td(rhs) {
        return Some(if b.micros == 0 {
            Err(fail("division by zero"))
        } else {
            Ok(Value::from(a.micros as f64 / b.micros as f64))
        });
    }
    let f = as_float(rhs)?;
    Some(if f == 0.0 {
        Err(fail("division by zero"))
    } else {
        Ok(Value::from_object(PyTimeDelta { micros: (a.micros as f64 / f).round_ties_even() as i128 }))
    })
}

/// Unary `-` of a timedelta or relativedelta (`None`: unsupported operand).
fn negate(value: &Value) -> Option<Result<Value, Error>> {
    if let Some(t) = td(value) {
        Some(Ok(Value::from_object(PyTimeDelta { micros: -t.micros })))
    } else {
        Some(Ok(Value::from_object(rd(value)?.negated())))
    }
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
