//! The arithmetic operators with Python semantics (date/time operands go to `time::arithmetic`).

use minijinja::Error;
use minijinja::value::{Value, ValueKind};

use super::format::percent_format;
use super::items;
use crate::args::{as_float, as_int, fail};
use crate::time;

/// Two numeric operands: both as integers when both are, and both as floats.
type Operands = (Option<(i64, i64)>, f64, f64);

fn numbers(lhs: &Value, rhs: &Value) -> Option<Operands> {
    if !lhs.is_number() || !rhs.is_number() {
        return None;
    }
    let ints = (lhs.is_integer() && rhs.is_integer()).then(|| Some((lhs.as_i64()?, rhs.as_i64()?))).flatten();
    Some((ints, as_float(lhs)?, as_float(rhs)?))
}

/// The binary operator `op` (`+ - * / %`) with Python semantics; `n` is unary minus.
pub fn operator(op: char, lhs: &Value, rhs: &Value) -> Result<Value, Error> {
    if let Some(result) = time::arithmetic(op, lhs, rhs) {
        return result;
    }
    let unsupported = || {
        fail(format!("unsupported operand type(s) for {op}: '{}' and '{}'", time::type_name(lhs), time::type_name(rhs)))
    };
    if op == 'n' {
        return match numbers(lhs, &Value::from(0)) {
            Some((Some((a, _)), _, _)) => {
                Ok(a.checked_neg().map(Value::from).unwrap_or_else(|| Value::from(-(a as i128))))
            }
            Some((None, a, _)) => Ok(Value::from(-a)),
            None => Err(fail(format!("bad operand type for unary -: '{}'", time::type_name(lhs)))),
        };
    }
    if let Some((ints, a, b)) = numbers(lhs, rhs) {
        let wide = |r: Option<i64>, wide: i128| r.map(Value::from).unwrap_or_else(|| Value::from(wide));
        return match (op, ints) {
            ('+', Some((x, y))) => Ok(wide(x.checked_add(y), x as i128 + y as i128)),
            ('-', Some((x, y))) => Ok(wide(x.checked_sub(y), x as i128 - y as i128)),
            ('*', Some((x, y))) => Ok(wide(x.checked_mul(y), x as i128 * y as i128)),
            ('%', Some((_, 0))) => Err(fail("integer modulo by zero")),
            ('%', Some((x, y))) => {
                let r = x % y;
                Ok(Value::from(if r != 0 && (r < 0) != (y < 0) { r + y } else { r }))
            }
            ('/', _) if b == 0.0 => Err(fail("division by zero")),
            ('/', _) => Ok(Value::from(a / b)),
            ('+', None) => Ok(Value::from(a + b)),
            ('-', None) => Ok(Value::from(a - b)),
            ('*', None) => Ok(Value::from(a * b)),
            ('%', None) if b == 0.0 => Err(fail("float modulo")),
            ('%', None) => Ok(Value::from(a - b * (a / b).floor())),
            _ => Err(unsupported()),
        };
    }
    match (op, lhs.kind(), rhs.kind()) {
        ('%', ValueKind::String, _) => Ok(Value::from(percent_format(lhs.as_str().unwrap_or_default(), rhs)?)),
        ('+', ValueKind::String, ValueKind::String) => {
            Ok(Value::from(format!("{}{}", lhs.as_str().unwrap_or_default(), rhs.as_str().unwrap_or_default())))
        }
        ('+', ValueKind::Seq, ValueKind::Seq) => {
            Ok(Value::from(items(lhs)?.into_iter().chain(items(rhs)?).collect::<Vec<_>>()))
        }
        ('*', ValueKind::String, ValueKind::Number) | ('*', ValueKind::Number, ValueKind::String) => {
            let (s, n) = if lhs.kind() == ValueKind::String { (lhs, rhs) } else { (rhs, lhs) };
            let n = as_int(n).ok_or_else(unsupported)?.max(0) as usize;
            Ok(Value::from(s.as_str().unwrap_or_default().repeat(n)))
        }
        ('*', ValueKind::Seq, ValueKind::Number) => {
            let n = as_int(rhs).ok_or_else(unsupported)?.max(0) as usize;
            let list = items(lhs)?;
            Ok(Value::from((0..n).flat_map(|_| list.clone()).collect::<Vec<_>>()))
        }
        _ => Err(unsupported()),
    }
}
