//! Database sessions over sqlx (PostgreSQL, MySQL/MariaDB, SQLite). Statements run as plain
//! text with no bind parameters (the simple/text protocols), so values arrive as the server
//! prints them and are turned into the text Python's `str()` gives for the original's drivers
//! (pg8000, PyMySQL, sqlite3): `True`/`False`, `2024-01-02 03:04:05.120000+00:00`, `b'…'`.

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Column, Connection, Either, Executor, Row, SqlSafeStr, TypeInfo, ValueRef};
use std::time::Duration;

use super::csv::Field;
use crate::connections::{Database, Engine, TlsMode};
use crate::error::{Error, Result, Retry};

/// An open session.
pub enum Session {
    /// PostgreSQL.
    Postgres(sqlx::PgConnection),
    /// MySQL or MariaDB.
    MySql(sqlx::MySqlConnection),
    /// SQLite.
    Sqlite(sqlx::SqliteConnection),
}

/// What a statement produced, told to a [`RowSink`] as it streams. The calls are awaited
/// between rows, so a sink may write its output as it goes without blocking the runtime.
#[async_trait::async_trait]
pub trait RowSink: Send {
    /// The statement returns rows with these column names (called once, before any row).
    async fn columns(&mut self, names: &[String]) -> Result<()>;
    /// One row.
    async fn row(&mut self, fields: Vec<Field>) -> Result<()>;
}

/// The driver's error as the database words it, with its retry class: a lost, refused or
/// timed-out connection may pass; a statement the database rejects will not.
fn db_error(e: sqlx::Error) -> Error {
    let (message, retry) = match &e {
        sqlx::Error::Database(d) => (d.message().to_string(), Retry::Permanent),
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => {
            (e.to_string(), Retry::Transient)
        }
        other => (other.to_string(), Retry::Permanent),
    };
    Error::Database { message, retry, source: Some(Box::new(e)) }
}

/// A statement's error worded as the original's Python drivers word it, which is what its SQL
/// jobs report: pg8000 prints PostgreSQL's error fields as a dict in the order the server sends
/// them (`{'S': 'ERROR', 'V': 'ERROR', 'C': '42P01', 'M': '...', ...}`), PyMySQL the error's
/// number and message (`(1146, "Table 't' doesn't exist")`). Other errors are left as they are.
pub fn as_python_driver_error(e: Error) -> Error {
    let Error::Database { message, retry, source } = e else { return e };
    let database = source.as_deref().and_then(|s| s.downcast_ref::<sqlx::Error>()).and_then(|s| s.as_database_error());
    let worded = database.and_then(|d| {
        if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            Some(pg8000_text(pg))
        } else {
            let my = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()?;
            Some(format!("({}, {})", my.number(), crate::render::python::quote(my.message())))
        }
    });
    Error::Database { message: worded.unwrap_or(message), retry, source }
}

