//! CSV as Python's `csv` module reads and writes it. Reading: [`CsvRecords`], the one reader
//! (over `csv-core`), for the row loaders and foreach's csv generator. Writing: [`CsvFormat`],
//! with the options lava passes: the dialect gives only the line terminator; quoting `minimal`,
//! `all`, `nonnumeric` or `none`; an embedded quote character is doubled (`doublequote`) or
//! escaped (`escapechar`), and with neither the row fails with Python's message. The writer is
//! lava's own: Python's `nonnumeric` quotes by a value's type (a number column's `1` bare, a
//! text column's `1` quoted), which no CSV crate's writer does.

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
    /// A duration (MySQL's `TIME`, a Python `timedelta`), printed as the server prints it.
    Duration,
    /// JSON, held as the server's text (printed as Python prints the decoded value).
    Json,
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

    /// A duration, as the server prints it (`10:11:12.500000`).
    pub fn duration(text: impl Into<String>) -> Self {
        Field { text: Some(text.into()), kind: Kind::Duration }
    }

    /// JSON text (valid JSON).
    pub fn json(text: impl Into<String>) -> Self {
        Field { text: Some(text.into()), kind: Kind::Json }
    }

    /// The text a CSV or HTML cell shows, as Python's `str()` of the value (`None` for NULL):
    /// the field's text, or for JSON the decoded value as Python prints it.
    pub fn shown(&self) -> Option<std::borrow::Cow<'_, str>> {
        let text = self.text.as_deref()?;
        if self.kind != Kind::Json {
            return Some(text.into());
        }
        Some(match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => crate::render::python::display(&crate::render::from_json(&v)).into(),
            Err(_) => text.into(),
        })
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
    pub fn write_row(&self, fields: &[Field], out: &mut Vec<u8>) -> Result<(), String> {
        if fields.len() == 1 && fields[0].text.as_deref().unwrap_or("").is_empty() {
            if self.quoting == Quoting::None {
                return Err("single empty field record must be quoted".into());
            }
            push_char(out, self.quotechar);
            push_char(out, self.quotechar);
            out.extend_from_slice(self.lineterminator.as_bytes());
            return Ok(());
        }
        let specials = self.ascii_specials();
        let needs_care = |text: &str| match &specials {
            Some(specials) => holds_any(text.as_bytes(), specials),
            None => text.chars().any(|c| self.special(c)),
        };
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                push_char(out, self.delimiter);
            }
            let quoted = match self.quoting {
                Quoting::All => true,
                Quoting::NonNumeric => !field.numeric(),
                _ => false,
            };
            let shown = field.shown();
            let text = shown.as_deref().unwrap_or("");
            // Most fields hold no special character and go as they are.
            let escaped;
            let (text, quoted) = if needs_care(text) {
                let (body, must_quote) = self.escaped(text, quoted)?;
                escaped = body;
                (escaped.as_str(), must_quote)
            } else {
                (text, quoted)
            };
            if quoted {
                push_char(out, self.quotechar);
                out.extend_from_slice(text.as_bytes());
                push_char(out, self.quotechar);
            } else {
                out.extend_from_slice(text.as_bytes());
            }
        }
        out.extend_from_slice(self.lineterminator.as_bytes());
        Ok(())
    }

    /// The characters that need quoting or escaping as bytes, when all of them are ASCII (a
    /// UTF-8 text's other characters are bytes of 128 and over, which no ASCII byte matches);
    /// `None` otherwise. Without an escape character the delimiter stands in its place.
    fn ascii_specials(&self) -> Option<[u8; 5]> {
        let ascii = |c: char| u8::try_from(c).ok().filter(u8::is_ascii);
        if self.lineterminator.chars().any(|c| c != '\r' && c != '\n') {
            return None;
        }
        let delimiter = ascii(self.delimiter)?;
        let escape = match self.escapechar {
            Some(c) => ascii(c)?,
            None => delimiter,
        };
        Some([delimiter, ascii(self.quotechar)?, escape, b'\r', b'\n'])
    }

    /// Whether `c` needs quoting or escaping.
    fn special(&self, c: char) -> bool {
        c == self.delimiter
            || Some(c) == self.escapechar
            || c == self.quotechar
            || c == '\r'
            || c == '\n'
            || self.lineterminator.contains(c)
    }

    /// A field that holds a special character, escaped as Python's writer does, and whether it
    /// must be quoted.
    fn escaped(&self, text: &str, mut quoted: bool) -> Result<(String, bool), String> {
        let mut body = String::with_capacity(text.len() + 2);
        for c in text.chars() {
            if self.special(c) {
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
        Ok((body, quoted))
    }
}

/// How CSV is read: the row loaders' options (`db_from_s3`), or the `excel` dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvReading {
    /// Field separator (`DELIMITER 'c'`, default `,`).
    pub delimiter: char,
    /// Quote character (`QUOTECHAR 'c'`, default `"`); none with `QUOTING 'none'`.
    pub quotechar: Option<char>,
    /// A doubled quote character inside quotes is one (Python's default, and `DOUBLEQUOTE`).
    pub doublequote: bool,
    /// Skip the first line (`HEADER`).
    pub header: bool,
}

impl CsvReading {
    /// Python's `excel` dialect: `,` separated, `"` quoted, `""` a quote, no header skipped.
    pub fn excel() -> CsvReading {
        CsvReading { delimiter: ',', quotechar: Some('"'), doublequote: true, header: false }
    }
}

