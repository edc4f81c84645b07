//! What `db_from_s3` decides before it touches a database (pure): the mode, the loader a
//! connection type gets, the loader options (`args`), the target names (regex derivation from
//! the object key, quoting), the statements, and how the loaders that insert rows read CSV
//! (`CsvReading` from the options; the reader is `sql::csv`'s). The wording of every error and
//! step message is the original's: operators read them in the events table.

use std::collections::BTreeSet;

use crate::model::ConnectionType;

pub use crate::model::params::LoadMode as Mode;

/// How data gets from S3 into a database, by connection type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// PostgreSQL: a client-side `COPY … FROM STDIN` fed from S3.
    Postgres,
    /// SQLite: the CSV read from S3 as it arrives and inserted in multi-row batches.
    Sqlite,
    /// Redshift (provisioned or serverless): a server-side `COPY … FROM 's3://…'`.
    Redshift,
    /// RDS and Aurora PostgreSQL: the server imports each object (`aws_s3.table_import_from_s3`).
    AuroraPostgres,
    /// MySQL and MariaDB: the CSV read from S3 and inserted in multi-row batches.
    MySql,
    /// Aurora MySQL: the server reads S3 itself (`LOAD DATA FROM S3`).
    AuroraMySql,
}

impl Loader {
    /// The loader of a connection type (`db_from_s3 does not support <type> databases`).
    pub fn of(kind: &ConnectionType) -> Result<Loader, String> {
        use ConnectionType::*;
        match kind {
            Postgres | Psql | Postgresql => Ok(Loader::Postgres),
            Sqlite3 => Ok(Loader::Sqlite),
            Redshift | RedshiftServerless => Ok(Loader::Redshift),
            PostgresAurora | PostgresRds => Ok(Loader::AuroraPostgres),
            Mysql | Mariadb | MysqlRds | MariadbRds => Ok(Loader::MySql),
            MysqlAurora => Ok(Loader::AuroraMySql),
            Aws | Docker | Email | Generic | Git | Mssql | Oracle | OracleRds | Ses | Sharepoint | Slack | Smb
            | Ssh | Scp | Sftp | Unknown(_) => Err(format!("db_from_s3 does not support {kind} databases")),
        }
    }

    /// The characters that quote a name (MySQL's backticks, the others' double quotes).
    pub fn quotes(self) -> char {
        if matches!(self, Loader::MySql | Loader::AuroraMySql) { '`' } else { '"' }
    }

    /// The option words (`args`, first word of each) the loader accepts.
    pub fn options(self) -> &'static [&'static str] {
        match self {
            Loader::Postgres | Loader::AuroraPostgres => &[
                "FORMAT",
                "HEADER",
                "OIDS",
                "FREEZE",
                "DELIMITER",
                "NULL",
                "QUOTE",
                "ESCAPE",
                "FORCE_NOT_NULL",
                "FORCE_NULL",
                "ENCODING",
                "MANIFEST",
                "GZIP",
            ],
            Loader::Sqlite | Loader::MySql => {
                &["DELIMITER", "DOUBLEQUOTE", "ESCAPECHAR", "GZIP", "HEADER", "MANIFEST", "QUOTECHAR", "QUOTING"]
            }
            Loader::AuroraMySql => &[
                "REPLACE",
                "IGNORE",
                "PARTITION",
                "FILE",
                "PREFIX",
                "MANIFEST",
                "DELIMITER",
                "ENCODING",
                "QUOTE",
                "ESCAPE",
                "HEADER",
                "TERMINATOR",
            ],
            Loader::Redshift => &[
                "ACCEPTANYDATE",
                "ACCEPTINVCHARS",
                "AVRO",
                "BLANKSASNULL",
                "BZIP2",
                "COMPROWS",
                "COMPUPDATE",
                "CSV",
                "DATEFORMAT",
                "DELIMITER",
                "EMPTYASNULL",
                "ENCODING",
                "ENCRYPTED",
                "ESCAPE",
                "EXPLICIT_IDS",
                "FILLRECORD",
                "FIXEDWIDTH",
                "FORMAT",
                "GZIP",
                "IGNOREBLANKLINES",
                "IGNOREHEADER",
                "JSON",
                "LZOP",
                "MANIFEST",
                "MAXERROR",
                "NOLOAD",
                "NULL",
                "READRATIO",
                "REGION",
                "REMOVEQUOTES",
                "ROUNDEC",
                "SHAPEFILE",
                "STATUPDATE",
                "TIMEFORMAT",
                "TRIMBLANKS",
                "TRUNCATECOLUMNS",
                "ZSTD",
            ],
        }
    }
}

