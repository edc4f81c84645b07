//! Jinja rendering of job and action templates with minijinja, behaving the way the original's
//! Python rendering does: `True`/`False`/`None`, Python reprs, datetime/timedelta objects with
//! their methods and arithmetic, Python string methods, and the `utils` functions. Above
//! `lava-model` only.
#![warn(missing_docs)]

pub mod args;
pub mod python;
pub mod time;
pub mod utils;

use lava_model::model;

use minijinja::machinery::{self, CodeGenerator, Instruction, Instructions};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value as JinjaValue;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;

/// The names the arithmetic operators are compiled to (see [`Renderer::compile`]).
const OPERATORS: [(&str, char); 6] = [
    ("__lava_add", '+'),
    ("__lava_sub", '-'),
    ("__lava_mul", '*'),
    ("__lava_div", '/'),
    ("__lava_rem", '%'),
    ("__lava_neg", 'n'),
];

/// The template engine, configured once: Python printing, Python string/dict methods,
/// Python arithmetic (datetimes and timedeltas included) and the `utils` variable.
pub struct Renderer {
    env: Environment<'static>,
    syntax: SyntaxConfig,
    /// The character every tag of `syntax` starts with: a text without it renders as itself.
    marker: char,
}

impl Default for Renderer {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_formatter(|out, _state, value| {
            if !value.is_undefined() {
                out.write_str(&python::display(value))?;
            }
            Ok(())
        });
        env.set_unknown_method_callback(python::call_method);
        for (name, op) in OPERATORS {
            if op == 'n' {
                env.add_function(name, move |a: JinjaValue| python::operator(op, &a, &JinjaValue::UNDEFINED));
            } else {
                env.add_function(name, move |a: JinjaValue, b: JinjaValue| python::operator(op, &a, &b));
            }
        }
        env.add_filter("tojson", python::tojson);
        env.add_global("utils", utils::utils());
        Renderer { env, syntax: SyntaxConfig::default(), marker: '{' }
    }
}

/// Replaces the arithmetic instructions with calls to the Python-semantics functions.
/// minijinja's own operators work on numbers, strings and lists only, and templates written
/// for the original subtract timedeltas from datetimes (`ustart - utils.timedelta(days=1)`).
/// Each operator pops its operands and pushes one result, exactly like a call with that many
/// arguments, so the swap keeps the stack discipline.
fn use_python_operators(instructions: &mut Instructions<'_>) {
    let mut index = 0;
    while let Some(instruction) = instructions.get_mut(index) {
        let replacement = match instruction {
            Instruction::Add => Some((OPERATORS[0].0, 2)),
            Instruction::Sub => Some((OPERATORS[1].0, 2)),
            Instruction::Mul => Some((OPERATORS[2].0, 2)),
            Instruction::Div => Some((OPERATORS[3].0, 2)),
            Instruction::Rem => Some((OPERATORS[4].0, 2)),
            Instruction::Neg => Some((OPERATORS[5].0, 1)),
            _ => None,
        };
        if let Some((name, count)) = replacement {
            *instruction = Instruction::CallFunction(name, Some(count));
        }
        index += 1;
    }
}

