//! The `utils` render variable: Python's `datetime` classes, dateutil, `re`, `os.path`,
//! `uuid4` and the S3 location helpers.

use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Error, State};
use regex_lite::Regex;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::args::{Args, fail};
use super::time::{ParserModule, PyClass, TzModule, weekdays};
use crate::model::S3Location;

/// The `utils` map every render gets.
pub fn utils() -> Value {
    let relativedelta: BTreeMap<&str, Value> =
        std::iter::once(("relativedelta", Value::from_object(PyClass::RelativeDelta))).chain(weekdays()).collect();
    let dateutil: BTreeMap<&str, Value> = [
        ("relativedelta", Value::from(relativedelta)),
        ("parser", Value::from_object(ParserModule)),
        ("tz", Value::from_object(TzModule)),
    ]
    .into_iter()
    .collect();
    let map: BTreeMap<&str, Value> = [
        ("date", Value::from_object(PyClass::Date)),
        ("datetime", Value::from_object(PyClass::DateTime)),
        ("time", Value::from_object(PyClass::Time)),
        ("timedelta", Value::from_object(PyClass::TimeDelta)),
        ("dateutil", Value::from(dateutil)),
        ("parsedate", Value::from_object(ParserModule)),
        ("s3bucket", Value::from_function(|s: String| S3Location::parse(&s).map(|l| l.bucket).map_err(fail))),
        ("s3key", Value::from_function(|s: String| S3Location::parse(&s).map(|l| l.key).map_err(fail))),
        ("uuid", Value::from_function(|| uuid::Uuid::new_v4().to_string())),
        ("path", Value::from_object(PathModule)),
        ("re", Value::from_object(ReModule)),
    ]
    .into_iter()
    .collect();
    Value::from(map)
}

/// `os.path`.
#[derive(Debug)]
struct PathModule;

fn split_path(p: &str) -> (String, String) {
    match p.rfind('/') {
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            (if trimmed.is_empty() { head.to_string() } else { trimmed.to_string() }, p[i + 1..].to_string())
        }
        None => (String::new(), p.to_string()),
    }
}

fn splitext(p: &str) -> (String, String) {
    let (_, base) = split_path(p);
    let stem_start = base.len() - base.trim_start_matches('.').len();
    match base[stem_start..].rfind('.') {
        Some(i) => {
            let cut = p.len() - (base.len() - stem_start - i);
            (p[..cut].to_string(), p[cut..].to_string())
        }
        None => (p.to_string(), String::new()),
    }
}

fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let absolute = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn pair(a: String, b: String) -> Value {
    super::python::tuple(vec![Value::from(a), Value::from(b)])
}

impl Object for PathModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "sep").then(|| Value::from("/"))
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let a = Args::new(method, args)?;
        let path = || a.string(0, "path")?.ok_or_else(|| fail(format!("{method}() needs a path")));
        match method {
            "basename" => Ok(Value::from(split_path(&path()?).1)),
            "dirname" => Ok(Value::from(split_path(&path()?).0)),
            "split" => {
                let (h, t) = split_path(&path()?);
                Ok(pair(h, t))
            }
            "splitext" => {
                let (s, e) = splitext(&path()?);
                Ok(pair(s, e))
            }
            "join" => {
                let mut joined = String::new();
                for part in a.positional() {
                    let part = part.as_str().ok_or_else(|| fail("join(): paths must be strings"))?;
                    if part.starts_with('/') || joined.is_empty() {
                        joined = part.to_string();
                    } else if joined.ends_with('/') {
                        joined.push_str(part);
                    } else {
                        joined = format!("{joined}/{part}");
                    }
                }
                Ok(Value::from(joined))
            }
            "normpath" => Ok(Value::from(normpath(&path()?))),
            "isabs" => Ok(Value::from(path()?.starts_with('/'))),
            _ => Err(fail(format!("module 'os.path' has no attribute '{method}'"))),
        }
    }
}

/// Python's `re` flags.
const IGNORECASE: i64 = 2;
const MULTILINE: i64 = 8;
const DOTALL: i64 = 16;
const VERBOSE: i64 = 64;

