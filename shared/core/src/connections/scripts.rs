//! Connector scripts: for each `connections` label of an executable job, a private
//! directory `conn.XXXXXX/` (0700) in the run directory holding a `#!/bin/bash` script (0700)
//! that runs the database's client already logged in, passing its arguments through, and its
//! credential files (0600). Every value is single-quoted: nothing from a connection entry is
//! ever interpreted by the shell.

use crate::config::keys;
use serde_json::Value;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{Connections, Database, Engine, Resolved, TlsMode};
use crate::error::{Error, Result};
use crate::model::ConnectionType;

/// `text` as one single-quoted shell word.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn write_private(path: &Path, body: &str, mode: u32) -> Result<()> {
    std::fs::write(path, body).map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("cannot protect {}", path.display()), e))
}

fn private_dir(parent: &Path) -> Result<PathBuf> {
    let dir = parent.join(format!("conn.{}", &uuid::Uuid::new_v4().simple().to_string()[..6]));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    Ok(dir)
}

/// Resolves `conn_id` and writes its connector under `parent`; returns the script's path.
/// `app_name` names role sessions (`aws` connections with `role_arn`).
pub async fn write_connector(
    connections: &Connections,
    conn_id: &str,
    parent: &Path,
    app_name: Option<&str>,
) -> Result<PathBuf> {
    let resolved = connections.resolve(conn_id).await?;
    let dir = private_dir(parent)?;
    let kind = resolved.kind.clone();
    let built = match &kind {
        ConnectionType::Aws => aws_script(connections, &resolved, &dir, app_name).await,
        ConnectionType::Generic => generic_script(&resolved, &dir),
        ConnectionType::Ssh | ConnectionType::Scp | ConnectionType::Sftp | ConnectionType::Git => {
            ssh_script(connections, &resolved, &dir).await
        }
        ConnectionType::Smb => lava_command_script(&resolved, &dir, "smb", "lava-smb"),
        ConnectionType::Email => lava_command_script(&resolved, &dir, "email", "lava-email"),
        ConnectionType::Slack => lava_command_script(&resolved, &dir, "slack", "lava-slack"),
        ConnectionType::Ses => ses_script(connections.config(), &resolved, &dir),
        ConnectionType::Sharepoint => {
            return Err(Error::refused(
                conn_id,
                "SharePoint is not supported by this lava (no SharePoint server can run where it is built and tested)",
            ));
        }
        kind if Engine::of(kind).is_ok() => database_script(&connections.database_from(resolved).await?, &dir),
        kind => return Err(Error::refused(conn_id, format!("Unsupported connection type - {kind}"))),
    };
    // Errors about the connection as a whole already name it.
    built.map_err(|e| match e {
        Error::In { ref context, .. } if context.starts_with("Connection ") => e,
        e => e.within(format!("Connection {conn_id}")),
    })
}

/// The connector for a database connection.
pub fn database_script(db: &Database, dir: &Path) -> Result<PathBuf> {
    match db.engine {
        Engine::Postgres => psql_script(db, dir),
        Engine::MySql => mysql_script(db, dir),
        Engine::Sqlite => sqlite_script(db, dir),
    }
}

fn pgpass_escape(text: &str) -> String {
    text.replace('\\', r"\\").replace(':', r"\:")
}

fn psql_script(db: &Database, dir: &Path) -> Result<PathBuf> {
    let database = db.database.clone().unwrap_or_default();
    let password = db.password.expose();
    let credentials = if password.len() < 99 {
        let pgpass = dir.join(".pgpass");
        let line = [db.host.as_str(), &db.port.to_string(), &database, &db.user, password].map(pgpass_escape).join(":");
        write_private(&pgpass, &format!("{line}\n"), 0o600)?;
        format!("export PGPASSFILE={}", shell_quote(&pgpass.display().to_string()))
    } else {
        // Long passwords (IAM tokens) do not fit a .pgpass line.
        format!("export PGPASSWORD={}", shell_quote(password))
    };
    let script = dir.join("psql");
    let body = format!(
        "#!/bin/bash\n# lava connector: {conn} (psql)\n{credentials}\nexport PGSSLMODE={mode}\n{root}export PGAPPNAME=\"${{PGAPPNAME:-lv-${{LAVA_REALM}}-${{LAVA_JOB_ID}}}}\"\nexec psql -h {host} -p {port} -d {db} -U {user} --no-psqlrc --quiet --set ON_ERROR_STOP=on --pset footer=off \"$@\"\n",
        conn = db.conn_id.replace('\n', " "),
        mode = db.tls.libpq_name(),
        root = match &db.ca_cert {
            Some(ca) if db.tls.required() => format!("export PGSSLROOTCERT={}\n", shell_quote(ca)),
            _ => String::new(),
        },
        host = shell_quote(&db.host),
        port = db.port,
        db = shell_quote(&database),
        user = shell_quote(&db.user),
    );
    write_private(&script, &body, 0o700)?;
    Ok(script)
}

