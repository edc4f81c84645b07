"""The Python API calls a job makes, run the same way under the original's lava package and
ours: each call's result (or its error's type and text) is printed as one JSON document."""

import datetime
import decimal
import json
import os
import sys

import boto3

import lava
from lava.connection import (
    get_aws_connection,
    get_generic_connection,
    get_email_connection,
    get_pysql_connection,
    install_ssh_key,
    get_docker_connection,
    cli_connect_generic,
    get_connection_spec,
)
from lava.exceptions import LavaError
from lava.lavacore import scan_realms
from lava.lib.dag import load_dag_from_lava_conn
from lava.lib.state import LavaStateItem

realm = sys.argv[1]
results = {}


def typed(value):
    """A value with the Python types the API gave it kept visible."""
    if isinstance(value, dict):
        return {str(k): typed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [typed(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    return {type(value).__name__: str(value)}


def attempt(name, call):
    try:
        results[name] = {"ok": typed(call())}
    except Exception as e:  # the error's type and words are what a job sees
        results[name] = {"error": type(e).__name__, "text": str(e)}


def query(conn_id, statement):
    conn = get_pysql_connection(conn_id, realm)
    try:
        cursor = conn.cursor()
        cursor.execute(statement)
        return [list(row) for row in cursor.fetchall()]
    finally:
        conn.close()


dynamo = boto3.resource("dynamodb")
jobs = dynamo.Table(f"lava.{realm}.jobs")
realms = dynamo.Table("lava.realms")

attempt("dispatch", lambda: lava.dispatch(realm, "d/target", params={"n": 1, "f": 2.5, "l": [1, "a"], "m": {"x": None}},
                                          globals_={"g": True}))
attempt("dispatch_delayed", lambda: lava.dispatch(realm, "d/target", delay=1))
attempt("dispatch_no_job", lambda: lava.dispatch(realm, "d/none"))
attempt("job_spec", lambda: lava.get_job_spec("d/target", jobs))
attempt("job_spec_no_job", lambda: lava.get_job_spec("d/none", jobs))
attempt("realm_info", lambda: sorted(lava.get_realm_info(realm, realms)))
attempt("realm_info_no_realm", lambda: lava.get_realm_info("nosuchrealm", realms))
attempt("scan_jobs", lambda: lava.scan_jobs(realm, ["worker", "type", "max_tries", "parameters"]))
attempt("pg_rows", lambda: query("pg", "select 1 as n, 'a' as t, null as z, 2.5::numeric as d, true as b"))
attempt("pg_error", lambda: query("pg", "select * from no_such_table_here"))
attempt("my_rows", lambda: query("my", "select 1 as n, 'a' as t, null as z"))
attempt("lite_rows", lambda: query("lite", "select 1 as n, 'a' as t, null as z, 2.5 as f"))


def dag_table():
    """A dependency table in PostgreSQL, filled afresh (both sides use the same one)."""
    conn = get_pysql_connection("pg", realm)
    try:
        cursor = conn.cursor()
        cursor.execute("CREATE TABLE IF NOT EXISTS lava_lib_dag (job_group varchar(50), job varchar(50) NOT NULL, depends_on varchar(50))")
        cursor.execute("DELETE FROM lava_lib_dag")
        cursor.execute("INSERT INTO lava_lib_dag VALUES ('g', 'b', 'a'), ('g', 'c', 'b'), ('g', 'c', 'a'), ('h', 'x', 'y'), ('g', 'a', 'a')")
        conn.commit()
    finally:
        conn.close()


dag_table()
attempt("load_dag_from_lava_conn", lambda: {job: sorted(waits) for job, waits in sorted(load_dag_from_lava_conn("pg", realm, table="lava_lib_dag", group="g").items())})
attempt("load_dag_from_lava_conn no table", lambda: load_dag_from_lava_conn("pg", realm, table="no_such_dag_table"))
attempt("no_connection", lambda: query("nosuch", "select 1"))
attempt("aws_keys", lambda: get_aws_connection("keys", realm))
attempt("generic", lambda: get_generic_connection("gen", realm))


def state_round_trip():
    LavaStateItem.new("json", "py-state", realm, {"n": 1, "l": ["a", None]}, publisher="me").put()
    item = LavaStateItem.get("py-state", realm)
    return {"type": item.state_type, "value": item.value, "publisher": item.publisher}


attempt("state", state_round_trip)
attempt("state_missing", lambda: LavaStateItem.get("py-none", realm).value)
attempt("state_bad_type", lambda: LavaStateItem.new("nosuch", "py-x", realm, 1))


def email():
    get_email_connection("mail", realm).send(
        subject="API mail", message="Hello from the API\n", to="to@example.com", cc=["cc@example.com"]
    )
    return "sent"


attempt("email", email)
# Only this realm's entry: other tests' realms share the emulator's realms table.
attempt("scan_realms", lambda: {k: v for k, v in scan_realms(["s3_temp", "nothing"]).items() if k == realm})
attempt("scan_realms_names", lambda: realm in lava.scan_realms())


def ssh_key():
    path = "/tmp/lava-api-key-" + realm
    install_ssh_key("/lava/%s/ssh-key" % realm, path)
    mode = oct(os.stat(path).st_mode & 0o777)
    with open(path) as f:
        text = f.read()
    os.remove(path)
    return [text, mode]


attempt("install_ssh_key", ssh_key)
attempt("install_ssh_key_missing", lambda: install_ssh_key("/lava/%s/no-such-key" % realm, "/tmp/never"))
attempt("lava_error_class", lambda: LavaError.__name__)


def docker_ping(conn_id):
    client = get_docker_connection(conn_id, realm)
    try:
        return client.ping()
    finally:
        client.close()


def generic_cli():
    import subprocess
    import tempfile

    script = cli_connect_generic(get_connection_spec("gen", realm), tempfile.mkdtemp())
    return [subprocess.run([script, name], capture_output=True, text=True).stdout for name in ("a", "n", "b")]


attempt("cli_connect_generic", generic_cli)
attempt("docker_ping", lambda: docker_ping("dock"))
attempt("docker_server_ping", lambda: docker_ping("dock_server"))
attempt("docker_not_docker", lambda: docker_ping("gen"))
attempt("version", lambda: lava.__version__)
print(json.dumps(results, indent=1, sort_keys=True))
