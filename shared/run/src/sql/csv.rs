//! CSV output as Python's `csv.writer` writes it with the options lava passes: the
//! dialect gives only the line terminator; quoting `minimal`, `all`, `nonnumeric` or `none`;
//! an embedded quote character is doubled (`doublequote`) or escaped (`escapechar`), and with
//! neither the row fails with Python's message.

/// How fields are quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// Only fields that need it.
    Minimal,
    /// Every field.
    All,
    /// Every field that is not a number.
    NonNumeric,
    /// Never; special characters are escaped.
    None,
}

impl Quoting {
    /// Parses a quoting name (case-insensitive).
    pub fn parse(name: &str) -> Result<Quoting, String> {
        match name.to_ascii_lowercase().as_str() {
            "minimal" => Ok(Quoting::Minimal),
            "all" => Ok(Quoting::All),
            "nonnumeric" => Ok(Quoting::NonNumeric),
            "none" => Ok(Quoting::None),
            _ => Err(format!("Bad quoting style: {name}")),
        }
    }
}

/// The writer's options.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvFormat {
    /// Field separator.
    pub delimiter: char,
    /// Quote character.
    pub quotechar: char,
    /// Escape character.
    pub escapechar: Option<char>,
    /// Double an embedded quote character.
    pub doublequote: bool,
    /// Quoting style.
    pub quoting: Quoting,
    /// `\r\n` (excel, excel-tab) or `\n` (unix).
    pub lineterminator: &'static str,
}

impl Default for CsvFormat {
    /// lava's defaults: `|`, `"`, no escape character, no doubling, minimal, excel.
    fn default() -> Self {
        CsvFormat {
            delimiter: '|',
            quotechar: '"',
            escapechar: None,
            doublequote: false,
            quoting: Quoting::Minimal,
            lineterminator: "\r\n",
        }
    }
}

/// The line terminator of a dialect name.
pub fn dialect_terminator(dialect: &str) -> Result<&'static str, String> {
    match dialect {
        "excel" | "excel-tab" => Ok("\r\n"),
        "unix" => Ok("\n"),
        other => Err(format!("Bad dialect: {other}: expected excel, excel-tab or unix")),
    }
}

/// What kind of value a field holds, as the original's Python drivers typed it (it decides
/// `nonnumeric` quoting, the JSON form and the Parquet column type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text (and anything printed as text).
    Text,
    /// An integer or float.
    Number,
    /// An exact decimal (Python's `Decimal`: SQL `NUMERIC`, `DECIMAL`).
    Decimal,
    /// A boolean (`True`/`False`; a number to Python).
    Bool,
    /// A timestamp (Python's `str()`: a space between date and time, an offset when it has a
    /// time zone).
    Timestamp,
    /// A date.
    Date,
    /// A time of day.
    Time,
}

/// One field: its text as Python's `str()` gives it (`None` for NULL) and its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The text; `None` is SQL NULL.
    pub text: Option<String>,
    /// The kind of value.
    pub kind: Kind,
}

impl Field {
    /// A text field.
    pub fn text(text: impl Into<String>) -> Self {
        Field { text: Some(text.into()), kind: Kind::Text }
    }

    /// A numeric field.
    pub fn number(text: impl Into<String>) -> Self {
        Field { text: Some(text.into()), kind: Kind::Number }
    }

    /// A boolean.
    pub fn boolean(value: bool) -> Self {
        Field { text: Some(if value { "True" } else { "False" }.into()), kind: Kind::Bool }
    }

    /// An exact decimal.
    pub fn decimal(text: impl Into<String>) -> Self {
        Field { text: Some(text.into()), kind: Kind::Decimal }
    }

    /// A timestamp, as Python prints it.
    pub fn timestamp(text: impl Into<String>) -> Self {
        Field { text: Some(text.into()), kind: Kind::Timestamp }
    }

    /// A date (`2026-01-02`).
    pub fn date(text: impl Into<String>) -> Self {
        Field { text: Some(text.into()), kind: Kind::Date }
    }

    /// A time of day, as Python prints it.
    pub fn time(text: impl Into<String>) -> Self {
        Field { text: Some(text.into()), kind: Kind::Time }
    }

    /// NULL.
    pub fn null() -> Self {
        Field { text: None, kind: Kind::Text }
    }

    /// Whether Python's csv module treats it as a number.
    pub fn numeric(&self) -> bool {
        self.text.is_some() && matches!(self.kind, Kind::Number | Kind::Decimal | Kind::Bool)
    }
}