fn option_file_value(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n"))
}

/// Whether the `mysql` client is MariaDB's (asked once).
fn mysql_client_is_mariadb() -> Result<bool> {
    static FLAVOUR: std::sync::OnceLock<Option<bool>> = std::sync::OnceLock::new();
    FLAVOUR
        .get_or_init(|| {
            let out = std::process::Command::new("mysql").arg("--version").output().ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).to_lowercase().contains("mariadb"))
        })
        .ok_or_else(|| Error::Unexpected("No mysql client available".into()))
}

/// The original's refusal of an IAM token over a connection that may not use TLS.
pub const IAM_NEEDS_TLS: &str = "SSL is required with IAM database authentication";

fn mysql_script(db: &Database, dir: &Path) -> Result<PathBuf> {
    let mariadb = mysql_client_is_mariadb()?;
    let iam = db.password_is_iam_token();
    if iam && !db.tls.required() {
        return Err(Error::Refused(IAM_NEEDS_TLS.into()));
    }
    let conf = dir.join(".mysql.conf");
    write_private(
        &conf,
        &format!(
            "[client]\nuser={}\npassword={}\n",
            option_file_value(&db.user),
            option_file_value(db.password.expose())
        ),
        0o600,
    )?;
    let mut options = vec![
        format!("--defaults-file={}", shell_quote(&conf.display().to_string())),
        "--batch".into(),
        format!("--host={}", shell_quote(&db.host)),
        format!("--port={}", db.port),
        "--connect-timeout=10".into(),
    ];
    if let Some(database) = &db.database {
        options.push(format!("--database={}", shell_quote(database)));
    }
    match (db.tls, mariadb) {
        (TlsMode::Prefer, _) => {}
        (TlsMode::Disable, true) => options.push("--skip-ssl".into()),
        (TlsMode::Disable, false) => options.push("--ssl-mode=DISABLED".into()),
        (TlsMode::Require, true) => options.push("--ssl".into()),
        (TlsMode::VerifyCa | TlsMode::VerifyFull, true) => {
            options.extend(["--ssl".to_string(), "--ssl-verify-server-cert".to_string()])
        }
        (TlsMode::Require, false) => options.push("--ssl-mode=REQUIRED".into()),
        (TlsMode::VerifyCa, false) => options.push("--ssl-mode=VERIFY_CA".into()),
        (TlsMode::VerifyFull, false) => options.push("--ssl-mode=VERIFY_IDENTITY".into()),
    }
    if let Some(ca) = &db.ca_cert {
        options.push(format!("--ssl-ca={}", shell_quote(ca)));
    }
    if iam && !mariadb {
        options.push("--enable-cleartext-plugin".into());
    }
    let script = dir.join("mysql");
    write_private(
        &script,
        &format!(
            "#!/bin/bash\n# lava connector: {} (mysql)\nexec mysql {} \"$@\"\n",
            db.conn_id.replace('\n', " "),
            options.join(" ")
        ),
        0o700,
    )?;
    Ok(script)
}