fn pg8000_text(e: &sqlx::postgres::PgDatabaseError) -> String {
    use sqlx::postgres::{PgErrorPosition, PgSeverity};
    let severity = match e.severity() {
        PgSeverity::Panic => "PANIC",
        PgSeverity::Fatal => "FATAL",
        PgSeverity::Error => "ERROR",
        PgSeverity::Warning => "WARNING",
        PgSeverity::Notice => "NOTICE",
        PgSeverity::Debug => "DEBUG",
        PgSeverity::Info => "INFO",
        PgSeverity::Log => "LOG",
    };
    let (position, internal) = match e.position() {
        Some(PgErrorPosition::Original(p)) => (Some(p.to_string()), None),
        Some(PgErrorPosition::Internal { position, query }) => (None, Some((position.to_string(), query.to_string()))),
        None => (None, None),
    };
    let line = e.line().map(|l| l.to_string());
    let fields: [(&str, Option<&str>); 18] = [
        ("S", Some(severity)),
        ("V", Some(severity)),
        ("C", Some(e.code())),
        ("M", Some(e.message())),
        ("D", e.detail()),
        ("H", e.hint()),
        ("P", position.as_deref()),
        ("p", internal.as_ref().map(|(p, _)| p.as_str())),
        ("q", internal.as_ref().map(|(_, q)| q.as_str())),
        ("W", e.r#where()),
        ("s", e.schema()),
        ("t", e.table()),
        ("c", e.column()),
        ("d", e.data_type()),
        ("n", e.constraint()),
        ("F", e.file()),
        ("L", line.as_deref()),
        ("R", e.routine()),
    ];
    let quote = crate::render::python::quote;
    let items: Vec<String> =
        fields.iter().filter_map(|(k, v)| v.map(|v| format!("{}: {}", quote(k), quote(v)))).collect();
    format!("{{{}}}", items.join(", "))
}

/// A COPY's error with where the server says it happened (`COPY t, line 3, column id: "x"`).
fn copy_error(e: sqlx::Error) -> Error {
    let place = e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
        .and_then(|d| d.r#where())
        .map(str::to_string);
    match (db_error(e), place) {
        (Error::Database { message, retry, source }, Some(place)) => {
            Error::Database { message: format!("{message} ({place})"), retry, source }
        }
        (other, _) => other,
    }
}

/// A MySQL/MariaDB session's options. An RDS IAM token is sent with the clear-text plugin the
/// server asks for, which TLS must protect.
fn mysql_options(db: &Database) -> Result<sqlx::mysql::MySqlConnectOptions> {
    let iam = db.password_is_iam_token();
    if iam && !db.tls.required() {
        return Err(Error::Refused(crate::connections::scripts::IAM_NEEDS_TLS.into()));
    }
    let mut options = sqlx::mysql::MySqlConnectOptions::new()
        .host(&db.host)
        .port(db.port)
        .username(&db.user)
        .password(db.password.expose())
        .ssl_mode(match db.tls {
            TlsMode::Disable => sqlx::mysql::MySqlSslMode::Disabled,
            TlsMode::Prefer => sqlx::mysql::MySqlSslMode::Preferred,
            TlsMode::Require => sqlx::mysql::MySqlSslMode::Required,
            TlsMode::VerifyCa => sqlx::mysql::MySqlSslMode::VerifyCa,
            TlsMode::VerifyFull => sqlx::mysql::MySqlSslMode::VerifyIdentity,
        })
        .enable_cleartext_plugin(iam)
        .statement_cache_capacity(0);
    if let Some(database) = &db.database {
        options = options.database(database);
    }
    if let Some(ca) = db.ca_cert.as_ref().filter(|_| db.tls.required()) {
        options = options.ssl_ca(ca);
    }
    Ok(options)
}

impl Session {
    /// Connects (in autocommit mode: [`Session::begin`] starts a transaction).
    pub async fn connect(db: &Database, application_name: Option<&str>, timeout: Duration) -> Result<Session> {
        let mysql = if matches!(db.engine, Engine::MySql) { Some(mysql_options(db)?) } else { None };
        let connecting = async {
            Ok::<_, sqlx::Error>(match db.engine {
                Engine::Postgres => {
                    let mut options = sqlx::postgres::PgConnectOptions::new_without_pgpass()
                        .host(&db.host)
                        .port(db.port)
                        .username(&db.user)
                        .password(db.password.expose())
                        .database(db.database.as_deref().unwrap_or_default())
                        .ssl_mode(match db.tls {
                            TlsMode::Disable => sqlx::postgres::PgSslMode::Disable,
                            TlsMode::Prefer => sqlx::postgres::PgSslMode::Prefer,
                            TlsMode::Require => sqlx::postgres::PgSslMode::Require,
                            TlsMode::VerifyCa => sqlx::postgres::PgSslMode::VerifyCa,
                            TlsMode::VerifyFull => sqlx::postgres::PgSslMode::VerifyFull,
                        })
                        .statement_cache_capacity(0);
                    if let Some(ca) = db.ca_cert.as_ref().filter(|_| db.tls.required()) {
                        options = options.ssl_root_cert(ca);
                    }
                    if let Some(name) = application_name {
                        options = options.application_name(&name.chars().take(63).collect::<String>());
                    }
                    Session::Postgres(sqlx::PgConnection::connect_with(&options).await?)
                }
                Engine::MySql => {
                    let options = mysql.as_ref().expect("MySQL options are made above");
                    Session::MySql(sqlx::MySqlConnection::connect_with(options).await?)
                }
                Engine::Sqlite => {
                    let options = sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(&db.host)
                        .create_if_missing(true)
                        .statement_cache_capacity(0);
                    Session::Sqlite(sqlx::SqliteConnection::connect_with(&options).await?)
                }
            })
        };
        match tokio::time::timeout(timeout, connecting).await {
            Ok(result) => result.map_err(|e| db_error(e).within(format!("Cannot connect to {}", db.conn_id))),
            Err(_) => Err(Error::Database {
                message: format!("timed out after {} seconds", timeout.as_secs()),
                retry: Retry::Transient,
                source: None,
            }
            .within(format!("Cannot connect to {}", db.conn_id))),
        }
    }

    /// Starts a transaction: `START TRANSACTION` on MySQL, `BEGIN` elsewhere.
    pub async fn begin(&mut self) -> Result<()> {
        let statement = if matches!(self, Session::MySql(_)) { "START TRANSACTION" } else { "BEGIN" };
        self.execute_quietly(statement).await
    }

    /// Commits the transaction.
    pub async fn commit(&mut self) -> Result<()> {
        self.execute_quietly("COMMIT").await
    }

    /// Rolls the transaction back.
    pub async fn rollback(&mut self) -> Result<()> {
        self.execute_quietly("ROLLBACK").await
    }

    async fn execute_quietly(&mut self, statement: &'static str) -> Result<()> {
        let query = sqlx::raw_sql(statement);
        match self {
            Session::Postgres(c) => query.execute(c).await.map(|_| ()),
            Session::MySql(c) => query.execute(c).await.map(|_| ()),
            Session::Sqlite(c) => query.execute(c).await.map(|_| ()),
        }
        .map_err(db_error)
    }

    /// Closes the session.
    pub async fn close(self) {
        let _ = match self {
            Session::Postgres(c) => c.close().await,
            Session::MySql(c) => c.close().await,
            Session::Sqlite(c) => c.close().await,
        };
    }

    /// The first row a query returns, if any (the rest are read and dropped).
    pub async fn first_row(&mut self, query: &str) -> Result<Option<Vec<Field>>> {
        struct First(Option<Vec<Field>>);
        #[async_trait::async_trait]
        impl RowSink for First {
            async fn columns(&mut self, _: &[String]) -> Result<()> {
                Ok(())
            }
            async fn row(&mut self, fields: Vec<Field>) -> Result<()> {
                self.0.get_or_insert(fields);
                Ok(())
            }
        }
        let mut first = First(None);
        self.run(query, &mut first).await?;
        Ok(first.0)
    }

    /// Every row a query returns, each field as text (`None` for NULL).
    pub async fn rows(&mut self, query: &str) -> Result<Vec<Vec<Option<String>>>> {
        struct All(Vec<Vec<Option<String>>>);
        #[async_trait::async_trait]
        impl RowSink for All {
            async fn columns(&mut self, _: &[String]) -> Result<()> {
                Ok(())
            }
            async fn row(&mut self, fields: Vec<Field>) -> Result<()> {
                self.0.push(fields.iter().map(|f| f.shown().map(|t| t.into_owned())).collect());
                Ok(())
            }
        }
        let mut all = All(Vec::new());
        self.run(query, &mut all).await?;
        Ok(all.0)
    }

    /// Runs a statement for its effect; returns the rows it changed (any rows it returns are
    /// dropped).
    pub async fn affected(&mut self, statement: &str) -> Result<u64> {
        struct Drop;
        #[async_trait::async_trait]
        impl RowSink for Drop {
            async fn columns(&mut self, _: &[String]) -> Result<()> {
                Ok(())
            }
            async fn row(&mut self, _: Vec<Field>) -> Result<()> {
                Ok(())
            }
        }
        Ok(match self {
            Session::Postgres(c) => stream(c, statement, &mut Drop, POSTGRES).await?.1,
            Session::MySql(c) => stream(c, statement, &mut Drop, MYSQL).await?.1,
            Session::Sqlite(c) => stream(c, statement, &mut Drop, SQLITE).await?.1,
        })
    }

    /// Runs a statement for its effect, dropping any rows.
    pub async fn execute(&mut self, statement: &str) -> Result<()> {
        self.first_row(statement).await.map(|_| ())
    }

    /// PostgreSQL's `COPY … FROM STDIN`: sends `chunks` as the data, in order, as they come;
    /// returns the rows copied. A chunk's error aborts the copy and is the result.
    pub async fn copy_in(
        &mut self,
        statement: &str,
        mut chunks: impl futures_util::Stream<Item = Result<Vec<u8>>> + Unpin,
    ) -> Result<u64> {
        let Session::Postgres(conn) = self else {
            return Err(Error::Unexpected("COPY FROM STDIN is PostgreSQL's".into()));
        };
        let mut copy = conn.copy_in_raw(statement).await.map_err(copy_error)?;
        while let Some(chunk) = chunks.try_next().await.transpose() {
            match chunk {
                Ok(bytes) => {
                    copy.send(bytes).await.map_err(copy_error)?;
                }
                Err(e) => {
                    let _ = copy.abort(e.to_string()).await;
                    return Err(e);
                }
            }
        }
        copy.finish().await.map_err(copy_error)
    }

    /// Runs `statement` (`?` placeholders, one per field of `rows` in order) with every field
    /// bound as text (SQLite and MySQL; PostgreSQL loads with [`Session::copy_in`]).
    pub async fn insert_rows(&mut self, statement: &str, rows: &[Vec<String>]) -> Result<()> {
        let fields = rows.iter().flatten();
        match self {
            Session::Sqlite(c) => {
                let query = fields.fold(sqlx::query(AssertSqlSafe(statement.to_string())), |q, f| q.bind(f));
                query.execute(&mut *c).await.map_err(db_error)?;
            }
            Session::MySql(c) => {
                let query = fields.fold(sqlx::query(AssertSqlSafe(statement.to_string())), |q, f| q.bind(f));
                query.execute(&mut *c).await.map_err(db_error)?;
            }
            Session::Postgres(_) => return Err(Error::Unexpected("PostgreSQL loads with COPY".into())),
        }
        Ok(())
    }

    /// Runs one statement; rows (and, first, the column names) go to `sink`. Returns whether
    /// the statement produced a result set (even one with no rows).
    pub async fn run(&mut self, statement: &str, sink: &mut dyn RowSink) -> Result<bool> {
        match self {
            Session::Postgres(c) => stream(c, statement, sink, POSTGRES).await.map(|r| r.0),
            Session::MySql(c) => stream(c, statement, sink, MYSQL).await.map(|r| r.0),
            Session::Sqlite(c) => stream(c, statement, sink, SQLITE).await.map(|r| r.0),
        }
    }
}

/// How an engine's rows become fields: its columns' shapes from their type names, and a field
/// from a row's value of a shape.
type Decoding<DB> = (fn(&str) -> Shape, fn(&<DB as sqlx::Database>::Row, usize, Shape) -> Field);

const POSTGRES: Decoding<sqlx::Postgres> = (Shape::postgres, postgres_field);
const MYSQL: Decoding<sqlx::MySql> = (Shape::mysql, mysql_field);
const SQLITE: Decoding<sqlx::Sqlite> = (|_| Shape::PerValue, sqlite_field);

/// Streams a statement's rows into `sink`; returns whether it had a result set and the rows it
/// changed. A statement that returned no rows and changed none is prepared to learn whether it
/// has a result description (a `SELECT` matching nothing).
async fn stream<'c, DB, C>(
    conn: &'c mut C,
    statement: &str,
    sink: &mut dyn RowSink,
    (shape, field): Decoding<DB>,
) -> Result<(bool, u64)>
where
    DB: sqlx::Database,
    for<'e> &'e mut C: Executor<'e, Database = DB>,
    DB::QueryResult: RowsAffected,
{
    let mut described = false;
    let mut affected = 0;
    // The shapes of the current result set's columns, from its first row.
    let mut shapes: Option<Vec<Shape>> = None;
    {
        let mut results = sqlx::raw_sql(AssertSqlSafe(statement.to_string())).fetch_many(&mut *conn);
        while let Some(item) = results.try_next().await.map_err(db_error)? {
            match item {
                Either::Left(done) => {
                    affected += done.affected();
                    shapes = None;
                }
                Either::Right(row) => {
                    if !described {
                        let names: Vec<String> = row.columns().iter().map(|c| c.name().to_string()).collect();
                        sink.columns(&names).await?;
                        described = true;
                    }
                    let shapes = shapes.get_or_insert_with(|| Shape::of_columns(&row, shape));
                    let fields = shapes.iter().enumerate().map(|(i, s)| field(&row, i, *s)).collect();
                    sink.row(fields).await?;
                }
            }
        }
    }
    if !described && affected == 0 {
        use sqlx::Statement;
        if let Ok(prepared) = (&mut *conn).prepare(AssertSqlSafe(statement.to_string()).into_sql_str()).await {
            let names: Vec<String> = prepared.columns().iter().map(|c| c.name().to_string()).collect();
            if !names.is_empty() {
                sink.columns(&names).await?;
                described = true;
            }
        }
    }
    Ok((described, affected))
}

/// The rows-affected count of any engine's query result.
pub trait RowsAffected {
    /// Rows changed.
    fn affected(&self) -> u64;
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::mysql::MySqlQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// Python's `repr()` of bytes.
pub fn bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') { '"' } else { '\'' };
    let mut out = format!("b{quote}");
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b if b as char == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
    out
}

/// A server's timestamp text as Python prints a datetime: microseconds as six digits, a UTC
/// offset as `+HH:MM`.
pub fn python_timestamp(text: &str) -> String {
    let (main, offset) = match text.rfind(['+', '-']).filter(|&i| i > 10 && text[..i].contains(':')) {
        Some(i) => (&text[..i], Some(&text[i..])),
        None => (text, None),
    };
    let mut out = match main.split_once('.') {
        Some((whole, fraction)) => {
            let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(6).collect();
            if digits == "000000" { whole.to_string() } else { format!("{whole}.{digits}") }
        }
        None => main.to_string(),
    };
    if let Some(offset) = offset {
        out.push_str(offset);
        if offset.len() == 3 {
            out.push_str(":00");
        }
    }
    out
}

fn float_field(text: &str) -> Field {
    match text {
        "Infinity" | "inf" => Field::number("inf"),
        "-Infinity" | "-inf" => Field::number("-inf"),
        "NaN" | "nan" => Field::number("nan"),
        t => match t.parse::<f64>() {
            Ok(f) => Field::number(crate::render::python::float_text(f)),
            Err(_) => Field::text(t),
        },
    }
}

fn json_field(text: &str) -> Field {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(_) => Field::json(text),
        Err(_) => Field::text(text),
    }
}