/// Translates a Python pattern and flags for `regex_lite`.
fn compile(pattern: &str, flags: i64) -> Result<Regex, Error> {
    let mut prefix = String::new();
    for (flag, letter) in [(IGNORECASE, 'i'), (MULTILINE, 'm'), (DOTALL, 's'), (VERBOSE, 'x')] {
        if flags & flag != 0 {
            prefix.push(letter);
        }
    }
    let translated = pattern.replace("\\Z", "\\z");
    let full = if prefix.is_empty() { translated } else { format!("(?{prefix}){translated}") };
    Regex::new(&full).map_err(|e| fail(format!("bad regular expression {pattern:?}: {e}")))
}

/// Python's replacement syntax (`\1`, `\g<name>`, `\g<1>`) in `regex_lite` form (`${1}`).
fn replacement(repl: &str) -> String {
    let mut out = String::new();
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        n.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// A match object: `group(n)`, `groups()`, `groupdict()`, `start()`, `end()`, `span()`.
#[derive(Debug)]
struct PyMatch {
    groups: Vec<Option<(usize, usize, String)>>,
    names: Vec<Option<String>>,
}

impl PyMatch {
    fn new(re: &Regex, caps: regex_lite::Captures<'_>) -> PyMatch {
        let groups =
            (0..caps.len()).map(|i| caps.get(i).map(|m| (m.start(), m.end(), m.as_str().to_string()))).collect();
        let names = re.capture_names().map(|n| n.map(str::to_string)).collect();
        PyMatch { groups, names }
    }

    fn index(&self, v: &Value) -> Result<usize, Error> {
        if let Some(name) = v.as_str() {
            return self
                .names
                .iter()
                .position(|n| n.as_deref() == Some(name))
                .ok_or_else(|| fail(format!("no such group: {name}")));
        }
        let i = v.as_i64().ok_or_else(|| fail("group index must be a number or a name"))?;
        usize::try_from(i).ok().filter(|i| *i < self.groups.len()).ok_or_else(|| fail("no such group"))
    }

    fn group(&self, i: usize) -> Value {
        self.groups[i].as_ref().map(|g| Value::from(g.2.clone())).unwrap_or(Value::from(()))
    }
}

impl Object for PyMatch {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.index(key).ok().map(|i| self.group(i))
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let which = || args.first().map(|v| self.index(v)).transpose().map(|i| i.unwrap_or(0));
        match method {
            "group" => match args {
                [] => Ok(self.group(0)),
                [one] => Ok(self.group(self.index(one)?)),
                many => Ok(super::python::tuple(
                    many.iter().map(|v| self.index(v).map(|i| self.group(i))).collect::<Result<Vec<_>, _>>()?,
                )),
            },
            "groups" => Ok(super::python::tuple((1..self.groups.len()).map(|i| self.group(i)).collect())),
            "groupdict" => Ok(Value::from(
                self.names
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| n.as_ref().map(|n| (n.clone(), self.group(i))))
                    .collect::<BTreeMap<_, _>>(),
            )),
            "start" => Ok(Value::from(self.groups[which()?].as_ref().map(|g| g.0 as i64).unwrap_or(-1))),
            "end" => Ok(Value::from(self.groups[which()?].as_ref().map(|g| g.1 as i64).unwrap_or(-1))),
            "span" => {
                let (s, e) = self.groups[which()?].as_ref().map(|g| (g.0 as i64, g.1 as i64)).unwrap_or((-1, -1));
                Ok(super::python::tuple(vec![Value::from(s), Value::from(e)]))
            }
            _ => Err(fail(format!("'re.Match' object has no attribute '{method}'"))),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.groups[0].as_ref().expect("group 0 always matches");
        write!(
            f,
            "<re.Match object; span=({}, {}), match={}>",
            g.0,
            g.1,
            super::python::repr(&Value::from(g.2.clone()))
        )
    }
}

/// `re`: `search`, `match`, `fullmatch`, `sub`, `findall`, `split`, `compile`, `escape`, flags.
#[derive(Debug)]
struct ReModule;

/// A compiled pattern (`re.compile(...)`), with the module's functions as methods.
#[derive(Debug)]
struct PyPattern {
    pattern: String,
    flags: i64,
}

