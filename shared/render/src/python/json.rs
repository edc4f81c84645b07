//! JSON as Python writes it: Jinja2's `tojson` filter and `json.dumps`.

use minijinja::Error;
use minijinja::value::Value;
use serde_json::Value as J;

use super::float_text;
use crate::args::{Args, fail};

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

/// Python's `json.dumps(value, indent=..., sort_keys=...)` with its other defaults.
pub fn json_dumps_with(value: &serde_json::Value, indent: Option<usize>, sort_keys: bool) -> String {
    let mut out = String::new();
    write_json(value, &JsonStyle { indent, sort_keys, html_safe: false }, 0, &mut out);
    out
}

/// A string as Python's `json.dumps` writes it (ASCII only), appended to `out`.
pub fn json_str(s: &str, out: &mut String) {
    json_string(s, false, out);
}

struct JsonStyle {
    indent: Option<usize>,
    sort_keys: bool,
    html_safe: bool,
}

fn write_json(v: &serde_json::Value, style: &JsonStyle, level: usize, out: &mut String) {
    let indent = style.indent;
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