/// How a column's values become fields, decided once per result set from the column's type
/// (not once per value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Text as it is.
    Text,
    /// An integer as it is.
    Number,
    /// An exact decimal as it is.
    Decimal,
    /// A float as Python prints it.
    Float,
    /// PostgreSQL's `t`/`f`.
    Bool,
    /// A timestamp as Python prints it.
    Timestamp,
    /// A time of day as Python prints it.
    Time,
    /// A date as it is.
    Date,
    /// A duration (PyMySQL gives a `TIME` as a timedelta, which Python prints as the server
    /// does).
    Duration,
    /// PostgreSQL's `\x` hex of bytes, as Python's `repr()` of the bytes.
    HexBytes,
    /// Raw bytes, as Python's `repr()` of them.
    Bytes,
    /// JSON, as Python prints the decoded value.
    Json,
    /// Decided per value (SQLite's values carry their own types).
    PerValue,
}

impl Shape {
    /// The shape of a PostgreSQL column of type `name`.
    fn postgres(name: &str) -> Shape {
        match name {
            "BOOL" => Shape::Bool,
            "INT2" | "INT4" | "INT8" | "OID" => Shape::Number,
            "NUMERIC" => Shape::Decimal,
            "FLOAT4" | "FLOAT8" => Shape::Float,
            "TIMESTAMP" | "TIMESTAMPTZ" => Shape::Timestamp,
            "TIME" | "TIMETZ" => Shape::Time,
            "DATE" => Shape::Date,
            "BYTEA" => Shape::HexBytes,
            "JSON" | "JSONB" => Shape::Json,
            _ => Shape::Text,
        }
    }

