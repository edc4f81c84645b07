//! `db_from_s3`: load S3 data into a table, with the original's modes and step messages.
//! PostgreSQL loads by a client-side `COPY … FROM STDIN` fed chunk by chunk from S3; SQLite by
//! reading the CSV as it arrives and inserting it in multi-row batches; MySQL/MariaDB by
//! `LOAD DATA LOCAL INFILE` in the `mysql` client, fed through a named pipe; so the
//! object is never whole in memory. Redshift and RDS/Aurora PostgreSQL read S3 themselves
//! (`COPY … FROM 's3://…'`, `aws_s3.table_import_from_s3`). The load is one transaction: a
//! failure leaves the table as it was (for `switch`, the original's order: load the empty table,
//! empty the other, commit, then truncate it).

use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;
use std::time::Duration;

use super::mysql_load::Step;
use crate::connections::{Database, default_region};
use crate::error::{Error, Result};
use crate::model::params::JobParameters;
use crate::ports::ByteChunks;
use crate::runners::{Failure, Outcome, RunContext};
use crate::sql::driver::Session;
use crate::sql::load::{
    AuroraImport, CsvReading, CsvRecords, LoadArgs, Loader, Mode, aurora_mysql_load, column_names, insert_statement,
    manifest_entries, object_name, postgres_copy, quoted_name, redshift_copy, rows_per_insert, target_name,
};

/// Runs a `db_from_s3` job.
pub async fn run_db_from_s3(ctx: &RunContext<'_>) -> Outcome {
    let typed = ctx.spec.typed_parameters().map_err(|e| Failure::message(format!("Bad job parameters: {e}")))?;
    let JobParameters::DbFromS3(p) = typed else { return Err(Failure::message("Bad job parameters")) };
    let mode = Mode::parse(&p.mode).map_err(Failure::message)?;
    let min_size = p.min_size_bytes().map_err(Failure::message)?;
    let jinja = p.jinja.is_none_or(|f| f.0);
    let vars = ctx.with_vars(&p.vars);
    let render = |text: &str, vars: &minijinja::Value| -> std::result::Result<String, Failure> {
        if jinja { ctx.renderer.render(text, vars).map_err(Failure::message) } else { Ok(text.to_string()) }
    };
    let bucket = render(&p.bucket, &vars)?;
    let key = render(&p.key, &vars)?;
    let mut result = json!({"exit_status": 0, "bucket": bucket, "key": key});
    if p.skip_missing.is_some_and(|f| f.0) {
        let size = ctx
            .blobs
            .object_size(&bucket, &key)
            .await
            .map_err(|e| Failure::message(format!("s3://{bucket}/{key} - {e}")))?;
        if size.is_none() {
            result["events"] = json!(["Skipped missing object"]);
            return Ok(result);
        }
    }
    let vars = minijinja::context! { bucket => bucket.clone(), key => key.clone(), ..vars };
    let schema = target_name("schema", &render(&p.schema, &vars)?, &key).map_err(Failure::message)?;
    let table = target_name("table", &render(&p.table, &vars)?, &key).map_err(Failure::message)?;

    let db = ctx.connections.database(&p.db_conn_id).await?;
    let loader = Loader::of(&db.kind).map_err(Failure::message)?;
    // As the original, what fails from here on fails the copy: the result so far, with the
    // error, is the failure's data (without the events).
    let copy_failed = |error: String| {
        let mut data = result.clone();
        data["exit_status"] = json!(1);
        data["error"] = json!(error);
        Failure { message: format!("Copy failed: {error}"), data: Some(data) }
    };
    let args = LoadArgs::parse(loader, &p.args).map_err(&copy_failed)?;
    if loader == Loader::Sqlite && !schema.is_empty() && schema != "main" {
        return Err(copy_failed(format!("SQLite has no schema {schema}: use main")));
    }
    let job = Load {
        ctx,
        db: &db,
        loader,
        schema,
        table,
        bucket,
        key,
        args,
        columns: p.columns.clone(),
        min_size,
        s3_iam_role: p.s3_iam_role.clone(),
        s3_conn_id: p.s3_conn_id.clone(),
    };
    let mut events = Vec::new();
    match job.run(mode, &mut events).await {
        Ok(()) => {
            if ctx.dev {
                println!("{}", events.join("\n"));
            }
            result["events"] = json!(events);
            Ok(result)
        }
        // Unlike the original, the data keeps the load's events so far (the statements sent).
        // The original's loads ran on its Python drivers (pg8000, PyMySQL), whose wording its
        // errors keep, except PostgreSQL's, whose COPY ran in psql.
        Err(e) => {
            let e = if loader == Loader::Postgres { e } else { crate::sql::driver::as_python_driver_error(e) };
            let mut failure = copy_failed(e.to_string());
            if let Some(data) = failure.data.as_mut() {
                data["events"] = json!(events);
            }
            Err(failure)
        }
    }
}