/// The loader options, by their upper-cased first word, in the order given (a repeated word
/// keeps its first place and takes the later text, as the original's dict does).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadArgs(Vec<(String, String)>);

impl LoadArgs {
    /// Reads `args` for `loader` (`Invalid COPY arguments: A, B` for words it does not accept).
    pub fn parse(loader: Loader, args: &[String]) -> Result<LoadArgs, String> {
        let mut entries: Vec<(String, String)> = Vec::new();
        let mut bad = BTreeSet::new();
        for arg in args {
            let word = arg.split_whitespace().next().unwrap_or("").to_uppercase();
            if !loader.options().contains(&word.as_str()) {
                bad.insert(if word.is_empty() { format!("{arg:?}") } else { word.clone() });
                continue;
            }
            match entries.iter_mut().find(|(w, _)| *w == word) {
                Some(entry) => entry.1 = arg.clone(),
                None => entries.push((word, arg.clone())),
            }
        }
        if !bad.is_empty() {
            return Err(format!("Invalid COPY arguments: {}", bad.into_iter().collect::<Vec<_>>().join(", ")));
        }
        Ok(LoadArgs(entries))
    }

    /// Whether the word was given.
    pub fn has(&self, word: &str) -> bool {
        self.0.iter().any(|(w, _)| w == word)
    }

    /// The text given for the word.
    pub fn get(&self, word: &str) -> Option<&str> {
        self.0.iter().find(|(w, _)| w == word).map(|(_, text)| text.as_str())
    }

    /// Removes the word (a lava option the database must not see); whether it was there.
    pub fn take(&mut self, word: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|(w, _)| w != word);
        self.0.len() != before
    }

    /// Replaces the text of a word that is there.
    pub fn set(&mut self, word: &str, text: String) {
        if let Some(entry) = self.0.iter_mut().find(|(w, _)| w == word) {
            entry.1 = text;
        }
    }

    /// The texts, in order.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(_, text)| text.as_str())
    }

    /// Whether no option is left.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The object key without the extensions of its last part (`a/b/c.csv.gz` is `a/b/c`).
pub fn key_stem(key: &str) -> &str {
    let start = key.rfind('/').map_or(0, |i| i + 1);
    let name = &key[start..];
    let leading = name.len() - name.trim_start_matches('.').len();
    match name[leading..].find('.') {
        Some(dot) => &key[..start + leading + dot],
        None => key,
    }
}

/// The schema or table (`field`): `value`, or when it starts with `/`, the first capture group
/// of the regex after the slash searched in the key's stem; lower-cased either way.
pub fn target_name(field: &str, value: &str, key: &str) -> Result<String, String> {
    let Some(pattern) = value.strip_prefix('/') else { return Ok(value.to_lowercase()) };
    let stem = key_stem(key);
    let regex = regex_lite::Regex::new(pattern).map_err(|e| format!("Bad {field} regex: {e}"))?;
    let captures = regex.captures(stem).ok_or_else(|| format!("Object name {stem} does not match {field} regex"))?;
    let group = captures.get(1).ok_or_else(|| format!("Regex for {field} does not contain a capture group"))?;
    Ok(group.as_str().to_lowercase())
}

/// Quotes name parts as the database wants them (empty parts are left out; a part holding a
/// quote character is refused), lower-cased unless `preserve_case`.
pub fn object_name(parts: &[&str], preserve_case: bool) -> Result<String, String> {
    quoted_name(parts, preserve_case, '"')
}

