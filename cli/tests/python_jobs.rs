//! The seed's Python examples, run unchanged (their elided SQL filled in) as `exe` jobs: the
//! `lava` Python package gets each connection's details from the real `lava` binary
//! (`lava connection resolve`), with the password from moto's SSM, and opens it with pg8000,
//! PyMySQL and SQLAlchemy + pandas against the test databases.
//! Also: job code using each of `lava.lib`'s modules in a worker run.
//! (In the cli package because Cargo gives a package's own binary paths to its tests.)

use lava_tests::{TestRealm, unique, workspace_root};
use serde_json::{Value, json};
use shared::ports::{BlobStore, Encryption};

const PYSQL: &str = r#"#!/usr/bin/env python3
import os
from lava.connection import get_pysql_connection

# As we are using the lava connection manager, we just need the connection ID
# this time - not the connector script. So use LAVA_CONNID_DB not LAVA_CONN_DB.

conn_id = os.environ['LAVA_CONNID_DB']
realm = os.environ['LAVA_REALM']

# Get a standard DBAPI 2.0 connection
conn = get_pysql_connection(conn_id, realm)

# Knock yourself out with SQL wizardry...
cursor = conn.cursor()
cursor.execute('select 6 * 7')
print('answer', cursor.fetchone()[0])
conn.close()
"#;

const TRANSACTION: &str = r#"#!/usr/bin/env python3
import os
from lava.connection import get_pysql_connection
from lava.lib.db import begin_transaction

conn = get_pysql_connection(os.environ['LAVA_CONNID_DB'], os.environ['LAVA_REALM'])
cursor = conn.cursor()
table = os.environ['TABLE']

try:
    begin_transaction(conn, cursor)
    # Do some SQL stuff
    cursor.execute('create table %s (id int, name varchar(20))' % table)
    cursor.execute("insert into %s values (1, 'one'), (2, 'two')" % table)
except Exception:
    conn.rollback()
else:
    conn.commit()
finally:
    conn.close()
"#;

const SQLALCHEMY: &str = r#"#!/usr/bin/env python3
import os
import pandas as pd
from lava.connection import get_sqlalchemy_engine

conn_id = os.environ['LAVA_CONNID_DB']
realm = os.environ['LAVA_REALM']

engine = get_sqlalchemy_engine(conn_id, realm)
# engine is a standard SQLAlchemy engine.

with engine.connect() as conn:
    for row in conn.execute('select id, name from %s order by id' % os.environ['TABLE']):
        print(row)

# Or use with pandas
table_df = pd.read_sql_table(os.environ['TABLE'], con=engine)
print(len(table_df), list(table_df['name']))
"#;

/// Job code using each of `lava.lib`'s modules, as jobs written for the original import them.
const LIB_TOUR: &str = r#"#!/usr/bin/env python3
import json, os, signal, tempfile
from lava.lib import argparse as largparse, aws, dag, datetime as ldt, db, decorators, fileops, misc
from lava.lib import os as los, process, state
from lava.lib import daemon, dbnone, logging as llog, ssl as lssl
from lava.lib import email as lemail, slack as lslack, smb as lsmb
from lava.version import __version__

work = tempfile.mkdtemp()
matrix = os.path.join(work, 'deps.csv')
with open(matrix, 'w') as f:
    f.write('job,a,b\na,,\nb,x,\n')
print(json.dumps({
    'aws': aws.s3_split('s3://bucket/a/key'),
    'dag': {k: sorted(v) for k, v in dag.load_dag_from_csv(matrix).items()},
    'datetime': ldt.duration_to_seconds('1.5h'),
    'misc': [misc.size_to_bytes('2K'), misc.str2bool('yes')],
    'os': los.signum('TERM') == signal.SIGTERM,
    'fileops': fileops.sanitise_filename('a b/c'),
    'process': process.runpg(['echo', 'child'], capture_output=True, text=True).stdout,
    'logging': llog.get_log_level('debug'),
    'ssl': lssl.resolve_ssl_mode(ssl=True),
    'dbnone': dbnone.dbapi_stub('nodb').__name__,
    'daemon': daemon.lock_file(os.path.join(work, 'lock')),
    'others': all(callable(x) for x in (largparse.StoreNameValuePair, db.begin_transaction,
                                         decorators.static_vars, state.LavaStateItem, lemail.Emailer,
                                         lslack.Slack, lsmb.smb_mkdirs, misc.TrackedMapping)),
    'version': bool(__version__),
}, sort_keys=True))
"#;