/// Reads CSV records from bytes arriving in pieces, through `csv-core`, as Python's
/// `csv.reader` reads them: a record may span pieces and, quoted, lines; `\n`, `\r\n` or `\r`
/// ends a record; text ending inside quotes ends its field there. Unlike Python it yields no
/// record for a blank line (every reader here skipped them). Each field must be UTF-8.
#[derive(Debug)]
pub struct CsvRecords {
    reader: csv_core::Reader,
    field: Vec<u8>,
    record: Vec<String>,
}

impl CsvRecords {
    /// A reader with `format`; its delimiter and quote character must be ASCII (csv-core reads
    /// bytes).
    pub fn new(format: &CsvReading) -> Result<CsvRecords, String> {
        let ascii = |c: char, option: &str| {
            u8::try_from(c)
                .ok()
                .filter(u8::is_ascii)
                .ok_or_else(|| format!("Bad {option} value: {c:?} (this lava reads CSV with ASCII separators)"))
        };
        let mut builder = csv_core::ReaderBuilder::new();
        builder.delimiter(ascii(format.delimiter, "DELIMITER")?).double_quote(format.doublequote);
        match format.quotechar {
            Some(quote) => builder.quote(ascii(quote, "QUOTECHAR")?),
            None => builder.quoting(false),
        };
        Ok(CsvRecords { reader: builder.build(), field: Vec::new(), record: Vec::new() })
    }

    /// Reads `bytes`; returns the records they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
        self.read(bytes, false)
    }

    /// Ends the data; returns the last record when the data did not end with a line break.
    pub fn finish(&mut self) -> Result<Vec<Vec<String>>, String> {
        self.read(&[], true)
    }

    /// Reads `input`; `end` is the end of the data, which csv-core is told by empty input (so
    /// it is never given empty input before).
    fn read(&mut self, mut input: &[u8], end: bool) -> Result<Vec<Vec<String>>, String> {
        let mut records = Vec::new();
        let mut out = [0u8; 8192];
        loop {
            if input.is_empty() && !end {
                return Ok(records);
            }
            let (result, read, written) = self.reader.read_field(input, &mut out);
            input = &input[read..];
            self.field.extend_from_slice(&out[..written]);
            match result {
                csv_core::ReadFieldResult::InputEmpty | csv_core::ReadFieldResult::End => return Ok(records),
                csv_core::ReadFieldResult::OutputFull => {}
                csv_core::ReadFieldResult::Field { record_end } => {
                    let field = String::from_utf8(std::mem::take(&mut self.field))
                        .map_err(|e| format!("not UTF-8 text ({})", e.utf8_error()))?;
                    self.record.push(field);
                    if record_end {
                        records.push(std::mem::take(&mut self.record));
                    }
                }
            }
        }
    }
}

/// Appends a character's UTF-8 bytes.
fn push_char(out: &mut Vec<u8>, c: char) {
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

/// Whether `text` holds any of `bytes`: a block at a time, each block's bytes compared without
/// an early exit, which the compiler turns into vector instructions (most of a large export's
/// time went to looking at its fields a character at a time).
fn holds_any(text: &[u8], bytes: &[u8; 5]) -> bool {
    text.chunks(64).any(|block| block.iter().fold(false, |hit, b| hit | bytes.iter().fold(false, |h, s| h | (b == s))))
}

/// Reads CSV text as Python's `csv.reader` does with the `excel` dialect (blank lines left out).
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut reader = CsvRecords::new(&CsvReading::excel())?;
    let mut rows = reader.push(text.as_bytes())?;
    rows.extend(reader.finish()?);
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_as_python_csv_reader() {
        let rows = parse("a,b,c\r\n1,\"x, \"\"y\"\"\",\n\n\"multi\nline\",2,3\n\"b\"c,last").unwrap();
        assert_eq!(
            rows,
            vec![vec!["a", "b", "c"], vec!["1", "x, \"y\"", ""], vec!["multi\nline", "2", "3"], vec!["bc", "last"]]
        );
        // Text ending inside quotes ends the field, as Python's reader does.
        assert_eq!(parse("a,b\n\"x,y\n").unwrap(), vec![vec!["a", "b"], vec!["x,y\n"]]);
    }

    fn row(format: &CsvFormat, fields: &[Field]) -> Result<String, String> {
        let mut out = Vec::new();
        format.write_row(fields, &mut out).map(|_| String::from_utf8(out).unwrap())
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
        // A special character past the first block of a long field.
        let long = format!("{}|", "x".repeat(130));
        assert_eq!(row(&d, &[Field::text(long.as_str())]).unwrap(), format!("\"{long}\"\r\n"));
        // Text beyond ASCII beside ASCII specials, and a delimiter beyond ASCII.
        assert_eq!(row(&d, &[Field::text("é|ü"), Field::text("€")]).unwrap(), "\"é|ü\"|€\r\n");
        let euro = CsvFormat { delimiter: '€', ..d.clone() };
        assert_eq!(row(&euro, &[Field::text("a€b"), Field::text("é|ü")]).unwrap(), "\"a€b\"€é|ü\r\n");
        assert_eq!(Quoting::parse("ALL").unwrap(), Quoting::All);
        assert_eq!(Quoting::parse("some").unwrap_err(), "Bad quoting style: some");
    }
}
