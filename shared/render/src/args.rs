//! Python-style call arguments for template functions: positional values then keywords.

use minijinja::value::{Kwargs, Value};
use minijinja::{Error, ErrorKind};

/// An `InvalidOperation` error with `message`.
pub fn fail(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// The arguments of one call, read by position or by keyword name.
pub struct Args {
    what: String,
    positional: Vec<Value>,
    keywords: Vec<(String, Value)>,
}

impl Args {
    /// Splits `args` (keywords, if any, come last) for the function called `what`.
    pub fn new(what: &str, args: &[Value]) -> Result<Args, Error> {
        let mut positional = args.to_vec();
        let mut keywords = Vec::new();
        if positional.last().is_some_and(Value::is_kwargs) {
            let kwargs = Kwargs::try_from(positional.pop().expect("checked"))?;
            for name in kwargs.args() {
                keywords.push((name.to_string(), kwargs.peek::<Value>(name)?));
            }
        }
        Ok(Args { what: what.to_string(), positional, keywords })
    }

    /// Fails unless every argument is one of `names` (in positional order).
    pub fn allow(&self, names: &[&str]) -> Result<(), Error> {
        if self.positional.len() > names.len() {
            return Err(fail(format!(
                "{}() takes at most {} positional arguments ({} given)",
                self.what,
                names.len(),
                self.positional.len()
            )));
        }
        for (name, _) in &self.keywords {
            if !names.contains(&name.as_str()) {
                return Err(fail(format!("{}() got an unexpected keyword argument '{name}'", self.what)));
            }
        }
        Ok(())
    }

    /// The argument at `index` or named `name`.
    pub fn get(&self, index: usize, name: &str) -> Option<&Value> {
        self.keywords
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .or_else(|| self.positional.get(index))
            .filter(|v| !v.is_undefined())
    }

    /// The positional arguments.
    pub fn positional(&self) -> &[Value] {
        &self.positional
    }

    /// The keyword arguments.
    pub fn keywords(&self) -> &[(String, Value)] {
        &self.keywords
    }

    /// A required argument.
    pub fn required(&self, index: usize, name: &str) -> Result<&Value, Error> {
        self.get(index, name).ok_or_else(|| fail(format!("{}() missing required argument '{name}'", self.what)))
    }

    /// A string argument.
    pub fn string(&self, index: usize, name: &str) -> Result<Option<String>, Error> {
        match self.get(index, name) {
            None => Ok(None),
            Some(v) if v.is_none() => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| fail(format!("{}(): {name} must be a string", self.what))),
        }
    }

    /// An integer argument (an integral float is accepted).
    pub fn int(&self, index: usize, name: &str) -> Result<Option<i64>, Error> {
        match self.get(index, name) {
            None => Ok(None),
            Some(v) if v.is_none() => Ok(None),
            Some(v) => as_int(v).map(Some).ok_or_else(|| fail(format!("{}(): {name} must be an integer", self.what))),
        }
    }

    /// A number argument.
    pub fn float(&self, index: usize, name: &str) -> Result<Option<f64>, Error> {
        match self.get(index, name) {
            None => Ok(None),
            Some(v) if v.is_none() => Ok(None),
            Some(v) => as_float(v).map(Some).ok_or_else(|| fail(format!("{}(): {name} must be a number", self.what))),
        }
    }
}

/// An integer value (an integral float counts).
pub fn as_int(v: &Value) -> Option<i64> {
    if v.is_integer() {
        return v.as_i64();
    }
    let f = f64::try_from(v.clone()).ok()?;
    (f.fract() == 0.0 && v.is_number()).then_some(f as i64)
}

/// A number value as a float.
pub fn as_float(v: &Value) -> Option<f64> {
    if !v.is_number() {
        return None;
    }
    f64::try_from(v.clone()).ok()
}