fn error_text(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

impl Renderer {
    /// The renderer of the original's job framework, whose build-time tags are `<{ … }>`,
    /// `<% … %>` and `<# … #>` so that lava's own `{{ … }}` pass through to run time.
    pub fn framework() -> Renderer {
        let syntax = SyntaxConfig::builder()
            .block_delimiters("<%", "%>")
            .variable_delimiters("<{", "}>")
            .comment_delimiters("<#", "#>")
            .build()
            .expect("the framework's delimiters are distinct");
        let mut renderer = Renderer::default();
        renderer.env.set_syntax(syntax.clone());
        renderer.syntax = syntax;
        renderer.marker = '<';
        renderer
    }

    /// Renders `template` with `context`; the error names what failed to render.
    pub fn render(&self, template: &str, context: &JinjaValue) -> Result<String, String> {
        self.render_with(&self.env, template, context)
    }

    /// Renders a payload file's text with `{% include "name" %}` reading the files in `dir`
    /// (names relative to it; a name leaving it, absolute or with `..`, is not found), as the
    /// original's template environment rooted at the file's directory.
    pub fn render_in_dir(&self, template: &str, context: &JinjaValue, dir: &std::path::Path) -> Result<String, String> {
        let mut env = self.env.clone();
        let dir = dir.to_path_buf();
        env.set_loader(move |name| {
            let relative = std::path::Path::new(name);
            if relative.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                return Ok(None);
            }
            match std::fs::read_to_string(dir.join(relative)) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => {
                    Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("cannot read {name}"))
                        .with_source(e))
                }
            }
        });
        self.render_with(&env, template, context)
    }

    fn render_with(&self, env: &Environment<'static>, template: &str, context: &JinjaValue) -> Result<String, String> {
        if !template.contains(self.marker) {
            return Ok(template.strip_suffix('\n').unwrap_or(template).to_string());
        }
        let ast = machinery::parse(template, "template", self.syntax.clone()).map_err(|e| error_text(&e))?;
        let mut generator = CodeGenerator::new("template", template);
        generator.compile_stmt(&ast);
        let (mut instructions, mut blocks) = generator.finish();
        use_python_operators(&mut instructions);
        blocks.values_mut().for_each(use_python_operators);
        let mut text = String::new();
        let mut out = machinery::make_string_output(&mut text);
        machinery::eval(env, &instructions, context.clone(), &blocks, &mut out, AutoEscape::None)
            .map_err(|e| error_text(&e))?;
        Ok(text)
    }

    /// Renders every string (keys included) inside a structured value, each as its own
    /// template: the spec's recommended form of the original's JSON round trip.
    pub fn render_value(&self, value: &Value, context: &JinjaValue) -> Result<Value, String> {
        Ok(match value {
            Value::String(s) => Value::String(self.render(s, context)?),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.render_value(v, context)).collect::<Result<_, _>>()?)
            }
            Value::Object(map) => {
                let mut rendered = serde_json::Map::new();
                for (k, v) in map {
                    rendered.insert(self.render(k, context)?, self.render_value(v, context)?);
                }
                Value::Object(rendered)
            }
            other => other.clone(),
        })
    }
}

/// A JSON value for templates.
pub fn from_json(value: &Value) -> JinjaValue {
    JinjaValue::from(minijinja::value::Serde(value))
}

/// The keys whose ISO timestamp strings are lava's own datetimes (`start`, `ustart`,
/// `job.ts_*`, `globals.lava.*_start`), turned back into datetime objects for templates.
const DATETIME_KEYS: [&str; 9] = [
    "start",
    "ustart",
    "ts_dispatch",
    "ts_start",
    "ts_ustart",
    "master_start",
    "master_ustart",
    "parent_start",
    "parent_ustart",
];

/// Template values for JSON render variables (as they travel between worker and actions
/// function): maps keep their order and lava's timestamps become datetimes again.
pub fn context_from_json(context: &serde_json::Map<String, Value>) -> JinjaValue {
    fn map(m: &serde_json::Map<String, Value>) -> JinjaValue {
        let mut out = indexmap::IndexMap::with_capacity(m.len());
        for (k, v) in m {
            let value = match v {
                Value::String(s) if DATETIME_KEYS.contains(&k.as_str()) => {
                    time::datetime_from_text(s).unwrap_or_else(|| JinjaValue::from(s.as_str()))
                }
                Value::Object(inner) => map(inner),
                other => from_json(other),
            };
            out.insert(JinjaValue::from(k.as_str()), value);
        }
        JinjaValue::from(out)
    }
    map(context)
}

/// A datetime for templates.
pub fn datetime(at: &jiff::Zoned) -> JinjaValue {
    JinjaValue::from_object(time::PyDateTime::from_zoned(at))
}

#[cfg(test)]
mod cases {
    use super::*;