fn re_call(method: &str, pattern: &str, flags: i64, a: &Args, offset: usize) -> Result<Value, Error> {
    let text =
        |i: usize, name: &str| a.string(i + offset, name)?.ok_or_else(|| fail(format!("{method}() needs {name}")));
    let flags = a.int(usize::MAX, "flags")?.unwrap_or(flags);
    match method {
        "search" | "match" | "fullmatch" => {
            let s = text(0, "string")?;
            let anchored = match method {
                "search" => pattern.to_string(),
                "match" => format!("^(?:{pattern})"),
                _ => format!("^(?:{pattern})\\z"),
            };
            let flags = if method == "search" { flags } else { flags & !MULTILINE };
            let re = compile(&anchored, flags)?;
            Ok(re.captures(&s).map(|c| Value::from_object(PyMatch::new(&re, c))).unwrap_or(Value::from(())))
        }
        "sub" | "subn" => {
            let repl = text(0, "repl")?;
            let s = text(1, "string")?;
            let count = a.int(2 + offset, "count")?.unwrap_or(0).max(0) as usize;
            let re = compile(pattern, flags)?;
            let replaced = re.replacen(&s, count, replacement(&repl).as_str()).into_owned();
            if method == "subn" {
                let n = re.find_iter(&s).count();
                let n = if count == 0 { n } else { n.min(count) };
                return Ok(Value::from(vec![Value::from(replaced), Value::from(n as i64)]));
            }
            Ok(Value::from(replaced))
        }
        "findall" => {
            let s = text(0, "string")?;
            let re = compile(pattern, flags)?;
            let groups = re.captures_len() - 1;
            let found: Vec<Value> = re
                .captures_iter(&s)
                .map(|c| {
                    let g = |i: usize| Value::from(c.get(i).map(|m| m.as_str()).unwrap_or(""));
                    match groups {
                        0 => g(0),
                        1 => g(1),
                        n => super::python::tuple((1..=n).map(g).collect()),
                    }
                })
                .collect();
            Ok(Value::from(found))
        }
        "split" => {
            let s = text(0, "string")?;
            let max = a.int(1 + offset, "maxsplit")?.unwrap_or(0).max(0) as usize;
            let re = compile(pattern, flags)?;
            let mut parts = Vec::new();
            let mut last = 0;
            for (n, c) in re.captures_iter(&s).enumerate() {
                if max != 0 && n >= max {
                    break;
                }
                let whole = c.get(0).expect("group 0");
                parts.push(Value::from(&s[last..whole.start()]));
                for i in 1..c.len() {
                    parts.push(c.get(i).map(|m| Value::from(m.as_str())).unwrap_or(Value::from(())));
                }
                last = whole.end();
            }
            parts.push(Value::from(&s[last..]));
            Ok(Value::from(parts))
        }
        _ => Err(fail(format!("module 're' has no attribute '{method}'"))),
    }
}

impl Object for ReModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(match key.as_str()? {
            "I" | "IGNORECASE" => IGNORECASE,
            "M" | "MULTILINE" => MULTILINE,
            "S" | "DOTALL" => DOTALL,
            "X" | "VERBOSE" => VERBOSE,
            _ => return None,
        }))
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let a = Args::new(method, args)?;
        let pattern = a.string(0, "pattern")?.ok_or_else(|| fail(format!("{method}() needs a pattern")))?;
        match method {
            "compile" => {
                let flags = a.int(1, "flags")?.unwrap_or(0);
                compile(&pattern, flags)?;
                Ok(Value::from_object(PyPattern { pattern, flags }))
            }
            "escape" => Ok(Value::from(regex_lite::escape(&pattern))),
            _ => re_call(method, &pattern, 0, &a, 1),
        }
    }
}

impl Object for PyPattern {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "pattern" => Some(Value::from(self.pattern.clone())),
            "flags" => Some(Value::from(self.flags)),
            _ => None,
        }
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        re_call(method, &self.pattern, self.flags, &Args::new(method, args)?, 0)
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "re.compile({})", super::python::repr(&Value::from(self.pattern.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_functions_match_posixpath() {
        assert_eq!(split_path("/a/b/c.txt"), ("/a/b".into(), "c.txt".into()));
        assert_eq!(split_path("/c.txt"), ("/".into(), "c.txt".into()));
        assert_eq!(split_path("c.txt"), ("".into(), "c.txt".into()));
        assert_eq!(splitext("/a/b.tar.gz"), ("/a/b.tar".into(), ".gz".into()));
        assert_eq!(splitext("/a/.bashrc"), ("/a/.bashrc".into(), "".into()));
        assert_eq!(normpath("a//b/../c/./d"), "a/c/d");
    }

    #[test]
    fn python_replacements() {
        assert_eq!(replacement(r"\2-\1 \g<name> $x"), "${2}-${1} ${name} $$x");
    }
}