fn sqlite_script(db: &Database, dir: &Path) -> Result<PathBuf> {
    let script = dir.join("sqlite3");
    if db.host.starts_with("s3://") {
        // Copied down with the AWS CLI, run, and copied back when its size or modification
        // time changed; any failure exits 3.
        let body = format!(
            "#!/bin/bash\n# lava connector: {} (sqlite3, database in S3)\nuri={}\n\
             work=$(mktemp -d) || exit 3\ntrap 'rm -rf \"$work\"' EXIT\ndb=\"$work/database\"\n\
             aws s3 cp --only-show-errors \"$uri\" \"$db\" || exit 3\n\
             before=$(stat -c '%s %y' \"$db\") || exit 3\n\
             sqlite3 -bail -batch \"$@\" \"$db\"\nstatus=$?\n\
             after=$(stat -c '%s %y' \"$db\") || exit 3\n\
             if [ \"$after\" != \"$before\" ]; then aws s3 cp --only-show-errors \"$db\" \"$uri\" || exit 3; fi\n\
             [ \"$status\" -eq 0 ] || exit 3\n",
            db.conn_id.replace('\n', " "),
            shell_quote(&db.host)
        );
        write_private(&script, &body, 0o700)?;
        return Ok(script);
    }
    let body = format!(
        "#!/bin/bash\n# lava connector: {} (sqlite3)\nsqlite3 -bail -batch \"$@\" {} || exit 3\n",
        db.conn_id.replace('\n', " "),
        shell_quote(&db.host)
    );
    write_private(&script, &body, 0o700)?;
    Ok(script)
}

/// Python's `str()` of a JSON value (as the original wrote generic attribute values).
fn python_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

fn generic_script(resolved: &Resolved, dir: &Path) -> Result<PathBuf> {
    let values = dir.join("values");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&values)
        .map_err(|e| Error::io(format!("cannot create {}", values.display()), e))?;
    if let Some(Value::Object(attributes)) = resolved.fields.get("attributes") {
        for (name, value) in attributes {
            write_private(&values.join(name), &python_text(value), 0o600)?;
        }
    }
    let script = dir.join("get-attr-value");
    let body = format!(
        "#!/bin/bash\n# lava connector: {conn} (generic)\nif [ $# -ne 1 ]; then\n    echo \"Usage: $(basename \"$0\") attribute-name\" >&2\n    exit 1\nfi\ncase \"$1\" in\n    */* | .* | '') echo \"$1: No such parameter\" >&2; exit 1 ;;\nesac\nif [ ! -f {values}/\"$1\" ]; then\n    echo \"$1: No such parameter\" >&2\n    exit 1\nfi\ncat {values}/\"$1\"\n",
        conn = resolved.conn_id.replace('\n', " "),
        values = shell_quote(&values.display().to_string()),
    );
    write_private(&script, &body, 0o700)?;
    Ok(script)
}

/// The `lava` command line program connector scripts run: `LAVA_CLI`, else `lava` beside this
/// program (the worker image and a build's target directory hold both), else `lava` on `PATH`.
pub fn lava_program() -> String {
    match std::env::var("LAVA_CLI") {
        Ok(program) if !program.is_empty() => program,
        _ => beside_this_program("lava"),
    }
}

/// The program `name` beside the running one (the worker image and a build's target directory
/// hold lava's programs together), else `name` (found on `PATH`).
pub fn beside_this_program(name: &str) -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|beside| beside.is_file())
        .map(|beside| beside.display().to_string())
        .unwrap_or_else(|| name.into())
}

/// A connector that is a `lava` sub-command (the original's `lava-smb`, `lava-email`,
/// `lava-slack`): `lava <command> --conn-id <id> --realm "$LAVA_REALM" "$@"`, with the job's
/// `LAVA_CLI` when it sets one, else [`lava_program`] as the worker found it.
fn lava_command_script(resolved: &Resolved, dir: &Path, command: &str, name: &str) -> Result<PathBuf> {
    let script = dir.join(name);
    let body = format!(
        "#!/bin/bash\n# lava connector: {conn} ({command})\nlava=${{LAVA_CLI:-{lava}}}\nexec \"$lava\" {command} --conn-id {id} --realm \"$LAVA_REALM\" \"$@\"\n",
        conn = resolved.conn_id.replace('\n', " "),
        lava = shell_quote(&lava_program()),
        id = shell_quote(&resolved.conn_id),
    );
    write_private(&script, &body, 0o700)?;
    Ok(script)
}

