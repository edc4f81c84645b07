//! `redshift_unload`'s decisions, before touching a database (the option words are checked with
//! the parameters, `model::params::check_unload_options`): where a `PARTITION BY @schema.table` takes its columns from, the column list that formats
//! dates, and the statement's text (shown with `{authorization}` in place of the credentials,
//! as the original records it).

use std::sync::LazyLock;

/// What to do with one option before it goes into the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnloadOption {
    /// Used as written.
    Verbatim(String),
    /// `PARTITION …` other than the indirect form: rendered first.
    Rendered(String),
    /// `PARTITION BY @schema.relation`: the columns come from the `partitions` column of that
    /// relation's row for the relation unloaded.
    PartitionFrom {
        /// The schema of the partition information relation.
        schema: String,
        /// The partition information relation.
        relation: String,
    },
}

static PARTITION_FROM: LazyLock<regex_lite::Regex> =
    LazyLock::new(|| regex_lite::Regex::new(r"(?i)^BY\s+@\s*([^.]+)\.([^.]+?)\s*$").expect("a valid regex"));

impl UnloadOption {
    /// Classifies an option (`PARTITION option requires argument(s)` for a bare `PARTITION`).
    pub fn parse(option: &str) -> Result<UnloadOption, String> {
        if !option.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case("PARTITION")) {
            return Ok(UnloadOption::Verbatim(option.to_string()));
        }
        let args = option.trim_start().split_once(char::is_whitespace).map(|(_, a)| a.trim()).unwrap_or_default();
        if args.is_empty() {
            return Err("PARTITION option requires argument(s)".into());
        }
        Ok(match PARTITION_FROM.captures(args) {
            Some(c) => UnloadOption::PartitionFrom { schema: c[1].trim().to_string(), relation: c[2].to_string() },
            None => UnloadOption::Rendered(option.to_string()),
        })
    }
}

/// `PARTITION BY ("c1","c2")` from the `partitions` column's comma list.
pub fn partition_by(partitions: &str) -> Result<String, String> {
    let columns: Vec<&str> = partitions.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
    if columns.is_empty() {
        return Err("no partition columns".into());
    }
    let quoted: Result<Vec<String>, String> = columns.iter().map(|c| identifier(c)).collect();
    Ok(format!("PARTITION BY ({})", quoted?.join(",")))
}

/// A name quoted as an identifier; one that could end the identifier or the UNLOAD's quoted
/// query (`"`, `'`, `\`) is refused.
pub fn identifier(name: &str) -> Result<String, String> {
    if name.is_empty() || name.contains(['"', '\'', '\\']) {
        return Err(format!("Bad name {name:?}: must not be empty or contain quotes or backslashes"));
    }
    Ok(format!("\"{name}\""))
}

/// The query reading the partition information row for `schema.relation` (the names lower
/// case, as the original looks them up).
pub fn partition_query(info_schema: &str, info_relation: &str, schema: &str, relation: &str) -> Result<String, String> {
    let info = format!("{}.{}", identifier(info_schema)?, identifier(info_relation)?);
    identifier(schema)?;
    identifier(relation)?;
    Ok(format!(
        "SELECT partitions FROM {info} WHERE schema_name = '{}' AND rel_name = '{}'",
        schema.to_lowercase(),
        relation.to_lowercase()
    ))
}

/// The query listing a relation's columns and their types (Redshift's `svv_columns`).
pub fn columns_query(schema: &str, relation: &str) -> Result<String, String> {
    identifier(schema)?;
    identifier(relation)?;
    Ok(format!(
        "SELECT column_name, LOWER(data_type) FROM svv_columns WHERE table_catalog = CURRENT_DATABASE() \
         AND table_schema = '{schema}' AND table_name = '{relation}' ORDER BY ordinal_position"
    ))
}

/// What the UNLOAD's query selects: `*`, or with a `dateformat` and at least one `date`
/// column, every column with the dates as `to_char("c", \'<format>\') AS "c"`.
pub fn selector(columns: &[(String, String)], dateformat: Option<&str>) -> Result<String, String> {
    let Some(format) = dateformat.filter(|f| !f.is_empty()) else { return Ok("*".into()) };
    if format.contains(['\'', '\\']) {
        return Err(format!("Bad dateformat {format:?}: must not contain quotes or backslashes"));
    }
    if !columns.iter().any(|(_, t)| t == "date") {
        return Ok("*".into());
    }
    let listed: Result<Vec<String>, String> = columns
        .iter()
        .map(|(name, kind)| {
            let quoted = identifier(name)?;
            Ok(if kind == "date" { format!("to_char({quoted}, \\'{format}\\') AS {quoted}") } else { quoted })
        })
        .collect();
    Ok(listed?.join(", "))
}

/// One UNLOAD's parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Unload<'a> {
    /// What the query selects ([`selector`]).
    pub selector: &'a str,
    /// Source schema.
    pub schema: &'a str,
    /// Source relation.
    pub relation: &'a str,
    /// The rendered `where` predicate, if any.
    pub predicate: Option<&'a str>,
    /// Target bucket.
    pub bucket: &'a str,
    /// Target prefix (rendered; no `'`).
    pub prefix: &'a str,
    /// The options, as they go into the statement.
    pub options: &'a [String],
}