/// [`object_name`] with `quote` as the quote character.
pub fn quoted_name(parts: &[&str], preserve_case: bool, quote: char) -> Result<String, String> {
    let mut quoted = Vec::new();
    for part in parts.iter().filter(|p| !p.is_empty()) {
        if part.contains(['"', '`']) {
            return Err(format!("Bad database object name: {part}"));
        }
        let name = if preserve_case { part.to_string() } else { part.to_lowercase() };
        quoted.push(format!("{quote}{name}{quote}"));
    }
    Ok(quoted.join("."))
}

/// The column names of `columns` specs (`name TYPE …`: the first word of each).
pub fn column_names(columns: &[String]) -> Vec<String> {
    columns.iter().map(|c| c.split_whitespace().next().unwrap_or_default().to_string()).collect()
}

/// The objects a manifest names (`{"entries": [{"url": "s3://b/k"}, …]}`), as (bucket, key).
pub fn manifest_entries(text: &str) -> Result<Vec<(String, String)>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("Bad manifest: {e}"))?;
    let entries = value.get("entries").and_then(|e| e.as_array()).ok_or("Bad manifest: no entries list")?;
    entries
        .iter()
        .map(|entry| {
            let url = entry.get("url").and_then(|u| u.as_str()).ok_or("Bad manifest: an entry has no url")?;
            let rest = url.strip_prefix("s3://").ok_or_else(|| format!("Bad manifest url: {url}"))?;
            let (bucket, key) = rest.split_once('/').ok_or_else(|| format!("Bad manifest url: {url}"))?;
            Ok((bucket.to_string(), key.to_string()))
        })
        .collect()
}

/// PostgreSQL's client-side load: `COPY <target>[(<cols>)] FROM STDIN [WITH (<options>)]`, with
/// lava's own words (`MANIFEST`, `GZIP`) taken out of `args` first.
pub fn postgres_copy(target: &str, columns: &[String], args: &LoadArgs) -> Result<String, String> {
    let mut statement = format!("COPY {target}{} FROM STDIN", column_list(columns)?);
    if !args.is_empty() {
        statement.push_str(&format!(" WITH ({})", args.texts().collect::<Vec<_>>().join(", ")));
    }
    Ok(statement)
}

/// `("a","b")` for the columns' names (nothing for none).
fn column_list(columns: &[String]) -> Result<String, String> {
    if columns.is_empty() {
        return Ok(String::new());
    }
    let names: Result<Vec<String>, String> = column_names(columns).iter().map(|c| object_name(&[c], false)).collect();
    Ok(format!("({})", names?.join(",")))
}

/// Redshift's `COPY <target>[(<cols>)] FROM 's3://<bucket>/<key>' <authorization> <args>`;
/// `authorization` goes where the original puts it (the event shows `{authorization}` instead).
pub fn redshift_copy(
    target: &str,
    columns: &[String],
    bucket: &str,
    key: &str,
    authorization: &str,
    args: &LoadArgs,
) -> Result<String, String> {
    if bucket.contains('\'') || key.contains('\'') {
        return Err(format!("Bad S3 location: s3://{bucket}/{key}: must not contain quotes"));
    }
    let args: Vec<&str> = args.texts().collect();
    // The original's layout, spaces and line breaks included: the text is the run's event, and
    // a database error's position counts in it.
    let indent = crate::sql::unload::INDENT;
    Ok(format!(
        "\n{indent}COPY {target}{} FROM 's3://{bucket}/{key}'\n{indent}{authorization}\n{indent}{}\n{indent}",
        column_list(columns)?,
        args.join(" ")
    ))
}

/// Whether an option's argument is a quoted string (`'…'` or `"…"`) that cannot end early.
fn quoted_string(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 2
        && (bytes[0] == b'\'' || bytes[0] == b'"')
        && bytes[bytes.len() - 1] == bytes[0]
        && !text[1..text.len() - 1].contains(bytes[0] as char)
}