/// The legacy `ses` connector (the original deprecated it for `email`): a script taking the
/// AWS CLI's `ses send-email` options (`--to`, `--cc`, `--bcc`, `--subject`, and `--text` or
/// `--html`, else the message on standard input, HTML when its first line starts `<html>`) and
/// sending from the connection's `from` in its `region` (config `SES_FROM`, `SES_REGION`),
/// with its `return_path` and `reply_to`, under the job's own AWS credentials. The
/// connection's values are quoted into the script, never interpolated by the shell.
fn ses_script(config: &crate::config::Config, resolved: &Resolved, dir: &Path) -> Result<PathBuf> {
    use crate::config::keys;
    tracing::warn!(conn_id = %resolved.conn_id, event_type = "connection", "Deprecation warning: The ses connector will be removed in a future release");
    let text = |name: &str| resolved.fields.get(name).and_then(Value::as_str).map(str::to_string);
    let refuse = |name: &str, v: Option<&Value>| {
        Error::refused(
            &resolved.conn_id,
            format!("Missing or malformed \"{name}\" for SES: {}", v.map_or("None".into(), |v| v.to_string())),
        )
    };
    let region = match resolved.fields.get("region") {
        None => config.get(keys::SES_REGION),
        Some(v) => v.as_str().filter(|r| !r.is_empty()).ok_or_else(|| refuse("region", Some(v)))?.to_string(),
    };
    let sender = match resolved.fields.get("from") {
        None => config.get(keys::SES_FROM).ok_or_else(|| refuse("from", None))?,
        Some(v) => v.as_str().filter(|f| !f.is_empty()).ok_or_else(|| refuse("from", Some(v)))?.to_string(),
    };
    let reply_to: Vec<String> = match resolved.fields.get("reply_to") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(shell_quote).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(shell_quote).collect(),
        _ => Vec::new(),
    };
    let body = format!(
        r#"#!/bin/bash
# lava connector: {conn} (ses, deprecated: use an email connection)
region={region}
sender={sender}
return_path={return_path}
reply_to=({reply_to})
stdin=yes
for i
do
    case "$i" in
        --subject | --to | --cc | --bcc) ;;
        --html | --text) stdin=no ;;
        --*) echo "Bad option: $i" >&2; exit 1 ;;
    esac
done
source=()
if [ "$stdin" = yes ]
then
    msg=$(mktemp) || exit 2
    trap 'rm -f "$msg"' EXIT
    cat > "$msg"
    source=(--text "file://$msg")
    head -1 "$msg" | grep -qi '^<html>' && source=(--html "file://$msg")
fi
extra=()
[ -n "$return_path" ] && extra+=(--return-path "$return_path")
[ ${{#reply_to[@]}} -gt 0 ] && extra+=(--reply-to-addresses "${{reply_to[@]}}")
aws --region "$region" ses send-email --from "$sender" "${{extra[@]}}" "$@" "${{source[@]}}"
"#,
        conn = resolved.conn_id.replace('\n', " "),
        region = shell_quote(&region),
        sender = shell_quote(&sender),
        return_path = shell_quote(&text("return_path").unwrap_or_default()),
        reply_to = reply_to.join(" "),
    );
    let script = dir.join("ses");
    write_private(&script, &body, 0o700)?;
    Ok(script)
}

/// A role session name from an application name: `[A-Za-z0-9_=,.@-]`, others as `.`, at most
/// 64 characters; `lava` when there is none.
pub fn session_name(app_name: Option<&str>) -> String {
    let cleaned: String = app_name
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "_=,.@-".contains(c) { c } else { '.' })
        .collect::<String>()
        .trim_matches('.')
        .chars()
        .take(64)
        .collect();
    if cleaned.len() < 2 { "lava".into() } else { cleaned }
}

/// The access key, secret key and session token of an `aws` connection.
/// A connection's `tags` (a map) as role session tags.
pub(crate) fn tags(resolved: &Resolved) -> Vec<(String, String)> {
    match resolved.fields.get("tags") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) async fn aws_credentials(
    connections: &Connections,
    resolved: &Resolved,
    app_name: Option<&str>,
) -> Result<(String, String, Option<String>)> {
    if let Some(Value::String(name)) = resolved.fields.get("access_keys") {
        let keys = connections.parameter(name).await?;
        let (id, secret) = keys
            .expose()
            .split_once(',')
            .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
            .ok_or_else(|| Error::refused(name, "Must be in format \"access_key_id,access_secret_key\""))?;
        return Ok((id, secret, None));
    }
    let Some(role_arn) = resolved.text("role_arn") else {
        return Err(Error::Refused("One of access_keys or role_arn is required".into()));
    };
    let duration = match resolved.fields.get("duration") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(d)) => crate::model::values::parse_duration(d).map_err(Error::Refused)?,
        _ => connections.config().get(keys::AWS_CONN_DURATION),
    };
    let external_id = match resolved.text("external_id") {
        Some(name) => Some(connections.parameter(&name).await?.expose().to_string()),
        None => None,
    };
    let policy_arns = match resolved.fields.get("policy_arns") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    let tags = tags(resolved);
    let request = crate::ports::AssumeRole {
        role_arn,
        session_name: session_name(app_name),
        duration_seconds: duration as i32,
        external_id,
        policy_arns,
        policy: resolved
            .fields
            .get("policy")
            .filter(|p| !p.is_null())
            .map(|p| if let Value::String(s) = p { s.clone() } else { p.to_string() }),
        tags,
    };
    let credentials = connections.assume_role(&request).await?;
    Ok((credentials.access_key_id, credentials.secret_access_key, Some(credentials.session_token)))
}