    /// The table in `cases.json` was rendered by Python Jinja2 with the original's render
    /// variables (`tests/oracle/render_cases.py`); minijinja must print the same text.
    #[test]
    fn renders_like_the_original() {
        let table: Value = serde_json::from_str(include_str!("cases.json")).expect("cases.json is JSON");
        let context = context_from_json(table["context"].as_object().expect("a context map"));
        let renderer = Renderer::default();
        let cases = table["cases"].as_array().expect("a case list");
        assert!(cases.len() >= 40, "the table has {} cases", cases.len());
        let mut failures = Vec::new();
        for case in cases {
            let template = case["template"].as_str().expect("a template");
            let expected = case["expected"].as_str().expect("an expected text");
            match renderer.render(template, &context) {
                Ok(text) if text == expected => {}
                Ok(text) => failures.push(format!("{template:?}\n    expected {expected:?}\n    rendered {text:?}")),
                Err(e) => failures.push(format!("{template:?}\n    expected {expected:?}\n    failed: {e}")),
            }
        }
        assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;
    use serde_json::json;

    #[test]
    fn includes_read_files_beside_the_template_and_nowhere_else() {
        let dir = std::env::temp_dir().join(format!("lava-include-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("part.sql"), "select {{ vars.n }};").unwrap();
        let r = Renderer::default();
        let ctx = context! { vars => context! { n => 7 } };
        assert_eq!(r.render_in_dir("-- main\n{% include 'part.sql' %}\n", &ctx, &dir).unwrap(), "-- main\nselect 7;");
        for escape in ["../part.sql", "/etc/hostname", "missing.sql"] {
            let error = r.render_in_dir(&format!("{{% include '{escape}' %}}"), &ctx, &dir).unwrap_err();
            assert!(error.contains("not found"), "{escape}: {error}");
        }
        assert!(r.render("{% include 'part.sql' %}", &ctx).is_err(), "plain rendering includes nothing");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn python_printing() {
        let r = Renderer::default();
        let start = jiff::Timestamp::from_second(1_741_032_902).unwrap().in_tz("Australia/Sydney").unwrap();
        let ctx = context! {
            job => from_json(&json!({"job_id": "a/b", "enabled": true, "x": null})),
            start => datetime(&start),
        };
        let cases = [
            ("{{ job.job_id }}", "a/b"),
            ("{{ job.enabled }}", "True"),
            ("{{ job.x }}", "None"),
            ("{{ job.missing }}", ""),
            ("{{ start.isoformat() }}", "2025-03-04T07:15:02+11:00"),
            ("{{ start.strftime('%Y-%m-%d') }}", "2025-03-04"),
            ("{{ start }}", "2025-03-04 07:15:02+11:00"),
            ("{{ start.year }}", "2025"),
            ("{{ 1 == 1 }}", "True"),
        ];
        for (template, expected) in cases {
            assert_eq!(r.render(template, &ctx).unwrap(), expected, "{template}");
        }
        assert!(r.render("{{ job.job_id", &ctx).is_err());
    }

    #[test]
    fn structured_values_round_trip() {
        let r = Renderer::default();
        let v = r.render_value(&json!({"source": "s3://{{ b }}/k", "n": 3}), &context! { b => "bkt" }).unwrap();
        assert_eq!(v, json!({"source": "s3://bkt/k", "n": 3}));
    }
}

#[cfg(test)]
mod framework {
    use super::*;

    #[test]
    fn the_framework_s_tags_render_and_lava_s_own_pass_through() {
        let context = context_from_json(
            serde_json::json!({"prefix": {"job": "app/p"}, "env": "prod"}).as_object().expect("a map"),
        );
        let text = "job_id: <{ prefix.job }>/a <# note #>\n<% if env == 'prod' %>x: '{{ globals.day }}'<% endif %>\n";
        let rendered = Renderer::framework().render(text, &context).expect("renders");
        assert_eq!(rendered, "job_id: app/p/a \nx: '{{ globals.day }}'");
        // A text without `<` is itself, as any other text.
        assert_eq!(Renderer::framework().render("a: {{ b }}\n", &context).expect("renders"), "a: {{ b }}");
    }
}
