//! Formatting: `str.format` with its format specs, and printf-style `%` formatting.

use minijinja::Error;
use minijinja::value::{Value, ValueKind};

use super::{display, float_text, items, repr};
use crate::args::{Args, as_float, as_int, fail};
use crate::time;

/// `str.format`: `{}`, `{0}`, `{name}`, `{name.attr}`, `{x[k]}` with a format spec after `:`.
pub(super) fn str_format(template: &str, a: &Args) -> Result<String, Error> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let mut auto = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut field = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    field.push(c);
                }
                let (name, spec) = field.split_once(':').unwrap_or((&field, ""));
                let (name, conversion) = name.split_once('!').unwrap_or((name, ""));
                let root_end = name.find(['.', '[']).unwrap_or(name.len());
                let root = &name[..root_end];
                let mut value = if root.is_empty() {
                    auto += 1;
                    a.positional().get(auto - 1).cloned()
                } else if let Ok(i) = root.parse::<usize>() {
                    a.positional().get(i).cloned()
                } else {
                    a.keywords().iter().find(|(k, _)| k == root).map(|(_, v)| v.clone())
                }
                .ok_or_else(|| fail(format!("format: no value for field '{name}'")))?;
                let mut rest = &name[root_end..];
                while !rest.is_empty() {
                    if let Some(r) = rest.strip_prefix('.') {
                        let end = r.find(['.', '[']).unwrap_or(r.len());
                        value = value.get_attr(&r[..end])?;
                        rest = &r[end..];
                    } else if let Some(r) = rest.strip_prefix('[') {
                        let end = r.find(']').ok_or_else(|| fail("format: missing ]"))?;
                        let key = &r[..end];
                        value = match key.parse::<i64>() {
                            Ok(i) => value.get_item(&Value::from(i))?,
                            Err(_) => value.get_item(&Value::from(key))?,
                        };
                        rest = &r[end + 1..];
                    } else {
                        break;
                    }
                }
                if conversion == "r" {
                    value = Value::from(repr(&value));
                }
                out.push_str(&format_spec(&value, spec)?);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// One `format()` spec: `[[fill]align][sign][0][width][,][.precision][type]`.
fn format_spec(v: &Value, spec: &str) -> Result<String, Error> {
    if spec.is_empty() {
        return Ok(display(v));
    }
    if let Some(d) = v.as_object()
        && let Some(dt) = d.downcast_ref::<time::PyDateTime>()
    {
        let zone = None;
        return Ok(time::strftime(dt.civil, zone, spec));
    }
    let mut chars: Vec<char> = spec.chars().collect();
    let mut fill = ' ';
    let mut align = None;
    if chars.len() >= 2 && matches!(chars[1], '<' | '>' | '^' | '=') {
        fill = chars[0];
        align = Some(chars[1]);
        chars.drain(..2);
    } else if !chars.is_empty() && matches!(chars[0], '<' | '>' | '^' | '=') {
        align = Some(chars[0]);
        chars.remove(0);
    }
    let mut sign = None;
    if !chars.is_empty() && matches!(chars[0], '+' | '-' | ' ') {
        sign = Some(chars.remove(0));
    }
    if !chars.is_empty() && chars[0] == '0' {
        fill = '0';
        align = align.or(Some('='));
        chars.remove(0);
    }
    let rest: String = chars.into_iter().collect();
    let type_char = rest.chars().last().filter(|c| c.is_ascii_alphabetic() || *c == '%');
    let body = type_char.map(|_| &rest[..rest.len() - 1]).unwrap_or(&rest);
    let grouping = body.contains(',');
    let body = body.replace(',', "");
    let (width, precision) = match body.split_once('.') {
        Some((w, p)) => (w.parse::<usize>().ok(), p.parse::<usize>().ok()),
        None => (body.parse::<usize>().ok(), None),
    };
    let number = as_float(v);
    let mut text = match (type_char, number) {
        (Some('d'), _) => as_int(v).ok_or_else(|| fail("format: d needs an integer"))?.abs().to_string(),
        (Some('f' | 'F'), Some(f)) => format!("{:.*}", precision.unwrap_or(6), f.abs()),
        (Some('e'), Some(f)) => python_exp(f.abs(), precision.unwrap_or(6)),
        (Some('%'), Some(f)) => format!("{:.*}%", precision.unwrap_or(6), f.abs() * 100.0),
        (Some('x'), _) => format!("{:x}", as_int(v).ok_or_else(|| fail("format: x needs an integer"))?.abs()),
        (Some('X'), _) => format!("{:X}", as_int(v).ok_or_else(|| fail("format: X needs an integer"))?.abs()),
        (Some('s') | None, _) if number.is_none() || v.kind() != ValueKind::Number => {
            let s = display(v);
            match precision {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            }
        }
        (None | Some('g'), Some(f)) => match precision {
            Some(p) => format!("{:.*}", p, f.abs()),
            None if v.is_integer() => as_int(v).unwrap_or(0).abs().to_string(),
            None => float_text(f.abs()),
        },
        (Some(t), _) => return Err(fail(format!("Unknown format code '{t}' for {}", time::type_name(v)))),
        (None, None) => display(v),
    };
    if grouping {
        let (int_part, frac) = text
            .split_once('.')
            .map(|(i, f)| (i.to_string(), format!(".{f}")))
            .unwrap_or((text.clone(), String::new()));
        let digits: Vec<char> = int_part.chars().collect();
        let mut grouped = String::new();
        for (i, d) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(*d);
        }
        text = grouped + &frac;
    }
    let negative = number.is_some_and(|f| f < 0.0) && v.kind() == ValueKind::Number;
    let sign_text = match (negative, sign) {
        (true, _) => "-",
        (false, Some('+')) if v.kind() == ValueKind::Number => "+",
        (false, Some(' ')) if v.kind() == ValueKind::Number => " ",
        _ => "",
    };
    let width = width.unwrap_or(0);
    let len = text.chars().count() + sign_text.len();
    if len >= width {
        return Ok(format!("{sign_text}{text}"));
    }
    let pad = width - len;
    let padding = |n: usize| fill.to_string().repeat(n);
    let default_align = if v.kind() == ValueKind::Number { '>' } else { '<' };
    Ok(match align.unwrap_or(default_align) {
        '<' => format!("{sign_text}{text}{}", padding(pad)),
        '^' => format!("{}{sign_text}{text}{}", padding(pad / 2), padding(pad - pad / 2)),
        '=' => format!("{sign_text}{}{text}", padding(pad)),
        _ => format!("{}{sign_text}{text}", padding(pad)),
    })
}