/// Aurora MySQL's `LOAD DATA FROM S3 FILE|PREFIX|MANIFEST 's3[-<region>]://<bucket>/<key>'
/// [REPLACE|IGNORE] INTO TABLE <target> [PARTITION …] [CHARACTER SET …] [COLUMNS …]
/// [LINES TERMINATED BY …] [IGNORE n LINES] [(<cols>)]` from the original's Postgres-like
/// options (`DELIMITER 'x'`, `QUOTE [OPTIONAL] 'x'`, `ESCAPE 'x'`, `ENCODING cs`,
/// `TERMINATOR UNIX|DOS|'x'`, `HEADER [n]`), whitespace squeezed to single spaces.
pub fn aurora_mysql_load(
    target: &str,
    columns: &[String],
    bucket: &str,
    key: &str,
    region: Option<&str>,
    args: &LoadArgs,
) -> Result<String, String> {
    if bucket.contains(['\'', '\\']) || key.contains(['\'', '\\']) {
        return Err(format!("Bad S3 location: s3://{bucket}/{key}: must not contain quotes or backslashes"));
    }
    let one_of = |words: &[&str], what: &str| -> Result<Option<String>, String> {
        let given: Vec<&str> = words.iter().copied().filter(|w| args.has(w)).collect();
        match given.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.to_string())),
            _ => Err(format!("Only one of {what} allowed")),
        }
    };
    let words = |word: &str| args.get(word).map(|t| t.split_whitespace().collect::<Vec<&str>>());
    let load_type =
        one_of(&["FILE", "PREFIX", "MANIFEST"], "FILE | PREFIX | MANIFEST")?.unwrap_or_else(|| "FILE".into());
    let scheme = match region {
        Some(r) if !r.is_empty() => {
            if !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("Bad region {r:?}"));
            }
            format!("s3-{r}")
        }
        _ => "s3".into(),
    };
    let mut parts = vec![format!("LOAD DATA FROM S3 {load_type} '{scheme}://{bucket}/{key}'")];
    if let Some(word) = one_of(&["IGNORE", "REPLACE"], "IGNORE | REPLACE")? {
        parts.push(word);
    }
    parts.push(format!("INTO TABLE {target}"));
    if let Some(partition) = args.get("PARTITION") {
        parts.push(partition.to_string());
    }
    if let Some(w) = words("ENCODING") {
        match w.as_slice() {
            [_, charset] if charset.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                parts.push(format!("CHARACTER SET {charset}"))
            }
            _ => return Err("Usage: ENCODING charset-name".into()),
        }
    }
    let mut column_format = Vec::new();
    if let Some(w) = words("DELIMITER") {
        match w.as_slice() {
            [_, d] if quoted_string(d) => column_format.push(format!("TERMINATED BY {d}")),
            _ => return Err("Usage: DELIMITER 'string'".into()),
        }
    }
    if let Some(w) = words("QUOTE") {
        match w.as_slice() {
            [_, optional, q] if optional.eq_ignore_ascii_case("OPTIONAL") && quoted_string(q) => {
                column_format.push(format!("OPTIONALLY ENCLOSED BY {q}"))
            }
            [_, q] if quoted_string(q) => column_format.push(format!("ENCLOSED BY {q}")),
            _ => return Err("Usage: QUOTE [OPTIONAL] 'char'".into()),
        }
    }
    if let Some(w) = words("ESCAPE") {
        match w.as_slice() {
            [_, e] if quoted_string(e) => column_format.push(format!("ESCAPED BY {e}")),
            _ => return Err("Usage: ESCAPE 'char'".into()),
        }
    }
    if !column_format.is_empty() {
        parts.push(format!("COLUMNS {}", column_format.join(" ")));
    }
    if let Some(w) = words("TERMINATOR") {
        parts.push(match w.as_slice() {
            [_, t] if quoted_string(t) => format!("LINES TERMINATED BY {t}"),
            [_, t] if t.eq_ignore_ascii_case("UNIX") => r"LINES TERMINATED BY '\n'".into(),
            [_, t] if t.eq_ignore_ascii_case("DOS") => r"LINES TERMINATED BY '\r\n'".into(),
            _ => return Err("Usage: TERMINATOR UNIX|DOS|'string'".into()),
        });
    }
    if let Some(w) = words("HEADER") {
        parts.push(match w.as_slice() {
            [_] => "IGNORE 1 LINES".into(),
            [_, n] if n.parse::<u32>().is_ok() => format!("IGNORE {n} LINES"),
            _ => return Err("Usage: HEADER [number]".into()),
        });
    }
    if !columns.is_empty() {
        let names: Result<Vec<String>, String> =
            column_names(columns).iter().map(|c| quoted_name(&[c], false, '`')).collect();
        parts.push(format!("({})", names?.join(",")));
    }
    Ok(parts.join(" "))
}