impl CsvFormat {
    /// Appends one row to `out`.
    pub fn write_row(&self, fields: &[Field], out: &mut String) -> Result<(), String> {
        if fields.len() == 1 && fields[0].text.as_deref().unwrap_or("").is_empty() {
            if self.quoting == Quoting::None {
                return Err("single empty field record must be quoted".into());
            }
            out.push(self.quotechar);
            out.push(self.quotechar);
            out.push_str(self.lineterminator);
            return Ok(());
        }
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            let mut quoted = match self.quoting {
                Quoting::All => true,
                Quoting::NonNumeric => !field.numeric(),
                _ => false,
            };
            let mut body = String::new();
            for c in field.text.as_deref().unwrap_or("").chars() {
                let special = c == self.delimiter
                    || Some(c) == self.escapechar
                    || c == self.quotechar
                    || c == '\r'
                    || c == '\n'
                    || self.lineterminator.contains(c);
                if special {
                    let mut escape = false;
                    if self.quoting == Quoting::None {
                        escape = true;
                    } else {
                        if c == self.quotechar {
                            if self.doublequote {
                                body.push(self.quotechar);
                            } else {
                                escape = true;
                            }
                        } else if Some(c) == self.escapechar {
                            escape = true;
                        }
                        if !escape {
                            quoted = true;
                        }
                    }
                    if escape {
                        let e = self.escapechar.ok_or("need to escape, but no escapechar set")?;
                        body.push(e);
                    }
                }
                body.push(c);
            }
            if quoted {
                out.push(self.quotechar);
                out.push_str(&body);
                out.push(self.quotechar);
            } else {
                out.push_str(&body);
            }
        }
        out.push_str(self.lineterminator);
        Ok(())
    }
}

/// Reads CSV text as Python's `csv.reader` does with the `excel` dialect: `,` separated,
/// `"` quoted with `""` for a quote, newlines inside quotes kept, `\n` or `\r\n` ending a row; a
/// blank line is an empty row.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut in_quotes, mut started) = (false, false, false);
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted => {
                (quoted, in_quotes, started) = (true, true, true);
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                (quoted, started) = (false, true);
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if started || !field.is_empty() {
                    row.push(std::mem::take(&mut field));
                }
                rows.push(std::mem::take(&mut row));
                (quoted, started) = (false, false);
                line += 1;
            }
            _ => {
                field.push(c);
                started = true;
            }
        }
    }
    if in_quotes {
        return Err(format!("line {line}: unexpected end of data inside a quoted field"));
    }
    if started || !field.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_as_python_csv_reader() {
        let rows = parse("a,b,c\r\n1,\"x, \"\"y\"\"\",\n\n\"multi\nline\",2,3\nlast").unwrap();
        assert_eq!(
            rows,
            vec![vec!["a", "b", "c"], vec!["1", "x, \"y\"", ""], vec![], vec!["multi\nline", "2", "3"], vec!["last"],]
        );
        assert!(parse("a,\"open").unwrap_err().contains("inside a quoted field"));
    }

    fn row(format: &CsvFormat, fields: &[Field]) -> Result<String, String> {
        let mut out = String::new();
        format.write_row(fields, &mut out).map(|_| out)
    }

    #[test]
    fn rows_are_written_as_python_csv_writes_them() {
        let d = CsvFormat::default();
        let f = |q: Quoting| CsvFormat { quoting: q, ..CsvFormat::default() };
        let mixed = [Field::number("1"), Field::text("a b"), Field::null(), Field::number("1.50"), Field::text("x|y")];
        assert_eq!(row(&d, &mixed).unwrap(), "1|a b||1.50|\"x|y\"\r\n");
        assert_eq!(row(&f(Quoting::All), &mixed).unwrap(), "\"1\"|\"a b\"|\"\"|\"1.50\"|\"x|y\"\r\n");
        assert_eq!(row(&f(Quoting::NonNumeric), &mixed).unwrap(), "1|\"a b\"|\"\"|1.50|\"x|y\"\r\n");
        assert_eq!(row(&d, &[Field::text("")]).unwrap(), "\"\"\r\n");
        assert_eq!(row(&d, &[Field::text("line\nbreak"), Field::text("")]).unwrap(), "\"line\nbreak\"|\r\n");
        assert_eq!(row(&d, &[Field::text("say \"hi\"")]).unwrap_err(), "need to escape, but no escapechar set");
        assert_eq!(
            row(&CsvFormat { doublequote: true, ..d.clone() }, &[Field::text("say \"hi\"")]).unwrap(),
            "\"say \"\"hi\"\"\"\r\n"
        );
        assert_eq!(
            row(&CsvFormat { escapechar: Some('\\'), ..d.clone() }, &[Field::text("say \"hi\"")]).unwrap(),
            "say \\\"hi\\\"\r\n"
        );
        let none = CsvFormat { quoting: Quoting::None, escapechar: Some('\\'), lineterminator: "\n", ..d.clone() };
        assert_eq!(row(&none, &[Field::text("a|b"), Field::text("c\nd")]).unwrap(), "a\\|b|c\\\nd\n");
        assert_eq!(
            row(&CsvFormat { quoting: Quoting::None, ..d.clone() }, &[Field::text("a|b")]).unwrap_err(),
            "need to escape, but no escapechar set"
        );
        assert_eq!(Quoting::parse("ALL").unwrap(), Quoting::All);
        assert_eq!(Quoting::parse("some").unwrap_err(), "Bad quoting style: some");
    }
}