/// Runs one exe job with a worker in this process; returns its final status and stdout.
async fn run(r: &TestRealm, job_id: &str, script: &str, conn_id: &str, table: &str) -> (String, String) {
    let bucket = r.names.local_bucket();
    let key = format!("py/{}.py", unique("s"));
    r.blobs
        .put_object(&bucket, &format!("payloads/{key}"), script.as_bytes().to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    let venv = workspace_root().join(".venv/bin");
    let env = json!({
        "PATH": format!("{}:/usr/bin:/bin", venv.display()),
        "LAVA_CLI": env!("CARGO_BIN_EXE_lava"),
        "AWS_ENDPOINT_URL": lava_tests::emulator().endpoint_url,
        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "TABLE": table,
    });
    let spec = json!({"job_id": job_id, "type": "exe", "worker": "core", "enabled": true, "payload": key,
        "parameters": {"connections": {"db": conn_id}, "env": env, "jinja": false}});
    r.put_job(spec).await;
    let run_id = r.dispatch(job_id).await;
    let options = lava_tests::worker_options(&r.names.realm, 1, vec![]);
    let worker = shared::worker::build(options, r.ports.clone()).await.unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    let item = r.events(job_id, &run_id).await;
    let last = item["log"].as_array().and_then(|l| l.last()).cloned().unwrap_or(Value::Null);
    let info = &last["info"];
    let output = if info["output"].is_array() { &info["output"] } else { &info["error_data"]["output"] };
    let mut stdout = String::new();
    if output[0]["stdout"].is_string() {
        stdout = r.object_text(&output[0]["stdout"]).await;
    }
    if output[0]["stderr"].is_string() {
        eprintln!("{job_id} stderr: {}", r.object_text(&output[0]["stderr"]).await);
    }
    (last["status"].as_str().unwrap_or_default().to_string(), stdout)
}

#[tokio::test]
async fn the_seed_python_examples_run_unchanged_against_postgres_and_mariadb() {
    let r = TestRealm::up("py").await;
    r.put_sql_connections().await;
    for conn_id in ["pg", "my"] {
        let table = unique("py_");
        assert_eq!(
            run(&r, &format!("py/{conn_id}/pysql"), PYSQL, conn_id, &table).await,
            ("complete".into(), "answer 42\n".into())
        );
        assert_eq!(run(&r, &format!("py/{conn_id}/tx"), TRANSACTION, conn_id, &table).await.0, "complete");
        let (status, stdout) = run(&r, &format!("py/{conn_id}/sa"), SQLALCHEMY, conn_id, &table).await;
        assert_eq!(
            (status.as_str(), stdout.as_str()),
            ("complete", "(1, 'one')\n(2, 'two')\n2 ['one', 'two']\n"),
            "{conn_id}"
        );
    }
}

const WHO: &str = r#"#!/usr/bin/env python3
import os
from lava.connection import get_pysql_connection

conn = get_pysql_connection(os.environ['LAVA_CONNID_DB'], os.environ['LAVA_REALM'])
cursor = conn.cursor()
cursor.execute('select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()')
print(*cursor.fetchone())
conn.close()
"#;

const PSQL_WHO: &str = "#!/bin/bash\nset -e\n$LAVA_CONN_DB -tA -c 'select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()'\n";

/// TLS and IAM credentials reach Python jobs and the psql connector script as they reach SQL
/// jobs: against a PostgreSQL server of the test's own serving a test CA's certificate,
/// `verify-full` connects with the right CA file and is refused with another CA's, and a
/// Redshift connection with no password connects as the user moto's GetClusterCredentials
/// gives, over verified TLS.
/// `lava.lib`'s modules work in a job the worker runs (each is compared with the original's in
/// `tests/differential/python_api.rs`; here they are imported and used by job code).
#[tokio::test]
async fn job_code_uses_lava_lib_in_a_worker_run() {
    let r = TestRealm::up("pylib").await;
    r.put_sql_connections().await;
    let (status, stdout) = run(&r, "py/lib", LIB_TOUR, "pg", "unused").await;
    assert_eq!(status, "complete", "{stdout}");
    let printed: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(
        printed,
        json!({"aws": ["bucket", "a/key"], "dag": {"a": [], "b": ["a"]}, "datetime": 5400.0, "misc": [2000, true],
            "os": true, "fileops": "a-b.c", "process": "child\n", "logging": 10, "ssl": "require", "dbnone": "nodb",
            "daemon": true, "others": true, "version": true})
    );
}

#[tokio::test]
async fn tls_modes_and_iam_credentials_reach_python_jobs_and_the_psql_script() {
    let r = TestRealm::up("pytls").await;
    let (_server, port, dir) = lava_tests::pg_cluster::tls_server();
    let mut session = lava_tests::pg_cluster::session(port).await;
    session.first_row("CREATE ROLE \"IAM:etl\" LOGIN").await.unwrap();
    session.close().await;
    let cluster = unique("pytls").replace('_', "-");
    r.redshift_cluster(&cluster).await;
    let parameter = format!("/lava/{}/tls-password", r.names.realm);
    shared::aws::provision::put_parameter(&r.clients, &parameter, "unused", true).await.unwrap();
    let ca = |name: &str| dir.join(name).display().to_string();
    for entry in [
        json!({"conn_id": "good", "type": "postgres", "enabled": true, "host": "localhost", "port": port, "user": "lava",
            "database": "postgres", "password": parameter, "ssl_mode": "verify-full", "ssl_ca_file": ca("ca.crt")}),
        json!({"conn_id": "wrong", "type": "postgres", "enabled": true, "host": "localhost", "port": port, "user": "lava",
            "database": "postgres", "password": parameter, "ssl_mode": "verify-full", "ssl_ca_file": ca("other-ca.crt")}),
        json!({"conn_id": "rs", "type": "redshift", "enabled": true, "host": "localhost", "port": port, "user": "etl",
            "database": "postgres", "cluster_id": cluster, "ssl_mode": "verify-full", "ssl_ca_file": ca("ca.crt")}),
    ] {
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    let table = "unused";
    assert_eq!(run(&r, "tls/py/good", PYSQL, "good", table).await, ("complete".into(), "answer 42\n".into()));
    assert_eq!(run(&r, "tls/py/wrong", PYSQL, "wrong", table).await.0, "failed");
    assert_eq!(run(&r, "tls/py/iam", WHO, "rs", table).await, ("complete".into(), "IAM:etl True\n".into()));
    assert_eq!(run(&r, "tls/psql/good", PSQL_WHO, "good", table).await, ("complete".into(), "lava|t\n".into()));
    assert_eq!(run(&r, "tls/psql/wrong", PSQL_WHO, "wrong", table).await.0, "failed");
    assert_eq!(run(&r, "tls/psql/iam", PSQL_WHO, "rs", table).await, ("complete".into(), "IAM:etl|t\n".into()));
}