/// Redshift's authorization for S3: `IAM_ROLE '<role>'` (preferred), else access keys.
pub fn redshift_authorization(role: Option<&str>, keys: Option<(&str, &str, Option<&str>)>) -> Result<String, String> {
    let parts = [role, keys.map(|k| k.0), keys.map(|k| k.1), keys.and_then(|k| k.2)];
    if parts.iter().flatten().any(|p| p.contains('\'')) {
        return Err("Bad Redshift authorization component: must not contain quotes".into());
    }
    match (role, keys) {
        (Some(role), _) => Ok(format!("IAM_ROLE '{role}'")),
        (None, Some((id, secret, token))) => {
            let mut auth = format!("ACCESS_KEY_ID '{id}' SECRET_ACCESS_KEY '{secret}'");
            if let Some(token) = token {
                auth.push_str(&format!(" SESSION_TOKEN '{token}'"));
            }
            Ok(auth)
        }
        (None, None) => Err("Either IAM role or access keys required".into()),
    }
}

/// RDS and Aurora PostgreSQL's import of one object, as the original words it:
/// `SELECT aws_s3.table_import_from_s3('<target>', '<cols>', '(<args>)', '<bucket>', '<key>',
/// '<region>', '<key id>', '<secret>', '<token>')`, the credentials empty for the database's own
/// role. With `shown`, the object and credentials are the original's `{placeholders}`.
pub struct AuroraImport {
    /// The statement's text before the object and the credentials.
    head: String,
    region: String,
}

impl AuroraImport {
    /// The import into `target` (quoted) of `columns` with `args` (lava's own words removed).
    pub fn new(target: &str, columns: &[String], args: &LoadArgs, region: &str) -> Result<AuroraImport, String> {
        let names: Result<Vec<String>, String> =
            column_names(columns).iter().map(|c| object_name(&[c], false)).collect();
        let options = args.texts().collect::<Vec<_>>().join(", ").replace('\'', "''");
        if region.contains('\'') {
            return Err(format!("Bad region: {region}"));
        }
        Ok(AuroraImport {
            head: format!("SELECT aws_s3.table_import_from_s3('{target}', '{}', '({options})'", names?.join(",")),
            region: region.to_string(),
        })
    }

    /// The statement for one object with `keys` (id, secret, token).
    pub fn statement(&self, bucket: &str, key: &str, keys: (&str, &str, &str)) -> Result<String, String> {
        let parts = [bucket, key, keys.0, keys.1, keys.2];
        if parts.iter().any(|p| p.contains('\'')) {
            return Err(format!("Bad S3 location or credentials for s3://{bucket}/{key}: must not contain quotes"));
        }
        Ok(format!("{}, '{bucket}', '{key}', '{}', '{}', '{}', '{}')", self.head, self.region, keys.0, keys.1, keys.2))
    }

    /// The statement as the events show it.
    pub fn shown(&self) -> String {
        format!(
            "{}, '{{bucket}}', '{{key}}', '{}', '{{aws_access_key_id}}', '{{aws_secret_access_key}}', '{{aws_session_token}}')",
            self.head, self.region
        )
    }
}

/// The row loaders' `INSERT INTO <target>(<cols>) VALUES (?,…),(?,…)…` for `rows` rows.
pub fn insert_statement(target: &str, columns: &[String], quote: char, rows: usize) -> Result<String, String> {
    let names: Result<Vec<String>, String> = columns.iter().map(|c| quoted_name(&[c], false, quote)).collect();
    let row = format!("({})", vec!["?"; columns.len()].join(","));
    Ok(format!("INSERT INTO {target}({}) VALUES {}", names?.join(","), vec![row; rows].join(",")))
}