/// One load: where from, where to, how.
struct Load<'a> {
    ctx: &'a RunContext<'a>,
    db: &'a Database,
    loader: Loader,
    schema: String,
    table: String,
    bucket: String,
    key: String,
    args: LoadArgs,
    columns: Vec<String>,
    min_size: u64,
    s3_iam_role: Option<String>,
    s3_conn_id: Option<String>,
}

impl Load<'_> {
    async fn run(self, mode: Mode, events: &mut Vec<String>) -> Result<()> {
        if self.loader == Loader::MySql {
            return self.run_mysql(mode, events).await;
        }
        let mut session = self.ctx.connect_sql(self.db).await?;
        session.begin().await?;
        let loaded = match mode {
            Mode::Switch => self.switch(&mut session, events).await,
            _ => self.simple(&mut session, mode, events).await,
        };
        if loaded.is_err()
            && let Err(e) = session.rollback().await
        {
            tracing::warn!(job_id = %self.ctx.spec.job_id, error = %e, "Rollback failed.");
        }
        let closed = session.close().await;
        loaded?;
        closed
    }

    /// The table's quoted name with its schema (SQLite's too: `"main"."t"`, as the original
    /// names it).
    fn name(&self, table: &str) -> Result<String> {
        quoted_name(&[&self.schema, table], false, self.loader.quotes()).map_err(Error::Refused)
    }

    async fn exists(&self, session: &mut Session, table: &str) -> Result<bool> {
        if table.contains('\'') || self.schema.contains('\'') {
            return Err(Error::Refused(format!("Bad table name: {table}")));
        }
        let query = match self.loader {
            Loader::Sqlite => format!("SELECT 1 FROM sqlite_master WHERE type='table' AND name='{table}'"),
            Loader::Postgres | Loader::AuroraPostgres | Loader::MySql | Loader::AuroraMySql => format!(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = '{}' AND table_name = '{table}'",
                self.schema
            ),
            Loader::Redshift => format!(
                "SELECT 1 FROM svv_tables WHERE table_catalog = CURRENT_DATABASE() AND table_schema = '{}' \
                 AND table_name = '{table}'",
                self.schema
            ),
        };
        Ok(session.first_row(&query).await?.is_some())
    }

    /// `schema.table` unquoted: how the original's switch mode names tables in its events.
    fn plain_name(&self, table: &str) -> String {
        if self.schema.is_empty() { table.to_string() } else { format!("{}.{table}", self.schema) }
    }

    /// The name events show: quoted, or as switch mode shows it.
    fn shown(&self, table: &str, switching: bool) -> Result<String> {
        if switching { Ok(self.plain_name(table)) } else { self.name(table) }
    }

    async fn create(
        &self,
        session: &mut Session,
        table: &str,
        switching: bool,
        events: &mut Vec<String>,
    ) -> Result<()> {
        let (name, shown) = (self.name(table)?, self.shown(table, switching)?);
        if self.columns.is_empty() {
            return Err(Error::Refused(format!(
                "Table {shown} doesn't exist and no column spec provided to create it"
            )));
        }
        events.push(format!("Creating table {shown}"));
        session.execute(&format!("CREATE TABLE {name} ({})", self.columns.join(", "))).await?;
        events.push(format!("Created table {shown}"));
        Ok(())
    }

    async fn empty(
        &self,
        session: &mut Session,
        table: &str,
        truncate: bool,
        switching: bool,
        events: &mut Vec<String>,
    ) -> Result<()> {
        let (name, shown) = (self.name(table)?, self.shown(table, switching)?);
        let (doing, done, statement) = if truncate && self.loader != Loader::Sqlite {
            ("Truncating", "Truncated", format!("TRUNCATE TABLE {name}"))
        } else if truncate {
            ("Truncating", "Truncated", format!("DELETE FROM {name}"))
        } else {
            ("Deleting from", "Deleted from", format!("DELETE FROM {name}"))
        };
        events.push(format!("{doing} table {shown}"));
        session.execute(&statement).await?;
        events.push(format!("{done} table {shown}"));
        Ok(())
    }

    /// Modes abort, append, delete, drop and truncate.
    async fn simple(&self, session: &mut Session, mode: Mode, events: &mut Vec<String>) -> Result<()> {
        let name = self.name(&self.table)?;
        let mut exists = self.exists(session, &self.table).await?;
        match mode {
            Mode::Abort if exists => return Err(Error::Refused(format!("Table {name} already exists"))),
            Mode::Delete if exists => self.empty(session, &self.table, false, false, events).await?,
            Mode::Truncate if exists => self.empty(session, &self.table, true, false, events).await?,
            Mode::Drop if exists => {
                events.push(format!("Dropping table {name}"));
                session.execute(&format!("DROP TABLE IF EXISTS {name}")).await?;
                events.push(format!("Dropped table {name}"));
                exists = false;
            }
            _ => {}
        }
        if !exists {
            self.create(session, &self.table, false, events).await?;
        }
        self.copy(session, &self.table, events).await?;
        session.commit().await?;
        events.push(format!("Commit {name}"));
        Ok(())
    }

    /// Mode switch: tables `<table>_a` and `<table>_b`; the first empty one is loaded and the
    /// other emptied in the same transaction, then truncated after the commit.
    async fn switch(&self, session: &mut Session, events: &mut Vec<String>) -> Result<()> {
        let (new, old) = self.switch_tables(session, events).await?;
        self.copy(session, &new, events).await?;
        self.empty(session, &old, false, true, events).await?;
        session.commit().await?;
        events.push(format!("Commit {}", self.plain_name(&self.table)));
        self.empty(session, &old, true, true, events).await?;
        Ok(())
    }

    /// Switch mode's tables, each created if missing: the first empty one (to load) and the
    /// other (to empty).
    async fn switch_tables(&self, session: &mut Session, events: &mut Vec<String>) -> Result<(String, String)> {
        let mut target = None;
        for (new, old) in [("a", "b"), ("b", "a")] {
            let table = format!("{}_{new}", self.table);
            if !self.exists(session, &table).await? {
                self.create(session, &table, true, events).await?;
            }
            let name = self.name(&table)?;
            if target.is_none() && session.first_row(&format!("SELECT 1 FROM {name} LIMIT 1")).await?.is_none() {
                events.push(format!("Table {} is empty - setting as load target", self.plain_name(&table)));
                target = Some((table, format!("{}_{old}", self.table)));
            }
        }
        let Some((new, old)) = target else {
            let both = self.plain_name(&self.table);
            return Err(Error::Refused(format!("Neither A nor B switch table is empty for {both}")));
        };
        Ok((new, old))
    }

    /// MySQL and MariaDB: what the load finds (tables, emptiness, columns) is read with sqlx
    /// and a missing switch table created; the load itself runs in the `mysql` client, one
    /// session whose statements empty the table, load each object and commit
    /// ([`super::mysql_load`]).
    async fn run_mysql(&self, mode: Mode, events: &mut Vec<String>) -> Result<()> {
        let dir = self.ctx.run_dir.join(format!("load.{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let mut session = self.ctx.connect_sql(self.db).await?;
        let planned = self.plan_mysql(&mut session, mode, &dir, events).await;
        let closed = session.close().await;
        let steps = planned?;
        closed?;
        let connector = crate::connections::scripts::database_script(self.db, &dir)?;
        let ran =
            super::mysql_load::run(
                &connector,
                &steps,
                events,
                |bucket, key| async move { self.open(&bucket, &key).await },
            )
            .await;
        let _ = std::fs::remove_dir_all(&dir);
        ran
    }

    async fn plan_mysql(
        &self,
        session: &mut Session,
        mode: Mode,
        dir: &std::path::Path,
        events: &mut Vec<String>,
    ) -> Result<Vec<Step>> {
        let sql = |statement: String, before: String, after: String| Step::Sql {
            statement,
            before: vec![before],
            after: vec![after],
        };
        let mut steps = Vec::new();
        // Switch mode's old table: its quoted name and the name events show.
        let mut switch_old = None;
        let table = if mode == Mode::Switch {
            let (new, old) = self.switch_tables(session, events).await?;
            switch_old = Some((self.name(&old)?, self.plain_name(&old)));
            new
        } else {
            let name = self.name(&self.table)?;
            let mut exists = self.exists(session, &self.table).await?;
            match mode {
                Mode::Abort if exists => return Err(Error::Refused(format!("Table {name} already exists"))),
                Mode::Delete if exists => steps.push(sql(
                    format!("DELETE FROM {name}"),
                    format!("Deleting from table {name}"),
                    format!("Deleted from table {name}"),
                )),
                Mode::Truncate if exists => steps.push(sql(
                    format!("TRUNCATE TABLE {name}"),
                    format!("Truncating table {name}"),
                    format!("Truncated table {name}"),
                )),
                Mode::Drop if exists => {
                    steps.push(sql(
                        format!("DROP TABLE IF EXISTS {name}"),
                        format!("Dropping table {name}"),
                        format!("Dropped table {name}"),
                    ));
                    exists = false;
                }
                _ => {}
            }
            if !exists {
                if self.columns.is_empty() {
                    return Err(Error::Refused(format!(
                        "Table {name} doesn't exist and no column spec provided to create it"
                    )));
                }
                steps.push(sql(
                    format!("CREATE TABLE {name} ({})", self.columns.join(", ").replace('\n', " ")),
                    format!("Creating table {name}"),
                    format!("Created table {name}"),
                ));
            }
            self.table.clone()
        };
        let target = self.name(&table)?;
        let columns = if self.columns.is_empty() {
            self.table_columns(session, &table).await?
        } else {
            column_names(&self.columns)
        };
        // What is found before each load is recorded with it, in the order it happened.
        let mut found = Vec::new();
        let (args, objects) = self.prepare(session, &table, &mut found).await?;
        let format = CsvReading::from_args(&args).map_err(Error::Refused)?;
        found.push(format!("Running LOAD DATA for {target}"));
        for (i, (bucket, key)) in objects.into_iter().enumerate() {
            if self.is_runt(&bucket, &key, &mut found).await? {
                continue;
            }
            let pipe = dir.join(format!("object-{i}"));
            let statement = super::mysql_load::load_data_statement(&pipe, &target, &columns, &format)?;
            steps.push(Step::Load { statement, pipe, bucket, key, before: std::mem::take(&mut found) });
        }
        if let Some((old, shown)) = &switch_old {
            steps.push(sql(
                format!("DELETE FROM {old}"),
                format!("Deleting from table {shown}"),
                format!("Deleted from table {shown}"),
            ));
        }
        let whole = if switch_old.is_some() { self.plain_name(&self.table) } else { self.name(&self.table)? };
        steps.push(Step::Sql { statement: "COMMIT".into(), before: found, after: vec![format!("Commit {whole}")] });
        if let Some((old, shown)) = switch_old {
            steps.push(sql(
                format!("TRUNCATE TABLE {old}"),
                format!("Truncating table {shown}"),
                format!("Truncated table {shown}"),
            ));
        }
        Ok(steps)
    }

    /// The objects to load: the key, or with `MANIFEST` the objects the manifest at the key names.
    async fn objects(&self, events: &mut Vec<String>) -> Result<Vec<(String, String)>> {
        if !self.args.has("MANIFEST") {
            return Ok(vec![(self.bucket.clone(), self.key.clone())]);
        }
        events.push(format!("Reading manifest s3://{}/{}", self.bucket, self.key));
        let text = self.ctx.blobs.get_object(&self.bucket, &self.key).await?;
        manifest_entries(&String::from_utf8_lossy(&text)).map_err(Error::Refused)
    }

    /// Whether an object is below `min_size` (a runt, skipped).
    async fn is_runt(&self, bucket: &str, key: &str, events: &mut Vec<String>) -> Result<bool> {
        if self.min_size == 0 {
            return Ok(false);
        }
        let size =
            self.ctx.blobs.object_size(bucket, key).await.map_err(|e| e.within(format!("s3://{bucket}/{key}")))?;
        let size = size.ok_or_else(|| Error::NotFound { what: "object", id: format!("s3://{bucket}/{key}") })?;
        if size < self.min_size {
            events.push(format!("Skipping runt file s3://{bucket}/{key}"));
            return Ok(true);
        }
        Ok(false)
    }

    /// An object's data chunk by chunk, gunzipped with `GZIP`.
    async fn open(&self, bucket: &str, key: &str) -> Result<ByteChunks> {
        let chunks = self.ctx.blobs.open_object(bucket, key).await.map_err(|e| e.within("Download failed"))?;
        if !self.args.has("GZIP") {
            return Ok(chunks);
        }
        let uri = format!("s3://{bucket}/{key}");
        let decoder = flate2::write::MultiGzDecoder::new(Vec::new());
        let gunzipped =
            futures_util::stream::try_unfold((chunks, Some(decoder), uri), |(mut chunks, decoder, uri)| async move {
                let Some(mut decoder) = decoder else { return Ok(None) };
                use std::io::Write;
                let bad = |e: std::io::Error| Error::Refused(format!("{uri}: not gzip data ({e})"));
                loop {
                    match chunks.try_next().await? {
                        Some(chunk) => {
                            decoder.write_all(&chunk).map_err(bad)?;
                            let out = std::mem::take(decoder.get_mut());
                            if !out.is_empty() {
                                return Ok(Some((out, (chunks, Some(decoder), uri))));
                            }
                        }
                        None => {
                            let out = decoder.finish().map_err(bad)?;
                            return Ok(if out.is_empty() { None } else { Some((out, (chunks, None, uri))) });
                        }
                    }
                }
            });
        Ok(Box::pin(gunzipped))
    }

    async fn copy(&self, session: &mut Session, table: &str, events: &mut Vec<String>) -> Result<()> {
        let target = self.name(table)?;
        match self.loader {
            Loader::Redshift => self.redshift_copy(session, table, &target, events).await?,
            Loader::AuroraMySql => self.aurora_mysql_load(session, table, &target, events).await?,
            Loader::AuroraPostgres => {
                let (args, objects) = self.prepare(session, table, events).await?;
                self.aurora_import(session, table, &target, &args, objects, events).await?
            }
            Loader::Postgres => {
                let (args, objects) = self.prepare(session, table, events).await?;
                let statement = postgres_copy(&target, &self.columns, &args).map_err(Error::Refused)?;
                events.push(format!("Running COPY command(s) for {}.{table}", self.schema));
                events.push(format!("COPY command: {statement}"));
                for (bucket, key) in objects {
                    if self.is_runt(&bucket, &key, events).await? {
                        continue;
                    }
                    events.push(format!("Copying s3://{bucket}/{key}"));
                    let uri = format!("s3://{bucket}/{key}");
                    let copy = async {
                        let chunks = self.open(&bucket, &key).await?;
                        session.copy_in(&statement, chunks).await
                    };
                    let limit = self.ctx.config.get(crate::config::keys::PG_COPY_TIMEOUT);
                    let rows = tokio::time::timeout(Duration::from_secs_f64(limit), copy)
                        .await
                        .map_err(|_| {
                            Error::Refused(format!("{uri}: the copy did not finish within {limit} s (PG_COPY_TIMEOUT)"))
                        })?
                        .map_err(|e| e.within(&uri))?;
                    events.push("Copy complete".into());
                    events.push(format!("COPY {rows}"));
                }
            }
            Loader::MySql => return Err(Error::Unexpected("MySQL loads through the mysql client".into())),
            Loader::Sqlite => {
                let (args, objects) = self.prepare(session, table, events).await?;
                let columns = if self.columns.is_empty() {
                    self.table_columns(session, table).await?
                } else {
                    column_names(&self.columns)
                };
                let format = CsvReading::from_args(&args).map_err(Error::Refused)?;
                events.push(format!("Running INSERTs for {target}"));
                for (bucket, key) in objects {
                    if self.is_runt(&bucket, &key, events).await? {
                        continue;
                    }
                    events.push(format!("Inserting data from s3://{bucket}/{key}"));
                    let rows = self.insert(session, &target, &columns, format.clone(), &bucket, &key).await?;
                    events.push(format!("Inserted {rows} rows from s3://{bucket}/{key}"));
                }
            }
        }
        Ok(())
    }

    /// For the loaders that read the objects here or name them one by one: the options the
    /// database sees (lava's `MANIFEST` and `GZIP` taken out, `FORCE_NULL *` and
    /// `FORCE_NOT_NULL *` spelled out for the PostgreSQL forms) and the objects to load.
    async fn prepare(
        &self,
        session: &mut Session,
        table: &str,
        events: &mut Vec<String>,
    ) -> Result<(LoadArgs, Vec<(String, String)>)> {
        let objects = self.objects(events).await?;
        let mut args = self.args.clone();
        args.take("MANIFEST");
        args.take("GZIP");
        if matches!(self.loader, Loader::Postgres | Loader::AuroraPostgres) {
            for word in ["FORCE_NULL", "FORCE_NOT_NULL"] {
                if args.get(word).is_some_and(|t| t.split_whitespace().nth(1) == Some("*")) {
                    let all = self.table_columns(session, table).await?;
                    let quoted: std::result::Result<Vec<String>, String> =
                        all.iter().map(|c| object_name(&[c], false)).collect();
                    args.set(word, format!("{word} ({})", quoted.map_err(Error::Refused)?.join(", ")));
                }
            }
        }
        Ok((args, objects))
    }

    /// Redshift reads S3 itself: one `COPY … FROM 's3://…'` (Redshift expands a manifest and
    /// gunzips), authorised by the role or by the `s3_conn_id` connection's keys, which appear in
    /// no event.
    async fn redshift_copy(
        &self,
        session: &mut Session,
        table: &str,
        target: &str,
        events: &mut Vec<String>,
    ) -> Result<()> {
        if self.is_runt(&self.bucket, &self.key, events).await? {
            return Ok(());
        }
        let authorization =
            self.ctx.redshift_authorization(self.s3_iam_role.as_deref(), self.s3_conn_id.as_deref()).await?;
        let copy = |auth: &str| {
            redshift_copy(target, &self.columns, &self.bucket, &self.key, auth, &self.args).map_err(Error::Refused)
        };
        events.push(copy("{authorization}")?);
        events.push(format!("Running COPY command for {}.{table}", self.schema));
        session.execute(&copy(&authorization)?).await?;
        events.push(format!("Copy to {}.{table} complete", self.schema));
        Ok(())
    }

    /// Aurora MySQL reads S3 itself, with the cluster's own role: one `LOAD DATA FROM S3` of the
    /// key (a file, a prefix or a manifest, as the options say), the bucket's region from the
    /// `s3_conn_id` connection or this process's.
    async fn aurora_mysql_load(
        &self,
        session: &mut Session,
        table: &str,
        target: &str,
        events: &mut Vec<String>,
    ) -> Result<()> {
        if self.is_runt(&self.bucket, &self.key, events).await? {
            return Ok(());
        }
        let region = match &self.s3_conn_id {
            Some(conn_id) => self.ctx.connections.aws_keys(conn_id).await?.region,
            None => default_region(),
        };
        let statement = aurora_mysql_load(target, &self.columns, &self.bucket, &self.key, Some(&region), &self.args)
            .map_err(Error::Refused)?;
        events.push(statement.clone());
        events.push(format!("Running COPY command for {}.{table}", self.schema));
        let count = session.affected(&statement).await?;
        events.push(format!("Copy to {}.{table} complete", self.schema));
        events.push(format!("{count} records processed"));
        Ok(())
    }

    /// RDS and Aurora PostgreSQL read S3 themselves: one `aws_s3.table_import_from_s3` per
    /// object, with the `s3_conn_id` connection's keys (never in an event) or empty ones for the
    /// database's own role. With `GZIP`, each object first gets `Content-Encoding: gzip`, as the
    /// original sets it, so that the import gunzips it.
    async fn aurora_import(
        &self,
        session: &mut Session,
        table: &str,
        target: &str,
        args: &LoadArgs,
        objects: Vec<(String, String)>,
        events: &mut Vec<String>,
    ) -> Result<()> {
        let keys = match &self.s3_conn_id {
            Some(conn_id) => Some(self.ctx.connections.aws_keys(conn_id).await?),
            None => None,
        };
        let region = keys.as_ref().map_or_else(default_region, |k| k.region.clone());
        if self.args.has("GZIP") {
            for (bucket, key) in &objects {
                self.ctx
                    .blobs
                    .set_content_encoding(bucket, key, "gzip")
                    .await
                    .map_err(|e| e.within(format!("s3://{bucket}/{key}")))?;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        let import = AuroraImport::new(target, &self.columns, args, &region).map_err(Error::Refused)?;
        events.push(format!("Running COPY command(s) for {}.{table}", self.schema));
        events.push(format!("COPY command: {}", import.shown()));
        let credentials = match &keys {
            Some(k) => (k.id.expose(), k.secret.expose(), k.token.as_ref().map_or("", |t| t.expose())),
            None => ("", "", ""),
        };
        for (bucket, key) in objects {
            if self.is_runt(&bucket, &key, events).await? {
                continue;
            }
            events.push(format!("Copying s3://{bucket}/{key}"));
            let statement = import.statement(&bucket, &key, credentials).map_err(Error::Refused)?;
            let outcome = match session.first_row(&statement).await {
                Ok(row) => row.and_then(|fields| fields.into_iter().next()).and_then(|f| f.text).unwrap_or_default(),
                Err(e) if e.to_string().contains(" 0 rows were copied successfully") => "File was empty".into(),
                Err(e) => return Err(e.within(format!("s3://{bucket}/{key}"))),
            };
            events.push("Copy complete".into());
            events.push(outcome);
        }
        Ok(())
    }

    /// Reads an object's CSV as it arrives and inserts its rows in batches; returns the count.
    async fn insert(
        &self,
        session: &mut Session,
        target: &str,
        columns: &[String],
        format: CsvReading,
        bucket: &str,
        key: &str,
    ) -> Result<u64> {
        let uri = format!("s3://{bucket}/{key}");
        let width = columns.len();
        let batch = rows_per_insert(width);
        let quote = self.loader.quotes();
        let full = insert_statement(target, columns, quote, batch).map_err(Error::Refused)?;
        let mut skip_header = format.header;
        let mut reader = CsvRecords::new(&format).map_err(Error::Refused)?;
        let mut chunks = self.open(bucket, key).await?;
        let mut count = 0u64;
        let mut pending: Vec<Vec<String>> = Vec::new();
        loop {
            let next = chunks.next().await.transpose()?;
            let records = match &next {
                Some(chunk) => reader.push(chunk),
                None => reader.finish(),
            }
            .map_err(|e| Error::Refused(format!("{uri}: {e}")))?;
            for record in records {
                if std::mem::take(&mut skip_header) {
                    continue;
                }
                count += 1;
                if record.len() != width {
                    return Err(Error::Refused(format!(
                        "{uri}: Expected {width} columns but got {} (row {count})",
                        record.len()
                    )));
                }
                pending.push(record);
            }
            while pending.len() >= batch {
                let rows: Vec<Vec<String>> = pending.drain(..batch).collect();
                session.insert_rows(&full, &rows).await.map_err(|e| e.within(uri.clone()))?;
            }
            if next.is_none() {
                if !pending.is_empty() {
                    let last = insert_statement(target, columns, quote, pending.len()).map_err(Error::Refused)?;
                    session.insert_rows(&last, &pending).await.map_err(|e| e.within(uri.clone()))?;
                }
                return Ok(count);
            }
        }
    }

    /// The table's column names, from the database.
    async fn table_columns(&self, session: &mut Session, table: &str) -> Result<Vec<String>> {
        let query = match self.loader {
            Loader::Sqlite => format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
            Loader::Postgres | Loader::AuroraPostgres | Loader::MySql | Loader::AuroraMySql => format!(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = '{}' AND table_name = '{table}' \
                 ORDER BY ordinal_position",
                self.schema
            ),
            Loader::Redshift => format!(
                "SELECT column_name FROM svv_columns WHERE table_catalog = CURRENT_DATABASE() AND table_schema = '{}' \
                 AND table_name = '{table}' ORDER BY ordinal_position",
                self.schema
            ),
        };
        let rows = session.rows(&query).await?;
        Ok(rows.into_iter().map(|row| row.into_iter().next().flatten().unwrap_or_default().to_lowercase()).collect())
    }
}