impl Unload<'_> {
    /// The statement with `authorization` (`IAM_ROLE '…'` or the keys); with
    /// `{authorization}` it is the text the run records.
    pub fn statement(&self, authorization: &str) -> Result<String, String> {
        let source = format!("{}.{}", identifier(self.schema)?, identifier(self.relation)?);
        if self.prefix.contains('\'') {
            return Err("Bad prefix parameter: Single quote not allowed in S3 prefix".into());
        }
        if self.bucket.contains(['\'', '/']) || self.bucket.is_empty() {
            return Err(format!("Bad bucket {:?}", self.bucket));
        }
        let predicate = match self.predicate.filter(|w| !w.trim().is_empty()) {
            Some(w) => format!("WHERE {}", w.replace('\'', "\\'")),
            None => String::new(),
        };
        // The original's layout, spaces and line breaks included: they are in the text a
        // successful unload records, and in a database error's position.
        Ok(format!(
            "\n{INDENT}UNLOAD ('SELECT {} FROM {source} {predicate}')\n{INDENT}TO 's3://{}/{}'\n{INDENT}{authorization}\n{INDENT}{};\n            ",
            self.selector,
            self.bucket,
            self.prefix,
            self.options.join(" ")
        ))
    }
}

/// The indent of the original's statements' lines.
pub(crate) const INDENT: &str = "                ";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::params::check_unload_options as check_options;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_are_checked_by_their_first_word() {
        assert!(check_options(&strings(&["CSV", "header", "PARALLEL OFF", "MAXFILESIZE 100 MB"])).is_ok());
        assert_eq!(
            check_options(&strings(&["CSV", "IAM_ROLE 'x'", "credentials 'y'", "IAM_ROLE 'z'"])),
            Err("Invalid UNLOAD arguments: CREDENTIALS, IAM_ROLE".into())
        );
    }

    #[test]
    fn partition_options_are_indirect_rendered_or_refused() {
        assert_eq!(
            UnloadOption::parse("PARTITION BY @ meta.parts ").unwrap(),
            UnloadOption::PartitionFrom { schema: "meta".into(), relation: "parts".into() }
        );
        assert_eq!(
            UnloadOption::parse("partition by (\"{{ vars.col }}\") INCLUDE").unwrap(),
            UnloadOption::Rendered("partition by (\"{{ vars.col }}\") INCLUDE".into())
        );
        assert_eq!(UnloadOption::parse("GZIP").unwrap(), UnloadOption::Verbatim("GZIP".into()));
        assert_eq!(UnloadOption::parse("PARTITION").unwrap_err(), "PARTITION option requires argument(s)");
        assert_eq!(partition_by(" year, month ").unwrap(), "PARTITION BY (\"year\",\"month\")");
        assert!(partition_by("a\"b").is_err());
        assert_eq!(
            partition_query("meta", "parts", "Sales", "Orders").unwrap(),
            "SELECT partitions FROM \"meta\".\"parts\" WHERE schema_name = 'sales' AND rel_name = 'orders'"
        );
    }

    #[test]
    fn dates_are_formatted_only_when_asked_and_present() {
        let cols = vec![("id".to_string(), "integer".to_string()), ("day".to_string(), "date".to_string())];
        assert_eq!(selector(&cols, None).unwrap(), "*");
        assert_eq!(selector(&cols[..1], Some("YYYY-MM-DD")).unwrap(), "*");
        assert_eq!(
            selector(&cols, Some("YYYY-MM-DD")).unwrap(),
            "\"id\", to_char(\"day\", \\'YYYY-MM-DD\\') AS \"day\""
        );
        assert!(selector(&cols, Some("YYYY'")).is_err());
    }

    #[test]
    fn the_statement_quotes_names_escapes_the_predicate_and_keeps_the_credentials_apart() {
        let options = strings(&["CSV", "GZIP"]);
        let unload = Unload {
            selector: "*",
            schema: "s",
            relation: "r",
            predicate: Some("day = '2026-01-01'"),
            bucket: "b",
            prefix: "out/r_",
            options: &options,
        };
        assert_eq!(
            unload.statement("{authorization}").unwrap(),
            format!(
                "\n{INDENT}UNLOAD ('SELECT * FROM \"s\".\"r\" WHERE day = \\'2026-01-01\\'')\n{INDENT}TO 's3://b/out/r_'\n{INDENT}{{authorization}}\n{INDENT}CSV GZIP;\n            "
            )
        );
        let bad = Unload { prefix: "it's", ..unload.clone() };
        assert_eq!(bad.statement("").unwrap_err(), "Bad prefix parameter: Single quote not allowed in S3 prefix");
        let bad = Unload { relation: "r\"; DROP", ..unload };
        assert!(bad.statement("").is_err());
    }
}