/// Rows per `INSERT` for `width` columns: 500, fewer for wide rows (bind parameters are limited).
pub fn rows_per_insert(width: usize) -> usize {
    (30_000 / width.max(1)).clamp(1, 500)
}

pub use super::csv::{CsvReading, CsvRecords};

impl CsvReading {
    /// From the loader options. `ESCAPECHAR` is accepted and ignored, as the original (a typo
    /// there means it never applies).
    pub fn from_args(args: &LoadArgs) -> Result<CsvReading, String> {
        let one_char = |word: &str| -> Result<Option<char>, String> {
            let Some(text) = args.get(word) else { return Ok(None) };
            let bad = || format!("Bad {word} value: {text}");
            let value = text.trim_end().strip_suffix('\'').ok_or_else(bad)?;
            let mut chars = value.chars().rev();
            match (chars.next(), chars.next(), chars.next()) {
                (Some(c), Some('\''), Some(' ')) => Ok(Some(c)),
                _ => Err(bad()),
            }
        };
        let mut quotechar = Some(one_char("QUOTECHAR")?.unwrap_or('"'));
        if let Some(text) = args.get("QUOTING") {
            let style = text.split_whitespace().nth(1).map(|s| s.trim_matches('\'')).unwrap_or_default();
            match style.to_ascii_uppercase().as_str() {
                "MINIMAL" | "ALL" | "NONNUMERIC" => {}
                "NONE" => quotechar = None,
                _ => return Err(format!("Bad quoting spec: {text}")),
            }
        }
        Ok(CsvReading {
            delimiter: one_char("DELIMITER")?.unwrap_or(','),
            quotechar,
            doublequote: true,
            header: args.has("HEADER"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(loader: Loader, list: &[&str]) -> Result<LoadArgs, String> {
        LoadArgs::parse(loader, &list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn modes_and_loaders_are_the_originals() {
        assert_eq!(Mode::parse("switch"), Ok(Mode::Switch));
        assert_eq!(Mode::parse("replace"), Err("Bad mode: replace".into()));
        assert_eq!(Loader::of(&ConnectionType::Postgres), Ok(Loader::Postgres));
        assert_eq!(Loader::of(&ConnectionType::Oracle), Err("db_from_s3 does not support oracle databases".into()));
    }

    #[test]
    fn options_are_checked_by_their_first_word_and_lava_words_taken_out() {
        let mut a = args(Loader::Postgres, &["FORMAT csv", "header", "GZIP", "DELIMITER '|'"]).unwrap();
        assert!(a.take("GZIP") && !a.take("MANIFEST"));
        assert_eq!(
            postgres_copy("\"s\".\"t\"", &["id INT".into(), "Name TEXT".into()], &a).unwrap(),
            "COPY \"s\".\"t\"(\"id\",\"name\") FROM STDIN WITH (FORMAT csv, header, DELIMITER '|')"
        );
        assert_eq!(postgres_copy("\"t\"", &[], &LoadArgs::default()).unwrap(), "COPY \"t\" FROM STDIN");
        assert_eq!(
            args(Loader::Postgres, &["FORMAT csv", "IGNOREHEADER 1", "BLANKSASNULL"]),
            Err("Invalid COPY arguments: BLANKSASNULL, IGNOREHEADER".into())
        );
        assert_eq!(args(Loader::Sqlite, &["FORMAT csv"]), Err("Invalid COPY arguments: FORMAT".into()));
    }

    #[test]
    fn names_come_from_the_key_by_regex_and_are_quoted_lower_case() {
        assert_eq!(key_stem("a/b/c.csv.gz"), "a/b/c");
        assert_eq!(key_stem("a.d/b/c"), "a.d/b/c");
        assert_eq!(key_stem("x/.hidden.csv"), "x/.hidden");
        assert_eq!(target_name("table", "Sales", "k.csv"), Ok("sales".into()));
        assert_eq!(target_name("table", "/([^/]+)$", "in/Daily_Sales.csv.gz"), Ok("daily_sales".into()));
        assert_eq!(target_name("schema", "/^(\\w+)/", "Finance/x.csv"), Ok("finance".into()));
        assert_eq!(
            target_name("table", "/^zz(.*)", "in/a.csv"),
            Err("Object name in/a does not match table regex".into())
        );
        assert_eq!(
            target_name("table", "/in", "in/a.csv"),
            Err("Regex for table does not contain a capture group".into())
        );
        assert_eq!(object_name(&["Public", "", "T1"], false), Ok("\"public\".\"t1\"".into()));
        assert_eq!(object_name(&["Public"], true), Ok("\"Public\"".into()));
        assert_eq!(object_name(&["a\"b"], false), Err("Bad database object name: a\"b".into()));
        assert_eq!(
            insert_statement("\"t\"", &["a".into(), "b".into()], '"', 1).unwrap(),
            "INSERT INTO \"t\"(\"a\",\"b\") VALUES (?,?)"
        );
        assert_eq!(
            insert_statement("`d`.`t`", &["a".into()], '`', 3).unwrap(),
            "INSERT INTO `d`.`t`(`a`) VALUES (?),(?),(?)"
        );
        assert_eq!((rows_per_insert(2), rows_per_insert(1000)), (500, 30));
        assert_eq!(quoted_name(&["Db", "T"], false, '`'), Ok("`db`.`t`".into()));
    }

    #[test]
    fn redshift_copies_from_s3_with_a_role_or_keys() {
        let a = args(Loader::Redshift, &["CSV", "IGNOREHEADER 1", "GZIP"]).unwrap();
        let auth = redshift_authorization(Some("arn:aws:iam::1:role/r"), None).unwrap();
        assert_eq!(
            redshift_copy("\"s\".\"t\"", &["a INT".into()], "b", "k/x.csv.gz", &auth, &a).unwrap(),
            format!(
                "\n{I}COPY \"s\".\"t\"(\"a\") FROM 's3://b/k/x.csv.gz'\n{I}IAM_ROLE 'arn:aws:iam::1:role/r'\n{I}CSV IGNOREHEADER 1 GZIP\n{I}",
                I = crate::sql::unload::INDENT
            )
        );
        assert_eq!(
            redshift_authorization(None, Some(("AK", "SK", Some("TK")))).unwrap(),
            "ACCESS_KEY_ID 'AK' SECRET_ACCESS_KEY 'SK' SESSION_TOKEN 'TK'"
        );
        assert!(redshift_authorization(Some("x'y"), None).is_err());
        assert_eq!(redshift_authorization(None, None), Err("Either IAM role or access keys required".into()));
        assert_eq!(args(Loader::Redshift, &["HEADER"]), Err("Invalid COPY arguments: HEADER".into()));
    }

    #[test]
    fn aurora_mysql_loads_with_the_originals_options() {
        let a = args(
            Loader::AuroraMySql,
            &[
                "PREFIX",
                "REPLACE",
                "DELIMITER '|'",
                "QUOTE OPTIONAL '\"'",
                "ENCODING utf8mb4",
                "TERMINATOR DOS",
                "HEADER 2",
            ],
        )
        .unwrap();
        assert_eq!(
            aurora_mysql_load("`s`.`t`", &["a INT".into(), "b TEXT".into()], "bk", "in/x", Some("ap-southeast-2"), &a)
                .unwrap(),
            "LOAD DATA FROM S3 PREFIX 's3-ap-southeast-2://bk/in/x' REPLACE INTO TABLE `s`.`t` CHARACTER SET utf8mb4 \
             COLUMNS TERMINATED BY '|' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\r\\n' IGNORE 2 LINES (`a`,`b`)"
        );
        let plain = args(Loader::AuroraMySql, &[]).unwrap();
        assert_eq!(
            aurora_mysql_load("`t`", &[], "bk", "k.csv", None, &plain).unwrap(),
            "LOAD DATA FROM S3 FILE 's3://bk/k.csv' INTO TABLE `t`"
        );
        let both = args(Loader::AuroraMySql, &["FILE", "MANIFEST"]).unwrap();
        assert_eq!(
            aurora_mysql_load("`t`", &[], "b", "k", None, &both).unwrap_err(),
            "Only one of FILE | PREFIX | MANIFEST allowed"
        );
        let bad = args(Loader::AuroraMySql, &["DELIMITER |"]).unwrap();
        assert_eq!(aurora_mysql_load("`t`", &[], "b", "k", None, &bad).unwrap_err(), "Usage: DELIMITER 'string'");
        assert!(aurora_mysql_load("`t`", &[], "b", "it's", None, &plain).is_err());
        assert_eq!(args(Loader::AuroraMySql, &["GZIP"]), Err("Invalid COPY arguments: GZIP".into()));
    }

    #[test]
    fn aurora_imports_each_object_with_the_options_quoted() {
        let a = args(Loader::AuroraPostgres, &["FORMAT csv", "DELIMITER '|'"]).unwrap();
        let import =
            AuroraImport::new("\"s\".\"t\"", &["a INT".into(), "b TEXT".into()], &a, "ap-southeast-2").unwrap();
        assert_eq!(
            import.statement("bk", "in/x.csv", ("AK", "SK", "")).unwrap(),
            "SELECT aws_s3.table_import_from_s3('\"s\".\"t\"', '\"a\",\"b\"', '(FORMAT csv, DELIMITER ''|'')', 'bk', 'in/x.csv', \
             'ap-southeast-2', 'AK', 'SK', '')"
        );
        assert!(import.shown().ends_with("'{bucket}', '{key}', 'ap-southeast-2', '{aws_access_key_id}', '{aws_secret_access_key}', '{aws_session_token}')"));
        assert!(import.statement("b", "it's", ("", "", "")).is_err());
    }

    #[test]
    fn manifests_name_their_objects() {
        let text = r#"{"entries": [{"url": "s3://b1/k/1.csv", "mandatory": true}, {"url": "s3://b2/2.csv"}]}"#;
        assert_eq!(manifest_entries(text).unwrap(), [("b1".into(), "k/1.csv".into()), ("b2".into(), "2.csv".into())]);
        assert!(manifest_entries(r#"{"entries": [{"url": "http://x"}]}"#).unwrap_err().contains("Bad manifest url"));
    }

    #[test]
    fn csv_records_span_pieces_and_quoted_lines() {
        let format = CsvReading::from_args(&args(Loader::Sqlite, &["DELIMITER '|'", "HEADER"]).unwrap()).unwrap();
        assert_eq!((format.delimiter, format.quotechar, format.header), ('|', Some('"'), true));
        let mut reader = CsvRecords::new(&format).unwrap();
        let text = "id|text\r\n1|\"a|b\"\r\n2|\"line\none \"\"quoted\"\"\"\n\n3|é";
        // Split everywhere, a two-byte character included.
        let (first, rest) = text.as_bytes().split_at(19);
        let mut records = reader.push(first).unwrap();
        for byte in rest.chunks(1) {
            records.extend(reader.push(byte).unwrap());
        }
        records.extend(reader.finish().unwrap());
        assert_eq!(
            records,
            vec![vec!["id", "text"], vec!["1", "a|b"], vec!["2", "line\none \"quoted\""], vec!["3", "é"]]
        );
        let none = CsvReading::from_args(&args(Loader::Sqlite, &["QUOTING 'none'"]).unwrap()).unwrap();
        let mut reader = CsvRecords::new(&none).unwrap();
        assert_eq!(reader.push(b"\"a\",b\n").unwrap(), vec![vec!["\"a\"", "b"]]);
        assert!(CsvReading::from_args(&args(Loader::Sqlite, &["DELIMITER ||"]).unwrap()).is_err());
        assert!(CsvReading::from_args(&args(Loader::Sqlite, &["QUOTING 'odd'"]).unwrap()).is_err());
        let mut reader = CsvRecords::new(&format).unwrap();
        assert!(reader.push(b"a|\xff\n").unwrap_err().contains("not UTF-8"));
        let wide = CsvReading { delimiter: '¦', ..format };
        assert!(CsvRecords::new(&wide).unwrap_err().contains("ASCII"));
    }
}