fn python_exp(f: f64, precision: usize) -> String {
    let text = format!("{f:.precision$e}");
    let (mantissa, exponent) = text.split_once('e').expect("exponent");
    let exponent: i32 = exponent.parse().expect("a number");
    format!("{mantissa}e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs())
}

/// printf-style `'%s-%02d' % (a, b)` and `'%(name)s' % {'name': x}`.
pub(super) fn percent_format(template: &str, args: &Value) -> Result<String, Error> {
    let positional: Vec<Value> = match args.kind() {
        ValueKind::Seq => items(args)?,
        ValueKind::Map => Vec::new(),
        _ => vec![args.clone()],
    };
    let mut next = 0;
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut key = None;
        if chars.peek() == Some(&'(') {
            chars.next();
            let mut k = String::new();
            for c in chars.by_ref() {
                if c == ')' {
                    break;
                }
                k.push(c);
            }
            key = Some(k);
        }
        let mut spec = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_digit() || matches!(c, '-' | '+' | ' ' | '.' | '#') {
                spec.push(c);
                chars.next();
            } else {
                break;
            }
        }
        let conversion = chars.next().ok_or_else(|| fail("incomplete format"))?;
        if conversion == '%' {
            out.push('%');
            continue;
        }
        let value = match &key {
            Some(k) => args.get_item(&Value::from(k.as_str()))?,
            None => {
                next += 1;
                positional.get(next - 1).cloned().ok_or_else(|| fail("not enough arguments for format string"))?
            }
        };
        let left = spec.starts_with('-');
        let spec = spec.trim_start_matches('-');
        let python_spec = match conversion {
            's' => format!("{}{spec}s", if left { "<" } else { ">" }),
            'r' => {
                let shown = Value::from(repr(&value));
                out.push_str(&format_spec(&shown, &format!("{}{spec}", if left { "<" } else { ">" }))?);
                continue;
            }
            'd' | 'i' | 'u' => {
                let int = as_int(&value).or_else(|| as_float(&value).map(|f| f.trunc() as i64)).ok_or_else(|| {
                    fail(format!("%{conversion} format: a number is required, not {}", time::type_name(&value)))
                })?;
                out.push_str(&format_spec(&Value::from(int), &format!("{}{spec}d", if left { "<" } else { "" }))?);
                continue;
            }
            'f' | 'F' | 'e' | 'x' | 'X' | 'g' => format!("{}{spec}{conversion}", if left { "<" } else { "" }),
            other => return Err(fail(format!("unsupported format character '{other}'"))),
        };
        out.push_str(&format_spec(&value, &python_spec)?);
    }
    if key_less_leftover(next, &positional, args) {
        return Err(fail("not all arguments converted during string formatting"));
    }
    Ok(out)
}

fn key_less_leftover(used: usize, positional: &[Value], args: &Value) -> bool {
    args.kind() != ValueKind::Map && used < positional.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_formatting() {
        let args = Value::from(vec![Value::from("a"), Value::from(7), Value::from(2.5)]);
        assert_eq!(percent_format("%s-%03d-%.2f %%", &args).unwrap(), "a-007-2.50 %");
        assert!(percent_format("%s %s", &Value::from("x")).is_err());
    }
}
