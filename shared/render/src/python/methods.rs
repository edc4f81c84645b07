//! The methods of Python strings, dicts and lists that templates call (`'a,b'.split(',')`,
//! `job.parameters.get('x', 1)`, `m.items()`).

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, State};

use super::format::str_format;
use super::{items, repr, tuple};
use crate::args::{Args, fail};
use crate::time;

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
    if let Some(test) = string_test(s, method) {
        return Ok(Value::from(test));
    }
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
        "find" | "index" | "rfind" | "rindex" | "partition" | "rpartition" | "count" => search(s, method, a),
        "join" => text(strings(a.required(0, "iterable")?, "join")?.join(s)),
        "title" => text(title(s)),
        "capitalize" => {
            let mut chars = s.chars();
            text(
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars.as_str().to_lowercase().chars()).collect())
                    .unwrap_or_default(),
            )
        }
        "zfill" | "ljust" | "rjust" | "center" => pad(s, method, a).map(Value::from),
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

/// The `is…` methods of `str` (`None` for any other method).
fn string_test(s: &str, method: &str) -> Option<bool> {
    let all = |test: fn(char) -> bool| !s.is_empty() && s.chars().all(test);
    Some(match method {
        "isdigit" | "isnumeric" | "isdecimal" => all(|c| c.is_ascii_digit()),
        "isalpha" => all(char::is_alphabetic),
        "isalnum" => all(char::is_alphanumeric),
        "isspace" => all(char::is_whitespace),
        "islower" => s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase),
        "isupper" => s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase),
        _ => return None,
    })
}

/// `str.find`, `index`, `rfind`, `rindex`, `partition`, `rpartition` and `count`.
fn search(s: &str, method: &str, a: &Args) -> Result<Value, Error> {
    match method {
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
        "count" => Ok(Value::from(s.matches(a.string(0, "sub")?.unwrap_or_default().as_str()).count() as i64)),
        _ => {
            let sub = a.string(0, "sub")?.ok_or_else(|| fail(format!("{method}() needs a substring")))?;
            let found = if method.starts_with('r') { s.rfind(&sub) } else { s.find(&sub) };
            match found {
                Some(byte) => Ok(Value::from(s[..byte].chars().count() as i64)),
                None if method.ends_with("index") => Err(fail("substring not found")),
                None => Ok(Value::from(-1)),
            }
        }
    }
}

/// `str.title`: each cased run starts upper case, the rest lower.
fn title(s: &str) -> String {
    let mut out = String::new();
    let mut previous_cased = false;
    for c in s.chars() {
        out.push_str(&if previous_cased { c.to_lowercase().collect::<String>() } else { c.to_uppercase().collect() });
        previous_cased = c.is_alphabetic();
    }
    out
}

/// `str.zfill`, `ljust`, `rjust` and `center`, with Python's placement of an odd padding.
fn pad(s: &str, method: &str, a: &Args) -> Result<String, Error> {
    let width = a.int(0, "width")?.unwrap_or(0).max(0) as usize;
    let len = s.chars().count();
    if len >= width {
        return Ok(s.to_string());
    }
    let pad = width - len;
    if method == "zfill" {
        let (sign, digits) = match s.chars().next() {
            Some(c @ ('+' | '-')) => (c.to_string(), &s[1..]),
            _ => (String::new(), s),
        };
        return Ok(format!("{sign}{}{digits}", "0".repeat(pad)));
    }
    let fill = a.string(1, "fillchar")?.and_then(|f| f.chars().next()).unwrap_or(' ');
    let (left, right) = match method {
        "ljust" => (0, pad),
        "rjust" => (pad, 0),
        _ => (pad / 2 + (pad & width & 1), pad - (pad / 2 + (pad & width & 1))),
    };
    Ok(format!("{}{s}{}", fill.to_string().repeat(left), fill.to_string().repeat(right)))
}
