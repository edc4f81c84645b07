//! Python behaviour for template values: how values print (`True`, `None`, `{'a': 1}`, `600.0`),
//! the string, dict and list methods templates call, `%` formatting, and the arithmetic
//! operators (which hand date/time operands to `time::arithmetic`).

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, State};

use super::args::{Args, as_float, as_int, fail};
use super::time;

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
fn quote(s: &str) -> String {
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

fn items(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, Error> {
    items(v)?
        .iter()
        .map(|x| x.as_str().map(str::to_string).ok_or_else(|| fail(format!("{what}: expected strings"))))
        .collect()
}

/// Methods of Python strings, dicts and lists that templates call (`'a,b'.split(',')`,
/// `job.parameters.get('x', 1)`, `m.items()`).
pub fn call_method(_: &mut State<'_, '_>, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let a = Args::new(method, args)?;
    match value.kind() {
        ValueKind::String => string_method(value.as_str().unwrap_or_default(), method, &a),
        ValueKind::Map => match method {
            "get" => Ok(value
                .get_item(a.required(0, "key")?)
                .ok()
                .filter(|v| !v.is_undefined())
                .unwrap_or_else(|| a.get(1, "default").cloned().unwrap_or(Value::from(())))),
            "items" => Ok(Value::from(
                items(value)?
                    .into_iter()
                    .map(|k| tuple(vec![k.clone(), value.get_item(&k).unwrap_or_default()]))
                    .collect::<Vec<_>>(),
            )),
            "keys" => Ok(Value::from(items(value)?)),
            "values" => {
                Ok(Value::from(items(value)?.iter().map(|k| value.get_item(k).unwrap_or_default()).collect::<Vec<_>>()))
            }
            "copy" => Ok(value.clone()),
            _ => Err(no_method("dict", method)),
        },
        ValueKind::Seq => {
            let list = items(value)?;
            match method {
                "index" => {
                    let wanted = a.required(0, "value")?;
                    list.iter()
                        .position(|x| x == wanted)
                        .map(|i| Value::from(i as i64))
                        .ok_or_else(|| fail(format!("{} is not in list", repr(wanted))))
                }
                "count" => {
                    let wanted = a.required(0, "value")?;
                    Ok(Value::from(list.iter().filter(|x| *x == wanted).count() as i64))
                }
                "copy" => Ok(value.clone()),
                _ => Err(no_method("list", method)),
            }
        }
        _ => Err(no_method(time::type_name(value), method)),
    }
}

fn no_method(type_name: &str, method: &str) -> Error {
    Error::new(minijinja::ErrorKind::UnknownMethod, format!("'{type_name}' object has no attribute '{method}'"))
}

fn chars_arg(a: &Args) -> Result<Option<Vec<char>>, Error> {
    Ok(a.string(0, "chars")?.map(|c| c.chars().collect()))
}

fn split(s: &str, sep: Option<&str>, max: i64, from_right: bool) -> Vec<Value> {
    let limit = if max < 0 { usize::MAX } else { max as usize + 1 };
    let parts: Vec<String> = match (sep, from_right) {
        (Some(sep), false) => s.splitn(limit, sep).map(str::to_string).collect(),
        (Some(sep), true) => {
            let mut p: Vec<String> = s.rsplitn(limit, sep).map(str::to_string).collect();
            p.reverse();
            p
        }
        (None, _) => {
            let words: Vec<&str> = s.split_whitespace().collect();
            if words.len() <= limit {
                words.iter().map(|w| w.to_string()).collect()
            } else if from_right {
                let keep = words.len() - (limit - 1);
                let head_end = s.trim_end().len()
                    - words[keep..].iter().map(|w| w.len()).sum::<usize>()
                    - (words.len() - keep - 1);
                let mut p = vec![s[..head_end].trim().to_string()];
                p.extend(words[keep..].iter().map(|w| w.to_string()));
                p
            } else {
                let mut p: Vec<String> = words[..limit - 1].iter().map(|w| w.to_string()).collect();
                let mut rest = s.trim_start();
                for _ in 0..limit - 1 {
                    rest = rest.trim_start();
                    rest = &rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..];
                }
                p.push(rest.trim_start().to_string());
                p
            }
        }
    };
    parts.into_iter().map(Value::from).collect()
}

fn string_method(s: &str, method: &str, a: &Args) -> Result<Value, Error> {
    let text = |t: String| Ok(Value::from(t));
    let prefixes = |v: &Value| -> Result<Vec<String>, Error> {
        match v.as_str() {
            Some(p) => Ok(vec![p.to_string()]),
            None => strings(v, method),
        }
    };
    match method {
        "lower" | "casefold" => text(s.to_lowercase()),
        "upper" => text(s.to_uppercase()),
        "strip" => text(match chars_arg(a)? {
            Some(c) => s.trim_matches(c.as_slice()).to_string(),
            None => s.trim().to_string(),
        }),
        "lstrip" => text(match chars_arg(a)? {
            Some(c) => s.trim_start_matches(c.as_slice()).to_string(),
            None => s.trim_start().to_string(),
        }),
        "rstrip" => text(match chars_arg(a)? {
            Some(c) => s.trim_end_matches(c.as_slice()).to_string(),
            None => s.trim_end().to_string(),
        }),
        "split" | "rsplit" => {
            let sep = a.string(0, "sep")?;
            if sep.as_deref() == Some("") {
                return Err(fail("empty separator"));
            }
            Ok(Value::from(split(s, sep.as_deref(), a.int(1, "maxsplit")?.unwrap_or(-1), method == "rsplit")))
        }
        "splitlines" => Ok(Value::from(s.lines().map(Value::from).collect::<Vec<_>>())),
        "replace" => {
            let old = a.string(0, "old")?.ok_or_else(|| fail("replace() needs old"))?;
            let new = a.string(1, "new")?.ok_or_else(|| fail("replace() needs new"))?;
            text(match a.int(2, "count")? {
                Some(n) if n >= 0 => s.replacen(&old, &new, n as usize),
                _ => s.replace(&old, &new),
            })
        }
        "startswith" => Ok(Value::from(prefixes(a.required(0, "prefix")?)?.iter().any(|p| s.starts_with(p.as_str())))),
        "endswith" => Ok(Value::from(prefixes(a.required(0, "suffix")?)?.iter().any(|p| s.ends_with(p.as_str())))),
        "find" | "index" | "rfind" | "rindex" => {
            let sub = a.string(0, "sub")?.ok_or_else(|| fail(format!("{method}() needs a substring")))?;
            let found = if method.starts_with('r') { s.rfind(&sub) } else { s.find(&sub) };
            match found {
                Some(byte) => Ok(Value::from(s[..byte].chars().count() as i64)),
                None if method.ends_with("index") => Err(fail("substring not found")),
                None => Ok(Value::from(-1)),
            }
        }
        "count" => Ok(Value::from(s.matches(a.string(0, "sub")?.unwrap_or_default().as_str()).count() as i64)),
        "join" => text(strings(a.required(0, "iterable")?, "join")?.join(s)),
        "title" => {
            let mut out = String::new();
            let mut previous_cased = false;
            for c in s.chars() {
                out.extend(
                    if previous_cased { c.to_lowercase().collect::<String>() } else { c.to_uppercase().collect() }
                        .chars(),
                );
                previous_cased = c.is_alphabetic();
            }
            text(out)
        }
        "capitalize" => {
            let mut chars = s.chars();
            text(
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars.as_str().to_lowercase().chars()).collect())
                    .unwrap_or_default(),
            )
        }
        "isdigit" | "isnumeric" | "isdecimal" => {
            Ok(Value::from(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())))
        }
        "isalpha" => Ok(Value::from(!s.is_empty() && s.chars().all(char::is_alphabetic))),
        "isalnum" => Ok(Value::from(!s.is_empty() && s.chars().all(char::is_alphanumeric))),
        "isspace" => Ok(Value::from(!s.is_empty() && s.chars().all(char::is_whitespace))),
        "islower" => Ok(Value::from(s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase))),
        "isupper" => Ok(Value::from(s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase))),
        "zfill" => {
            let width = a.int(0, "width")?.unwrap_or(0).max(0) as usize;
            let len = s.chars().count();
            if len >= width {
                return text(s.to_string());
            }
            let (sign, digits) = match s.chars().next() {
                Some(c @ ('+' | '-')) => (c.to_string(), &s[1..]),
                _ => (String::new(), s),
            };
            text(format!("{sign}{}{digits}", "0".repeat(width - len)))
        }
        "ljust" | "rjust" | "center" => {
            let width = a.int(0, "width")?.unwrap_or(0).max(0) as usize;
            let fill = a.string(1, "fillchar")?.and_then(|f| f.chars().next()).unwrap_or(' ');
            let len = s.chars().count();
            if len >= width {
                return text(s.to_string());
            }
            let pad = width - len;
            let (left, right) = match method {
                "ljust" => (0, pad),
                "rjust" => (pad, 0),
                _ => (pad / 2 + (pad & width & 1), pad - (pad / 2 + (pad & width & 1))),
            };
            text(format!("{}{s}{}", fill.to_string().repeat(left), fill.to_string().repeat(right)))
        }
        "partition" | "rpartition" => {
            let sep = a.string(0, "sep")?.ok_or_else(|| fail(format!("{method}() needs a separator")))?;
            let found = if method == "partition" { s.find(&sep) } else { s.rfind(&sep) };
            let parts = match found {
                Some(i) => [&s[..i], sep.as_str(), &s[i + sep.len()..]],
                None if method == "partition" => [s, "", ""],
                None => ["", "", s],
            };
            Ok(tuple(parts.iter().map(|p| Value::from(*p)).collect()))
        }
        "removeprefix" => {
            text(s.strip_prefix(a.string(0, "prefix")?.unwrap_or_default().as_str()).unwrap_or(s).to_string())
        }
        "removesuffix" => {
            text(s.strip_suffix(a.string(0, "suffix")?.unwrap_or_default().as_str()).unwrap_or(s).to_string())
        }
        "format" => text(str_format(s, a)?),
        _ => Err(no_method("str", method)),
    }
}