    /// The shape of a MySQL or MariaDB column of type `name`.
    fn mysql(name: &str) -> Shape {
        match name {
            "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BINARY" | "VARBINARY" | "BIT" => Shape::Bytes,
            "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" | "TINYINT UNSIGNED"
            | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED" | "BIGINT UNSIGNED" => Shape::Number,
            "DECIMAL" => Shape::Decimal,
            "FLOAT" | "DOUBLE" => Shape::Float,
            "DATETIME" | "TIMESTAMP" => Shape::Timestamp,
            "TIME" => Shape::Duration,
            "DATE" => Shape::Date,
            _ => Shape::Text,
        }
    }

    /// The shapes of a row's columns.
    fn of_columns<R: Row>(row: &R, shape: fn(&str) -> Shape) -> Vec<Shape> {
        row.columns().iter().map(|c| shape(c.type_info().name())).collect()
    }

    /// A field of this shape from the server's text of a value.
    fn field(self, text: &str) -> Field {
        match self {
            Shape::Bool => Field::boolean(text == "t"),
            Shape::Number => Field::number(text),
            Shape::Decimal => Field::decimal(text),
            Shape::Float => float_field(text),
            Shape::Timestamp => Field::timestamp(python_timestamp(text)),
            Shape::Time => Field::time(python_timestamp(text)),
            Shape::Date => Field::date(text),
            Shape::Duration => Field::duration(python_timestamp(text)),
            Shape::HexBytes => {
                let hex = text.strip_prefix("\\x").unwrap_or(text);
                let bytes: Vec<u8> =
                    (0..hex.len() / 2).filter_map(|k| u8::from_str_radix(&hex[2 * k..2 * k + 2], 16).ok()).collect();
                Field::text(bytes_repr(&bytes))
            }
            Shape::Bytes => Field::text(bytes_repr(text.as_bytes())),
            Shape::Json => json_field(text),
            Shape::Text | Shape::PerValue => Field::text(text),
        }
    }
}

