//! Python behaviour for template values: how values print (`True`, `None`, `{'a': 1}`, `600.0`),
//! the string, dict and list methods templates call, `%` formatting, and the arithmetic
//! operators (which hand date/time operands to `time::arithmetic`).

mod format;
mod json;
mod methods;
mod operators;
mod print;

use minijinja::Error;
use minijinja::value::Value;

pub use json::{json_dumps, json_dumps_with, json_str, tojson};
pub use methods::call_method;
pub use operators::operator;
pub use print::{PyTuple, display, float_text, quote, repr, tuple};

fn items(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}
