//! How values print: Python's `str()` and `repr()` (`True`, `None`, `{'a': 1}`, `600.0`), and
//! the tuple type that prints with parentheses.

use minijinja::value::{Value, ValueKind};

use crate::args::as_float;

/// A Python tuple: a sequence that prints with parentheses (`('a', 'b')`).
#[derive(Debug, Clone)]
pub struct PyTuple(pub Vec<Value>);

impl minijinja::value::Object for PyTuple {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }

    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        let index = key.as_i64()?;
        let index = if index < 0 { self.0.len() as i64 + index } else { index };
        self.0.get(usize::try_from(index).ok()?).cloned()
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.0.len())
    }
}

/// A tuple value.
pub fn tuple(items: Vec<Value>) -> Value {
    Value::from_object(PyTuple(items))
}

/// `repr()` of a value, as Python prints it inside a container.
pub fn repr(v: &Value) -> String {
    match v.kind() {
        ValueKind::String => quote(v.as_str().unwrap_or_default()),
        _ => display(v),
    }
}

/// `str()` of a value.
pub fn display(v: &Value) -> String {
    match v.kind() {
        ValueKind::Undefined => String::new(),
        ValueKind::None => "None".into(),
        ValueKind::Bool => (if v.is_true() { "True" } else { "False" }).into(),
        ValueKind::Number if !v.is_integer() => float_text(as_float(v).unwrap_or(f64::NAN)),
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        ValueKind::Seq => {
            let items: Vec<String> = v.try_iter().map(|it| it.map(|x| repr(&x)).collect()).unwrap_or_default();
            match v.downcast_object_ref::<PyTuple>() {
                Some(_) if items.len() == 1 => format!("({},)", items[0]),
                Some(_) => format!("({})", items.join(", ")),
                None => format!("[{}]", items.join(", ")),
            }
        }
        ValueKind::Map => {
            let items: Vec<String> = v
                .try_iter()
                .map(|it| it.map(|k| format!("{}: {}", repr(&k), repr(&v.get_item(&k).unwrap_or_default()))).collect())
                .unwrap_or_default();
            format!("{{{}}}", items.join(", "))
        }
        _ => v.to_string(),
    }
}

/// Python's quoting of a string in `repr()`.
pub fn quote(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// Python's `repr(float)`: `600.0`, `0.1`, `1e-05`, `1e+16`, `inf`, `nan`.
pub fn float_text(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return (if f > 0.0 { "inf" } else { "-inf" }).into();
    }
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("a number");
    if (-4..16).contains(&exponent) {
        let text = f.to_string();
        if text.contains('.') { text } else { format!("{text}.0") }
    } else {
        format!("{mantissa}e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        for (f, text) in [
            (600.0, "600.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (123456.789, "123456.789"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(float_text(f), text);
        }
    }
}