fn postgres_field(row: &sqlx::postgres::PgRow, i: usize, shape: Shape) -> Field {
    match row.try_get_raw(i) {
        Ok(value) if !value.is_null() => shape.field(value.as_str().unwrap_or_default()),
        _ => Field::null(),
    }
}

fn mysql_field(row: &sqlx::mysql::MySqlRow, i: usize, shape: Shape) -> Field {
    let Ok(value) = row.try_get_raw(i) else { return Field::null() };
    if value.is_null() {
        return Field::null();
    }
    if shape == Shape::Bytes {
        let bytes = <&[u8] as sqlx::Decode<sqlx::MySql>>::decode(value).unwrap_or_default();
        return Field::text(bytes_repr(bytes));
    }
    shape.field(<&str as sqlx::Decode<sqlx::MySql>>::decode(value).unwrap_or_default())
}

fn sqlite_field(row: &sqlx::sqlite::SqliteRow, i: usize, _: Shape) -> Field {
    let Ok(value) = row.try_get_raw(i) else { return Field::null() };
    if value.is_null() {
        return Field::null();
    }
    let info = value.type_info();
    let kind = info.name();
    match kind {
        "INTEGER" => Field::number(row.try_get_unchecked::<i64, _>(i).map(|n| n.to_string()).unwrap_or_default()),
        "REAL" => {
            Field::number(row.try_get_unchecked::<f64, _>(i).map(crate::render::python::float_text).unwrap_or_default())
        }
        "BLOB" => Field::text(bytes_repr(row.try_get_unchecked::<&[u8], _>(i).unwrap_or_default())),
        _ => Field::text(row.try_get_unchecked::<&str, _>(i).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_iam_token_goes_to_mysql_in_clear_text_over_tls_only() {
        let token = "db.example:3306/?Action=connect&DBUser=lava&X-Amz-Credential=AKID%2F20261130%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Signature=ab";
        let db = Database {
            conn_id: "aurora".into(),
            kind: crate::model::ConnectionType::MysqlAurora,
            engine: Engine::MySql,
            host: "db.example".into(),
            port: 3306,
            user: "lava".into(),
            password: crate::connections::Secret::new(token),
            database: None,
            tls: TlsMode::Require,
            ca_cert: None,
        };
        let options = format!("{:?}", mysql_options(&db).unwrap());
        assert!(options.contains("enable_cleartext_plugin: true"), "{options}");
        let plain = Database { password: crate::connections::Secret::new("pw"), ..db.clone() };
        assert!(format!("{:?}", mysql_options(&plain).unwrap()).contains("enable_cleartext_plugin: false"));
        let untls = Database { tls: TlsMode::Prefer, ..db };
        assert_eq!(mysql_options(&untls).unwrap_err().to_string(), "SSL is required with IAM database authentication");
    }

    #[test]
    fn values_print_as_python_prints_them() {
        assert_eq!(bytes_repr(b"hi\x00'"), "b\"hi\\x00'\"");
        assert_eq!(bytes_repr(b"a\\b\n"), "b'a\\\\b\\n'");
        assert_eq!(python_timestamp("2024-01-02 03:04:05.12+00"), "2024-01-02 03:04:05.120000+00:00");
        assert_eq!(python_timestamp("2024-01-02 03:04:05+05:30"), "2024-01-02 03:04:05+05:30");
        assert_eq!(python_timestamp("2024-01-02 03:04:05.000"), "2024-01-02 03:04:05");
        assert_eq!(python_timestamp("2024-01-02 03:04:05-08"), "2024-01-02 03:04:05-08:00");
        assert_eq!(python_timestamp("10:11:12.5"), "10:11:12.500000");
        assert_eq!(float_field("1e20").text.as_deref(), Some("1e+20"));
        assert_eq!(float_field("2").text.as_deref(), Some("2.0"));
        assert_eq!(json_field(r#"{"a": [1, true, null]}"#).shown().as_deref(), Some("{'a': [1, True, None]}"));
    }
}