/// `str.format`: `{}`, `{0}`, `{name}`, `{name.attr}`, `{x[k]}` with a format spec after `:`.
fn str_format(template: &str, a: &Args) -> Result<String, Error> {
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
    if let Some(d) = v.as_object() {
        if let Some(dt) = d.downcast_ref::<time::PyDateTime>() {
            let zone = None;
            return Ok(time::strftime(dt.civil, zone, spec));
        }
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
            if i > 0 && (digits.len() - i) % 3 == 0 {
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
fn percent_format(template: &str, args: &Value) -> Result<String, Error> {
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

fn numbers(lhs: &Value, rhs: &Value) -> Option<(Option<(i64, i64)>, f64, f64)> {
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

    #[test]
    fn percent_formatting() {
        let args = Value::from(vec![Value::from("a"), Value::from(7), Value::from(2.5)]);
        assert_eq!(percent_format("%s-%03d-%.2f %%", &args).unwrap(), "a-007-2.50 %");
        assert!(percent_format("%s %s", &Value::from("x")).is_err());
    }
}

/// Jinja2's `tojson` filter: Python's `json.dumps(sort_keys=True)` (`", "` and `": "`
/// separators, ASCII only) with `<`, `>`, `&` and `'` escaped for HTML.
pub fn tojson(value: &Value, rest: minijinja::value::Rest<Value>) -> Result<Value, Error> {
    let a = Args::new("tojson", &rest)?;
    a.allow(&["indent"])?;
    let indent = a.int(0, "indent")?.map(|i| i.max(0) as usize);
    let json = serde_json::to_value(value).map_err(|e| fail(format!("tojson: {e}")))?;
    let mut out = String::new();
    write_json(&json, &JsonStyle { indent, sort_keys: true, html_safe: true }, 0, &mut out);
    Ok(Value::from_safe_string(out))
}

/// Python's `json.dumps(value)` with its defaults (`", "`/`": "` separators, ASCII only, keys
/// in their order): the text the original stores for `json` state items.
pub fn json_dumps(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_json(value, &JsonStyle { indent: None, sort_keys: false, html_safe: false }, 0, &mut out);
    out
}

struct JsonStyle {
    indent: Option<usize>,
    sort_keys: bool,
    html_safe: bool,
}

fn write_json(v: &serde_json::Value, style: &JsonStyle, level: usize, out: &mut String) {
    let indent = style.indent;
    use serde_json::Value as J;
    let newline = |out: &mut String, level: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * level));
        }
    };
    let separator = if indent.is_some() { "," } else { ", " };
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            Some(f) => out.push_str(&float_text(f).replace("inf", "Infinity").replace("nan", "NaN")),
            None => out.push_str(&n.to_string()),
        },
        J::String(s) => json_string(s, style.html_safe, out),
        J::Array(items) if items.is_empty() => out.push_str("[]"),
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                newline(out, level + 1);
                write_json(item, style, level + 1, out);
            }
            newline(out, level);
            out.push(']');
        }
        J::Object(map) if map.is_empty() => out.push_str("{}"),
        J::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            if style.sort_keys {
                keys.sort();
            }
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                newline(out, level + 1);
                json_string(k, style.html_safe, out);
                out.push_str(": ");
                write_json(&map[*k], style, level + 1, out);
            }
            newline(out, level);
            out.push('}');
        }
    }
}

fn json_string(s: &str, html_safe: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\'' if html_safe => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