async fn aws_script(
    connections: &Connections,
    resolved: &Resolved,
    dir: &Path,
    app_name: Option<&str>,
) -> Result<PathBuf> {
    let (id, secret, token) = aws_credentials(connections, resolved, app_name).await?;
    let region = resolved.text("region").unwrap_or_else(super::default_region);
    let conf = dir.join(".aws_config");
    let mut body = format!(
        "[profile lava]\ns3 =\n    signature_version = s3v4\nregion = {region}\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n"
    );
    if let Some(token) = token {
        body.push_str(&format!("aws_session_token = {token}\n"));
    }
    write_private(&conf, &body, 0o600)?;
    let script = dir.join("aws");
    let text = format!(
        "#!/bin/bash\n# lava connector: {} (aws)\nexport AWS_CONFIG_FILE={}\nunset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN\nexec aws --profile lava \"$@\"\n",
        resolved.conn_id.replace('\n', " "),
        shell_quote(&conf.display().to_string())
    );
    write_private(&script, &text, 0o700)?;
    Ok(script)
}

/// The `-o` options of an ssh-family connection (`ssh_options`: a list of strings).
fn ssh_options(resolved: &Resolved) -> Result<Vec<String>> {
    match resolved.fields.get("ssh_options") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::Refused("ssh_options must be a list of strings".into()))
            })
            .collect(),
        Some(_) => Err(Error::Refused("ssh_options must be a list of strings".into())),
    }
}

/// The private key of an ssh-family connection as a key file's text: the SSM value of
/// `ssh_key`, commas read as line breaks (so a key can be stored on one line).
pub(crate) async fn ssh_key_text(connections: &Connections, resolved: &Resolved) -> Result<String> {
    let name = resolved.text("ssh_key").ok_or_else(|| {
        Error::Refused("ssh_key is required: the name of an SSM parameter holding the private key".into())
    })?;
    let key = connections.parameter(&name).await?;
    let mut text = key.expose().replace(',', "\n");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// `ssh`, `scp`, `sftp`: the client with each `ssh_options` entry as `-o` and the key file;
/// `git`: git with the same ssh command, no system configuration and no prompts.
async fn ssh_script(connections: &Connections, resolved: &Resolved, dir: &Path) -> Result<PathBuf> {
    let options = ssh_options(resolved)?;
    let key = dir.join("ssh.pem");
    write_private(&key, &ssh_key_text(connections, resolved).await?, 0o600)?;
    let mut words: Vec<String> = Vec::new();
    for option in &options {
        words.push("-o".into());
        words.push(shell_quote(option));
    }
    words.push("-i".into());
    words.push(shell_quote(&key.display().to_string()));
    let kind = resolved.kind.name();
    let conn = resolved.conn_id.replace('\n', " ");
    let (name, body) = if resolved.kind == ConnectionType::Git {
        // GIT_SSH_COMMAND is read by a shell: the already-quoted words go in as they are.
        let command = format!("ssh {}", words.join(" "));
        (
            "git",
            format!(
                "#!/bin/bash\n# lava connector: {conn} (git)\nexport GIT_CONFIG_NOSYSTEM=1\nexport GIT_TERMINAL_PROMPT=0\nexport GIT_SSH_COMMAND={}\nexec git \"$@\"\n",
                shell_quote(&command)
            ),
        )
    } else {
        (kind, format!("#!/bin/bash\n# lava connector: {conn} ({kind})\nexec {kind} {} \"$@\"\n", words.join(" ")))
    };
    let script = dir.join(name);
    write_private(&script, &body, 0o700)?;
    Ok(script)
}
