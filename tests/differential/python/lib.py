"""The helpers of lava.lib a job's code calls (aws, dag, datetime, os, decorators, fileops, misc, process,
argparse, logging, ssl, dbnone, daemon, email, slack, smb), run the same way under the original's lava package and ours: each call's result (or
its error's type and text) printed as one JSON document. Files go under the folder given as the first
argument; AWS resources (on the emulator the environment names) are named after the second. The SMTP
server and Slack webhook the email and slack helpers send to are started here, on loopback."""

import contextlib
import datetime
import decimal
import io
import json
import os
import sys
import warnings
import zipfile
from collections import OrderedDict

import boto3

from lava.lib import aws, datetime as ldt, decorators, fileops, misc, os as los

warnings.simplefilter('ignore')
d = sys.argv[1]
name = sys.argv[2]
results = {}


def typed(v):
    """A value with the Python types the helper gave it kept visible."""
    if isinstance(v, dict):
        return {str(k): typed(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [typed(x) for x in v]
    if isinstance(v, set):
        return {"set": sorted(typed(x) for x in v)}
    if isinstance(v, (bool, str)) or v is None:
        return v
    return {type(v).__name__: str(v)}


def attempt(name, call):
    try:
        results[name] = {"ok": typed(call())}
    except Exception as e:  # the error's type and words are what a job sees
        results[name] = {"error": type(e).__name__, "text": str(e)}


# lava.lib.datetime, os, fileops and decorators
for dur in ["5m", " 1.5h ", "2w", "-3d", "1e2s", ".5", "10", "5 m", "5M", "abc", "", 7, 2.5]:
    attempt(f"duration_to_seconds {dur!r}", lambda dur=dur: ldt.duration_to_seconds(dur))
attempt("duration_to_seconds list", lambda: ldt.duration_to_seconds([1]))
attempt("timedelta_to_str", lambda: ldt.timedelta_to_str(datetime.timedelta(minutes=1, microseconds=5)))
attempt("timedelta_to_str bad", lambda: ldt.timedelta_to_str(5))
attempt("timedelta_to_hms", lambda: ldt.timedelta_to_hms(datetime.timedelta(hours=25, seconds=61.6)))
attempt("time_to_str", lambda: ldt.time_to_str(datetime.time(1, 2, 3, 4)))
attempt("time_to_str bad", lambda: ldt.time_to_str("x"))
attempt("parse_dt zoned", lambda: ldt.parse_dt("2026-01-02T03:04:05+10:00").isoformat())
attempt("parse_dt naive", lambda: ldt.parse_dt("2026-01-02 03:04").isoformat())
attempt("parse_dt bad", lambda: ldt.parse_dt("not a date"))
attempt("DT_MIN", lambda: (repr(ldt.DT_MIN), repr(ldt.DT_MAX)))
attempt("timestamp shape", lambda: [len(x) for x in ldt.timestamp()])
attempt("now_tz", lambda: (ldt.now_tz().microsecond, ldt.now_tz().tzinfo is not None))
for s in ["INT", "sigterm", "SIGHUP", 9, 999, "NOPE", "kill"]:
    attempt(f"signum {s!r}", lambda s=s: los.signum(s))
    attempt(f"signame {s!r}", lambda s=s: los.signame(s))
src = os.path.join(d, "in.txt")
with open(src, "w") as f:
    f.write("".join(f"line {i}\n" for i in range(40)))
attempt("fsplit", lambda: [(os.path.basename(n), open(n).read().count("\n")) for n in fileops.fsplit(src, os.path.join(d, "part."), 50)])
attempt("fsplit suffixlen", lambda: [os.path.basename(n) for n in fileops.fsplit(src, os.path.join(d, "p"), 200, suffixlen=3)])
attempt("fsplit too long", lambda: list(fileops.fsplit(src, os.path.join(d, "q"), 5)))
attempt("head", lambda: fileops.read_head_or_tail(src, 12))
attempt("tail", lambda: fileops.read_head_or_tail(src, -12))
attempt("tail all", lambda: fileops.read_head_or_tail(src, -100000)[:10])
attempt("zero", lambda: fileops.read_head_or_tail(src, 0))
for v in ["Héllo Wörld/..//x", "  --a  b--  ", "ok.name=1+2", "中文 name", 42]:
    attempt(f"sanitise {v!r}", lambda v=v: fileops.sanitise_filename(v))
attempt("delete_files", lambda: fileops.delete_files(os.path.join(d, "part.1"), "", os.path.join(d, "nope")))
attempt("delete_files dir", lambda: fileops.delete_files(d))
attempt("makedir file", lambda: fileops.makedir(src))
attempt("makedir new", lambda: (fileops.makedir(os.path.join(d, "a/b")), os.path.isdir(os.path.join(d, "a/b")))[1])
attempt("lock", lambda: fileops.lock_file(os.path.join(d, "lock")))
attempt("unpack unknown", lambda: fileops.unpack("x.rar", d))
z = os.path.join(d, "pkg.zip")
with zipfile.ZipFile(z, "w") as zf:
    zf.writestr("inner/a.txt", "zipped")
attempt("unpack zip", lambda: (fileops.unpack(z, os.path.join(d, "a")), open(os.path.join(d, "a/inner/a.txt")).read())[1])
attempt("unpack bad", lambda: fileops.unpack(src.replace("in.txt", "bad.tar"), d))
attempt("materialise", lambda: (lambda p: (open(p).read()[:6], oct(os.stat(p).st_mode & 0o777)))(fileops.materialise_file(src, suffix=".x")))
@decorators.static_vars(count=3, seen={})
def counted(): return counted.count
attempt("static_vars", counted)
@decorators.debug_func
def add(a, b=2): return a + b
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    add(1, b=5)
attempt("debug_func", lambda: [l.strip() for l in buf.getvalue().splitlines()])
@decorators.deprecated("Use other")
def old(): return 1
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter('always')
    old()
attempt("deprecated", lambda: ([str(x.message) for x in w], old.__deprecated__, old.__name__))

# lava.lib.misc
for s in ["10", 10, 10.7, "5KB", "5K", " 1.5 MiB ", "2GB", "-1e3B", "5", "5.5", "5 kb", "x", None, [1], "1PiB", "0.1B"]:
    attempt(f"size_to_bytes {s!r}", lambda s=s: misc.size_to_bytes(s))
attempt("glob_strip", lambda: misc.glob_strip(["a.py", "b.txt", "c.py", "A.PY"], "*.py"))
attempt("glob_strip list", lambda: misc.glob_strip(["a.py", "b.txt", "x-1"], ["*.py", "x-*"]))
keys = {"a": 1, "b": 2, "x-note": 3}
for args in [dict(required=["a"]), dict(required=["a", "c", "d"]), dict(required=["a"], optional=["b"]), dict(required=["a"], optional=[]), dict(required=["a"], optional=[], ignore="x-*"), dict(optional=["a"], ignore=["x-*", "b"]), dict(required=["x-q", "a"], optional=["b"], ignore="x-*")]:
    attempt(f"dict_check {args}", lambda args=args: misc.dict_check(keys, **args))
attempt("import_by_name", lambda: misc.import_by_name("path", "os").__name__)
attempt("import_by_name bad", lambda: misc.import_by_name("nope_mod"))
attempt("json_default", lambda: json.dumps({"t": datetime.datetime(2026, 1, 2, 3, 4, 5), "d": datetime.timedelta(seconds=90), "n": decimal.Decimal("1.50"), "i": decimal.Decimal("7"), "s": {1}}, default=misc.json_default, sort_keys=True))
attempt("sepjoin", lambda: misc.sepjoin("/", "a", [], ["b", "c"], "", None, "d"))
for p in ["a/b.tar.gz", "b.txt", "..hidden.x.y", "dir/.bashrc", "noext", "a.b/c", "x/y/", "a::b..c"]:
    attempt(f"splitext2 {p}", lambda p=p: misc.splitext2(p))
attempt("splitext2 seps", lambda: misc.splitext2("a::b..c::d..e", pathsep="::", extsep=".."))
attempt("dict_expand_keys", lambda: misc.dict_expand_keys({"a.b": 1, "a.c.d": 2, "e": 3}))
attempt("dict_expand_keys conflict", lambda: misc.dict_expand_keys({"a": 1, "a.b": 2}))
attempt("dict_expand_keys nonstr", lambda: misc.dict_expand_keys({1: 2}))
attempt("dict_expand_keys sep", lambda: misc.dict_expand_keys({"a/b": 1, "a-c": 2}, sep_pat="[/-]"))
attempt("dict_strip", lambda: misc.dict_strip({"a": None, "b": 0, "c": ""}))
attempt("dict_select", lambda: misc.dict_select({"a": 1, "b": 2, "c": 3}, "a", "c", "z"))
attempt("dict_set_deep", lambda: (lambda x: (misc.dict_set_deep(x, ["p", "q", "r"], 5), x)[1])({"p": {"z": 1}}))
attempt("dict_set_deep bad", lambda: misc.dict_set_deep({"p": 1}, ["p", "q"], 5))
attempt("dict_hash", lambda: misc.dict_hash({"b": [1, 2.5, None], "a": "é", "x-lava-chk": "1"}, ignore="x-lava-*"))
attempt("dict_hash md5", lambda: misc.dict_hash({"when": datetime.datetime(2026, 1, 1)}, algorithm="md5"))
attempt("checksum", lambda: str(misc.DictChecksum.for_dict({"a": 1})))
attempt("checksum roundtrip", lambda: misc.DictChecksum.from_str(str(misc.DictChecksum.for_dict({"a": 1}, tag="XX"))).is_valid_for({"a": 1}))
attempt("checksum changed", lambda: misc.DictChecksum.from_str("1;LC;sha256;abc").is_valid_for({"a": 1}))
attempt("checksum malformed", lambda: misc.DictChecksum.from_str("1;LC;sha256"))
attempt("checksum bad alg", lambda: misc.DictChecksum("abc", "nope"))
attempt("checksum not dict", lambda: misc.DictChecksum.for_dict([1]))
attempt("checksum version", lambda: misc.DictChecksum.for_dict({}, version=2))
for s in ["True", " yes ", "N", "0", "12", "-1", "maybe", True, 1, ""]:
    attempt(f"str2bool {s!r}", lambda s=s: misc.str2bool(s))
attempt("is_quoted", lambda: [misc.is_quoted("'a'"), misc.is_quoted('"a"', '"'), misc.is_quoted("'"), misc.is_quoted("a'")])
attempt("listify", lambda: [misc.listify("ab"), misc.listify(["x"]), misc.listify(("a", 1)), misc.listify({"k": 1})])
attempt("listify int", lambda: misc.listify(5))
for args in [("Héllo, Wörld!",), ("--a b--", "-"), ("a.b/c", "./"), ("a b", None, "_"), ("", ), ("!!!",), ("a b", None, "__")]:
    attempt(f"clean_str {args}", lambda args=args: misc.clean_str(*args))
attempt("is_html", lambda: [misc.is_html("  <HTML>"), misc.is_html("<!doctype  html>"), misc.is_html("<p>x</p>")])
attempt("match_any", lambda: [misc.match_any("Abc.py", ["*.py"]), misc.match_any("Abc.PY", ["*.py"]), misc.match_any("Abc.PY", ["*.py"], ignore_case=True), misc.match_none("x", ["y*"])])
attempt("decimal_to_scalar", lambda: [misc.decimal_to_scalar(decimal.Decimal("3.0")), misc.decimal_to_scalar(decimal.Decimal("3.25"))])

# lava.lib.aws, on the emulator
session = boto3.Session()
s3 = session.client('s3')
for text in ["s3://b/k/x/", "s3:b/k", "/b/k", "b", "s3:///k", ""]:
    attempt(f"s3_split {text!r}", lambda text=text: aws.s3_split(text))
s3.create_bucket(Bucket=name)
s3.put_object(Bucket=name, Key="in/a.json", Body=b'{"n": 1, "l": [1.5, "x"]}')
s3.put_object(Bucket=name, Key="in/b.txt", Body=b"not json")
s3.put_object(Bucket=name, Key="in/sub/c.json", Body=b"{}")
attempt("s3_upload", lambda: aws.s3_upload(name, "up/in.txt", src, s3))
attempt("s3_upload kms", lambda: aws.s3_upload(name, "up/kms.txt", src, s3, kms_key="alias/aws/s3"))
attempt("s3_upload missing file", lambda: aws.s3_upload(name, "up/x", os.path.join(d, "missing"), s3))
attempt("s3_download", lambda: (aws.s3_download(name, "up/in.txt", os.path.join(d, "down.txt"), s3), open(os.path.join(d, "down.txt")).read()[:12])[1])
attempt("s3_download missing", lambda: aws.s3_download(name, "nope", os.path.join(d, "x"), s3))
attempt("s3_list", lambda: sorted(aws.s3_list(name, prefix="in/", s3_client=s3)))
attempt("s3_list match", lambda: sorted(aws.s3_list(name, match="*.json", not_match="c*", s3_client=s3)))
attempt("s3_load_json", lambda: aws.s3_load_json(name, "in/a.json", aws_session=session))
attempt("s3_load_json bad", lambda: aws.s3_load_json(name, "in/b.txt"))
attempt("s3_load_json missing", lambda: type(aws.s3_load_json(name, "nope")))
attempt("s3_object_exists", lambda: [aws.s3_object_exists(name, "in/a.json"), aws.s3_object_exists(name, "nope", aws_session=session)])
attempt("s3_bucket_is_public", lambda: aws.s3_bucket_is_public(name))
attempt("s3_bucket_is_encrypted", lambda: aws.s3_bucket_is_encrypted(name))
attempt("s3_bucket_is_server_logging_enabled", lambda: aws.s3_bucket_is_server_logging_enabled(name))
attempt("s3_bucket_is_mine", lambda: aws.s3_bucket_is_mine(name))
attempt("s3_check_bucket_security", lambda: aws.s3_check_bucket_security(name))
attempt("s3_check_bucket_security relaxed", lambda: aws.s3_check_bucket_security(name, require_encryption=False, require_server_logging=False))
attempt("s3_set_object_encoding", lambda: (aws.s3_set_object_encoding(name, "in/a.json", "gzip", s3), s3.head_object(Bucket=name, Key="in/a.json").get("ContentEncoding"))[1])
session.client('ssm').put_parameter(Name=f"/{name}/p", Value="secret-value", Type="SecureString")
attempt("ssm_get_param", lambda: aws.ssm_get_param(f"/{name}/p"))
attempt("ssm_get_param missing", lambda: aws.ssm_get_param(f"/{name}/nope"))
sm = session.client('secretsmanager')
sm.create_secret(Name=f"{name}-s", SecretString='{"user": "u", "n": 2}')
sm.create_secret(Name=f"{name}-b", SecretBinary=b"\x00binary")
attempt("secman_get_secret", lambda: aws.secman_get_secret(f"{name}-s"))
attempt("secman_get_json_secret", lambda: aws.secman_get_json_secret(f"{name}-s"))
attempt("secman_get_secret binary", lambda: aws.secman_get_secret(f"{name}-b"))
attempt("secman_get_secret binary refused", lambda: aws.secman_get_secret(f"{name}-b", allow_binary=False))
attempt("secman_get_secret missing", lambda: aws.secman_get_secret(f"{name}-nope"))
sqs = session.client('sqs')
queue = sqs.create_queue(QueueName=name)["QueueUrl"]
attempt("sqs_send_msg", lambda: aws.sqs_send_msg("hello", name))
attempt("sqs_send_msg received", lambda: [m["Body"] for m in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2).get("Messages", [])])
attempt("sqs_send_msg no queue", lambda: aws.sqs_send_msg("x", name + "-nope"))
for v in [{"S": "a"}, {"N": "9.5"}, {"N": "7"}, {"BOOL": False}, {"NULL": True}, {"SS": ["b", "a"]}, {"NS": ["1", "2.5"]},
          {"B": "aGk="}, {"L": [{"S": "x"}, {"N": "1"}]}, {"M": {"k": {"S": "v"}}}, {"X": 1}, {"S": "a", "N": "1"}, "S"]:
    attempt(f"dynamo_unmarshall_value {json.dumps(v)}", lambda v=v: aws.dynamo_unmarshall_value(v))
attempt("dynamo_unmarshall_item", lambda: aws.dynamo_unmarshall_item({"id": {"S": "x"}, "n": {"N": "3"}}))
attempt("dynamo_unmarshall_item bad", lambda: aws.dynamo_unmarshall_item([1]))
dynamo = session.client('dynamodb')
dynamo.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
for i in range(3):
    dynamo.put_item(TableName=name, Item={"id": {"S": f"i{i}"}, "n": {"N": str(i)}, "tags": {"SS": ["t"]}})
attempt("dynamo_scan_table", lambda: sorted(aws.dynamo_scan_table(name, session), key=lambda i: i["id"]))
session.client('ses', region_name='us-east-1').verify_email_identity(EmailAddress=f"{name}@example.com")
attempt("ses_send", lambda: aws.ses_send(f"{name}@example.com", to="a@example.com", cc=["b@example.com"], subject="s", message="m", html="<p>h</p>"))
attempt("ses_send nothing", lambda: aws.ses_send(f"{name}@example.com", to="a@example.com"))
attempt("ses_send unverified", lambda: aws.ses_send(f"{name}-no@example.com", to="a@example.com", message="m"))
cw = session.client('cloudwatch')
attempt("cw_put_metric", lambda: aws.cw_put_metric("runs", name, OrderedDict([("job", "j")]), 2, cw_client=cw))
attempt("cw_put_metric list", lambda: aws.cw_put_metric("runs", name, [{"job": "k"}], 1.5, unit="Count", resolution="high", cw_client=cw))
attempt("cw_put_metric listed", lambda: sorted(d["Value"] for m in cw.list_metrics(Namespace=name)["Metrics"] for d in m["Dimensions"]))
attempt("cw_put_metric bad", lambda: aws.cw_put_metric("runs", name, [{"a": 1, "b": 2}], 1, cw_client=cw))
attempt("cw_put_metric empty", lambda: aws.cw_put_metric("runs", name, [], 1, cw_client=cw))
attempt("cw_put_metric type", lambda: aws.cw_put_metric("runs", name, {"a": 1}, 1, cw_client=cw))
attempt("cw_put_metric no client", lambda: aws.cw_put_metric("runs", name, {"a": 1}, 1))


# lava.lib.argparse
from lava.lib import argparse as largparse

def parse(argv):
    parser = largparse.ArgparserNoExit(prog="job")
    parser.add_argument("-x", action=largparse.StoreNameValuePair)
    parser.add_argument("-m", action=largparse.StoreNameValuePair, nargs="+")
    parser.add_argument("n", type=int)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            return vars(parser.parse_args(argv))
        finally:
            results.setdefault("argparse printed", []).append(out.getvalue())

for argv in [["-x", "a=1", "-x", "b=c=d", "5"], ["-m", "p=1", "q=", "7"], ["-x", "novalue", "1"], ["notanumber"], ["1", "--bad"]]:
    attempt(f"argparse {argv}", lambda argv=argv: parse(argv))
attempt("ArgparserExitException", lambda: largparse.ArgparserExitException is largparse.ArgparserExitError)


# lava.lib.process, and misc's deferred tasks
import subprocess
import time
from lava.lib import process

later = misc.Defer.on_event("lib-test")
attempt("Defer is one per event", lambda: misc.Defer.on_event("lib-test") is later)
first = later.add(misc.Task("first", lambda a, b=0: a + b, [1], {"b": 2}))
later.add(misc.Task("fails", lambda: 1 / 0))
dropped = later.add(misc.Task("dropped", print))
later.cancel(dropped)
later.cancel(999)
attempt("Defer.run", lambda: [(r.task.description, r.result, type(r.exception).__name__) for r in later.run()])
attempt("runpg", lambda: (lambda r: (r.returncode, r.stdout, r.stderr))(process.runpg(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, text=True)))
attempt("runpg session", lambda: (lambda r: (r.returncode, r.stdout))(process.runpg(["sh", "-c", "cat; echo done"], start_new_session=True, input=b"in ", capture_output=True)))
attempt("runpg check", lambda: process.runpg(["sh", "-c", "exit 4"], start_new_session=True, check=True))
attempt("runpg both inputs", lambda: process.runpg(["true"], start_new_session=True, input=b"x", stdin=subprocess.DEVNULL))
attempt("runpg both outputs", lambda: process.runpg(["true"], start_new_session=True, capture_output=True, stdout=subprocess.DEVNULL))
marker = os.path.join(d, "orphan")
started = time.time()
def timed_out():
    try:
        process.runpg(["sh", "-c", f"(sleep 3; touch {marker}) & sleep 30"], start_new_session=True, timeout=1, kill_event="lib-test-2")
    except subprocess.TimeoutExpired as e:  # its text holds the time left, which varies
        return type(e).__name__, e.cmd, round(e.timeout)


attempt("runpg timeout", timed_out)
time.sleep(3.5)
attempt("runpg timeout killed the group", lambda: (os.path.exists(marker), time.time() - started < 10))
attempt("runpg kill task cancelled", lambda: misc.Defer.on_event("lib-test-2").tasks)
attempt("killpg gone", lambda: process.killpg(2**22 + 7, 9))


# lava.lib.dag: dependency matrices and tables
import sqlite3
import openpyxl
from lava.lib import dag


def sorted_dag(loaded):
    return {job: sorted(waits) for job, waits in sorted(loaded.items())}


matrix = os.path.join(d, "deps.csv")
with open(matrix, "w", encoding="utf-8") as f:
    f.write(" ,a,b , c,é\na,x,,,\nb,x, ,,\nc,x,y,,\n,x,x,x,x\né,,,x,\n")
attempt("load_dag_from_csv", lambda: sorted_dag(dag.load_dag_from_csv(matrix)))
padded = os.path.join(d, "padded.csv")
with open(padded, "w", encoding="utf-8") as f:
    f.write(",a,b\n b ,x,\n")
attempt("load_dag_from_csv padded", lambda: sorted_dag(dag.load_dag_from_csv(padded)))
attempt("load_dag_from_csv missing", lambda: dag.load_dag_from_csv(os.path.join(d, "none.csv")))
book = openpyxl.Workbook()
sheet = book.active
sheet.title = "first"
for row in [["job", "a", "b", "c"], ["a", None, None, None], ["b", "x", None, None], ["c", "x", "x", " "], [None, "x", None, None]]:
    sheet.append(row)
other = book.create_sheet("second")
for row in [["job", "p", "q"], ["q", "yes", None]]:
    other.append(row)
corner = book.create_sheet("corner")
for row in [[None, "p"], ["p", "x"]]:
    corner.append(row)
workbook = os.path.join(d, "deps.xlsx")
book.save(workbook)
attempt("load_dag_from_xlsx", lambda: sorted_dag(dag.load_dag_from_xlsx(workbook)))
attempt("load_dag_from_xlsx sheet", lambda: sorted_dag(dag.load_dag_from_xlsx(workbook, worksheet="second")))
attempt("load_dag_from_xlsx no sheet", lambda: dag.load_dag_from_xlsx(workbook, worksheet="third"))
attempt("load_dag_from_xlsx empty corner", lambda: dag.load_dag_from_xlsx(workbook, worksheet="corner"))
numbers = openpyxl.Workbook()
for row in [["job", "a", "b"], ["b", 1, None]]:
    numbers.active.append(row)
numbered = os.path.join(d, "numbers.xlsx")
numbers.save(numbered)
attempt("load_dag_from_xlsx numbers", lambda: sorted_dag(dag.load_dag_from_xlsx(numbered)))
database = os.path.join(d, "deps.sqlite")
with sqlite3.connect(database) as conn:
    conn.execute("CREATE TABLE dag (job_group TEXT, job TEXT NOT NULL, depends_on TEXT)")
    conn.execute("CREATE TABLE other (job_group TEXT, job TEXT NOT NULL, depends_on TEXT)")
    conn.executemany("INSERT INTO dag VALUES (?, ?, ?)", [("g", "b", "a"), ("g", "c", "b"), ("g", " c ", "a "), ("h", "x", "y"), ("g", "a", "a"), ("g", "", "q")])
    conn.execute("INSERT INTO other VALUES ('g', 'z', 'w')")
conn.close()
attempt("load_dag_from_sqlite3", lambda: sorted_dag(dag.load_dag_from_sqlite3(database)))
attempt("load_dag_from_sqlite3 group", lambda: sorted_dag(dag.load_dag_from_sqlite3(database, group="g")))
with sqlite3.connect(database) as conn:
    conn.execute("CREATE TABLE nulls (job_group TEXT, job TEXT NOT NULL, depends_on TEXT)")
    conn.execute("INSERT INTO nulls VALUES ('g', 'alone', NULL)")
conn.close()
attempt("load_dag_from_sqlite3 null", lambda: sorted_dag(dag.load_dag_from_sqlite3(database, table="nulls")))
attempt("load_dag_from_sqlite3 table", lambda: sorted_dag(dag.load_dag_from_sqlite3(database, table="other")))
attempt("load_dag_from_sqlite3 bad table", lambda: dag.load_dag_from_sqlite3(database, table="dag; drop table dag"))
attempt("load_dag_from_sqlite3 bad group", lambda: dag.load_dag_from_sqlite3(database, group="g' or 'x"))
attempt("load_dag_from_sqlite3 no table", lambda: dag.load_dag_from_sqlite3(database, table="main.none"))
attempt("DEFAULT_TABLE", lambda: dag.DEFAULT_TABLE)


# lava.lib.logging: levels, JSON records, coloured stderr, setup_logging
import logging
import pathlib
import re
import threading
from lava.lib import logging as llog

for level in ["debug", "INFO", "Warning", "warn", "fatal", "critical", "notset", "error", "basic_format", "nope", "", None, 10, 0, "10", ["info"]]:
    attempt(f"get_log_level {level!r}", lambda level=level: llog.get_log_level(level))
attempt("syslog_address", llog.syslog_address)
attempt("colours", lambda: [llog.Fore.RED, llog.Fore.MAGENTA, llog.Fore.BLUE, llog.Fore.BLACK, llog.Fore.RESET, llog.Style.BRIGHT, llog.Style.DIM, llog.Style.RESET_ALL])


def record(msg="n=%s %d", args=("a", 3), level=logging.WARNING, **attrs):
    """A log record made at a fixed time, with attributes added."""
    made = logging.LogRecord("jobs.x", level, "/p/job.py", 12, msg, args, None, func="run")
    made.created, made.msecs = 1767323045.123456, 123.0
    made.__dict__.update(attrs)
    return made


fields = {"lvl": "levelname", "msg": "message", "line": "lineno", "fn": "funcName", "mod": "module", "missing": "nope",
          "exc": "exc_info", "stack": "stack_info", "lvl2": "levelno"}
extra = {"app": "lava", "empty": "", "zero": 0, "none": None}
carried = dict(job_id="j1", _private=1, when=datetime.datetime(2026, 1, 2, 3, 4, 5), amount=decimal.Decimal("1.5"), nothing=None)
attempt("JsonFormatter fields", lambda: llog.JsonFormatter(fields=fields, extra=extra).format(record(**carried)))
attempt("JsonFormatter tag", lambda: llog.JsonFormatter(fields={"m": "message"}, tag="lava").format(record()))
attempt("JsonFormatter bare", lambda: llog.JsonFormatter().format(record(stack_info="Stack (most recent call last):\n  here")))
attempt("JsonFormatter stack", lambda: llog.JsonFormatter(fields=fields).format(record(stack_info="Stack:\n  here")))
attempt("JsonFormatter override", lambda: llog.JsonFormatter(fields={"app": "levelname", "job_id": "msg"}, extra={"app": "x", "job_id": "y"}).format(record(job_id="mine")))
attempt("JsonFormatter asctime", lambda: llog.JsonFormatter(fields={"t": "asctime", "iso": "isotime"}, datefmt="%Y/%m/%d").format(record()))
attempt("JsonFormatter asctime default", lambda: (lambda f: (f.usesTime(), re.sub(r"\d", "9", f.format(record()))))(llog.JsonFormatter(fields={"t": "asctime"})))
attempt("JsonFormatter no asctime", lambda: (lambda f, r: (f.usesTime(), f.format(r), "asctime" in vars(r), "isotime" in vars(r), r.message))(llog.JsonFormatter(fields={"i": "isotime"}), record()))
attempt("JsonFormatter isotime", lambda: llog.JsonFormatter.isotime(record()))
attempt("JsonFormatter attributes", lambda: sorted(llog.JsonFormatter.LOG_RECORD_ATTRIBUTES))
attempt("JsonFormatter state", lambda: (lambda f: (f.fields, f.extra, f.tag, f.default_msec_format, f.datefmt))(llog.JsonFormatter(fields={"a": "msg"}, extra={"k": "v", "e": []}, datefmt="%H", tag="t")))
attempt("JsonFormatter unencodable", lambda: llog.JsonFormatter(extra={"app": "lava"}).format(record(pair={("a", "b"): 1})))
loop = {}
loop["self"] = loop
attempt("JsonFormatter circular", lambda: llog.JsonFormatter().format(record(loop=loop)))
attempt("JsonFormatter bad args", lambda: llog.JsonFormatter().format(record(msg="%d", args=("x",))))
attempt("JsonFormatter bad fields", lambda: llog.JsonFormatter(fields=["message"]))
attempt("JsonFormatter bad extra", lambda: llog.JsonFormatter(extra=["x"]))
try:
    1 / 0
except ZeroDivisionError:
    failure = sys.exc_info()


def last_lines(text):
    """A formatted record's JSON with each traceback cut to its last line."""
    return {k: v.splitlines()[-1] for k, v in json.loads(text).items()}


attempt("JsonFormatter exc_info", lambda: last_lines(llog.JsonFormatter(fields={"exc": "exc_info", "m": "message"}).format(record(exc_info=failure))))
attempt("JsonFormatter exc_text", lambda: last_lines(llog.JsonFormatter(fields={"exc": "exc_info", "t": "exc_text"}).format(record(exc_info=failure, exc_text="old"))))
attempt("JsonFormatter exc_text only", lambda: llog.JsonFormatter(fields={"exc": "exc_info"}).format(record(exc_text="given")))


def to_stderr(call):
    """What ``call`` printed to stderr (and its result, or the error it raised)."""
    out = io.StringIO()
    with contextlib.redirect_stderr(out):
        try:
            got = call()
        except Exception as e:
            got = f"{type(e).__name__}: {e}"
    return out.getvalue(), typed(got)


def emit_each(handler):
    for level in [5, logging.DEBUG, logging.INFO, 25, logging.WARNING, logging.ERROR, logging.CRITICAL]:
        handler.handle(record(msg=f"at {level}", args=(), level=level))


plain = llog.ColourLogHandler(colour=False)
plain.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
attempt("ColourLogHandler", lambda: to_stderr(lambda: emit_each(llog.ColourLogHandler())))
attempt("ColourLogHandler no colour", lambda: to_stderr(lambda: emit_each(plain)))
attempt("ColourLogHandler state", lambda: (llog.ColourLogHandler().colour, llog.ColourLogHandler(False).colour, llog.ColourLogHandler().level))
attempt("ColourLogHandler bad args", lambda: to_stderr(lambda: plain.handle(record(msg="%d", args=("x",)))))


def configured(logger_name, level, **kwargs):
    """``setup_logging`` on a named logger, a few messages logged: what it printed to stderr, then
    the logger's level, propagation and handlers (class, layout, colour)."""
    logger = logging.getLogger(logger_name)

    def log():
        llog.setup_logging(level, name=logger_name, **kwargs)
        for say in (logger.debug, logger.info, logger.warning, logger.error):
            say("said %s", say.__name__)

    printed, got = to_stderr(log)
    handlers = [(type(h).__name__, getattr(h.formatter, "_fmt", None), getattr(h, "colour", None)) for h in logger.handlers]
    return printed, got, logger.level, logger.propagate, handlers


attempt("setup_logging stderr", lambda: configured("lava-lib-test.a", "info"))
attempt("setup_logging debug", lambda: configured("lava-lib-test.b", "DEBUG", prefix="job"))
attempt("setup_logging no colour", lambda: configured("lava-lib-test.c", "warning", colour=False, prefix="p"))
attempt("setup_logging again", lambda: configured("lava-lib-test.c", "error", colour=False))
attempt("setup_logging json", lambda: configured("lava-lib-test.d", "info", colour=False, formatter=llog.JsonFormatter(fields={"m": "message", "l": "levelname"}, extra={"app": "lava"})))
attempt("setup_logging bad level", lambda: configured("lava-lib-test.e", "loud"))
attempt("setup_logging number level", lambda: configured("lava-lib-test.e", 20))
attempt("setup_logging bad prefix", lambda: configured("lava-lib-test.f", "info", prefix=7))
attempt("setup_logging bad facility", lambda: configured("lava-lib-test.g", "info", target="@nope"))
attempt("setup_logging bad target", lambda: configured("lava-lib-test.g", "info", target=pathlib.Path(d) / "x.log"))
attempt("setup_logging missing dir", lambda: configured("lava-lib-test.g", "info", target=os.path.join(d, "none", "x.log")))
attempt("setup_logging root untouched", lambda: (logging.getLogger().propagate, [type(h).__name__ for h in logging.getLogger().handlers]))
crowded = logging.getLogger("lava-lib-test.h")
crowded.addHandler(logging.NullHandler())
crowded.addHandler(logging.StreamHandler(io.StringIO()))
attempt("setup_logging replaces every handler", lambda: configured("lava-lib-test.h", "info"))


def logged_to_file(logger_name, level, **kwargs):
    """``setup_logging`` to a file: its handlers, and the file's lines (time and arguments as
    placeholders)."""
    target = os.path.join(d, logger_name + ".log")
    printed = configured(logger_name, level, target=target, **kwargs)
    for h in logging.getLogger(logger_name).handlers:
        h.close()
    with open(target) as f:
        text = f.read().replace(" ".join(sys.argv), "<argv>")
    lines = [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", "<time>", line) for line in text.splitlines()]
    return printed, lines


attempt("setup_logging file", lambda: logged_to_file("lava-lib-test.file", "debug"))
attempt("setup_logging file info", lambda: logged_to_file("lava-lib-test.file2", "info", prefix="ignored"))
attempt("setup_logging file json", lambda: logged_to_file("lava-lib-test.file3", "info", formatter=llog.JsonFormatter(fields={"m": "message"}, tag="lava")))


def to_syslog(logger_name, **kwargs):
    """``setup_logging`` to syslog: the handler's facility, address and layout."""
    got = configured(logger_name, "info", **kwargs)
    handler = logging.getLogger(logger_name).handlers[0]
    handler.close()
    return got, handler.facility, handler.address


attempt("setup_logging syslog", lambda: to_syslog("lava-lib-test.sys", target="@local0", prefix="lava"))
attempt("setup_logging syslog user", lambda: to_syslog("lava-lib-test.sys2", target="@user"))


# lava.lib.ssl: modes and contexts, CA files from a path, S3 or the web
import functools
import gzip
import http.server
import ssl
from lava.lib import ssl as lssl

for spec in [{}, {"ssl": True}, {"ssl": False}, {"ssl": "yes"}, {"ssl_mode": "require"}, {"ssl_mode": "verify-ca"},
             {"ssl_mode": "verify-full", "ssl": False}, {"ssl": True, "ssl_mode": "verify-ca", "host": "h", "port": 5432},
             {"ssl_mode": "disable"}, {"ssl_mode": ""}, {"ssl_mode": "VERIFY-FULL"}, {"ssl_mode": ["require"]}, {"ssl_mode": None, "ssl": 1}]:
    attempt(f"resolve_ssl_mode {spec}", lambda spec=spec: lssl.resolve_ssl_mode(**spec))
attempt("resolve_ssl_mode positional", lambda: [lssl.resolve_ssl_mode(True), lssl.resolve_ssl_mode(None, "verify-ca")])
attempt("SSL_MODES", lambda: {k: [v[0], v[1].name] for k, v in lssl.SSL_MODES.items()})

CA = """-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIULZirt/Eh9awQM7KQoYoeSz7DBxUwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQbGF2YS1saWItdGVzdC1jYTAgFw0yNjEyMDcwODQyMDZaGA8y
MTI2MTExMzA4NDIwNlowGzEZMBcGA1UEAwwQbGF2YS1saWItdGVzdC1jYTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABCwdUMEvvyjEhrzlOmHwJMYG2WcKA4nsCSWX
+XL5t1r5SYu6RE0EWDklbcTIAnWj0wietaPldXCrHVYp/IBv3CqjUzBRMB0GA1Ud
DgQWBBQnZXMXF4jo9j/ONLzQbwC5bw85rjAfBgNVHSMEGDAWgBQnZXMXF4jo9j/O
NLzQbwC5bw85rjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCp
uPAJ/kCTIXL3f2FTYEustsJVkVcY+6w9irWGguxM6wIgRBjoKbEf1grxlYBukTNA
H5dY1c7+Z34UmABtvXK+kZo=
-----END CERTIFICATE-----
"""
certs = os.path.join(d, "certs")
os.makedirs(certs)
for file_name, content in [("ca.pem", CA.encode()), ("ca.pem.gz", gzip.compress(CA.encode())), ("bad.pem", b"garbage\n"), ("empty.pem", b"")]:
    with open(os.path.join(certs, file_name), "wb") as f:
        f.write(content)
s3.put_object(Bucket=name, Key="certs/ca.pem", Body=CA.encode())


def context(mode, ca_file=None):
    """What a context for ``mode`` checks, and the test CA if it trusts it."""
    made = lssl.build_ssl_context(mode, ca_file)
    ours = [(c["subject"], c["serialNumber"]) for c in made.get_ca_certs() if "lava-lib-test-ca" in str(c["subject"])]
    return made.verify_mode.name, made.check_hostname, made.minimum_version.name, ours


for mode in ["require", "verify-ca", "verify-full", None, "disable", "", "Require", ["require"]]:
    attempt(f"build_ssl_context {mode!r}", lambda mode=mode: context(mode))
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=certs))
server.RequestHandlerClass.log_message = lambda *args: None
threading.Thread(target=server.serve_forever, daemon=True).start()
web = f"http://127.0.0.1:{server.server_address[1]}"
fd = os.open(os.path.join(certs, "ca.pem"), os.O_RDONLY)
for label, ca_file in [("path", os.path.join(certs, "ca.pem")), ("file uri", "file://" + os.path.join(certs, "ca.pem")),
                       ("pathlib", pathlib.Path(certs) / "ca.pem"), ("gzip", os.path.join(certs, "ca.pem.gz")),
                       ("missing", os.path.join(certs, "nope.pem")), ("missing gzip", os.path.join(certs, "nope.pem.gz")),
                       ("folder", certs), ("not pem", os.path.join(certs, "bad.pem")), ("empty", os.path.join(certs, "empty.pem")),
                       ("home", "~/lava-lib-test-no-such.pem"), ("none", None), ("blank", ""), ("bytes", os.path.join(certs, "ca.pem").encode()),
                       ("fd", fd), ("bad fd", 987), ("s3", f"s3://{name}/certs/ca.pem"), ("s3 upper", f"S3://{name}/certs/ca.pem"),
                       ("s3 missing", f"s3://{name}/certs/nope.pem"), ("s3 no bucket", f"s3://{name}-nope/ca.pem"), ("s3 no key", f"s3://{name}"),
                       ("http", f"{web}/ca.pem"), ("http missing", f"{web}/nope.pem"), ("unknown scheme", "nosuch://x/ca.pem")]:
    attempt(f"build_ssl_context CA {label}", lambda ca_file=ca_file: context("verify-full", ca_file))
os.close(fd)
server.shutdown()
server.server_close()
attempt("build_ssl_context CA with require", lambda: context("require", os.path.join(certs, "ca.pem")))


# lava.lib.dbnone: a stand-in for a driver that is not installed
import types
from lava.lib import dbnone

stub = dbnone.dbapi_stub("pyodbc")
attempt("dbapi_stub", lambda: (stub.__name__, repr(stub), isinstance(stub, types.ModuleType), stub.__doc__, stub.apilevel,
                               stub.threadsafety, stub.paramstyle, stub.alias, [k for k in vars(stub) if not k.startswith("_")]))
attempt("dbapi_stub names", lambda: [(f.__name__, f.__qualname__, f.__module__) for f in (stub.connect, stub.Connection, stub.Cursor)])
attempt("dbapi_stub connect", lambda: stub.connect("dsn", user="u"))
attempt("dbapi_stub Connection", lambda: stub.Connection())
attempt("dbapi_stub Cursor", lambda: stub.Cursor(1, 2))
attempt("dbapi_stub alias", lambda: dbnone.dbapi_stub("PyGreSQL (pgdb)").connect())
attempt("dbapi_stub apart", lambda: (stub.Connection is dbnone.dbapi_stub("pyodbc").Connection, stub is dbnone.dbapi_stub("pyodbc")))
attempt("dbapi_stub not str", lambda: dbnone.dbapi_stub(5))


# lava.lib.daemon: lock files, signals, core dumps (daemonify itself forks, so is left out)
import resource
import signal
import subprocess
from lava.lib import daemon

pidfile = os.path.join(d, "lava.pid")
with open(pidfile, "w") as f:
    f.write("12345\nold\n")
me = f"{os.getpid()}\n"
attempt("lock_file", lambda: (daemon.lock_file(pidfile), open(pidfile).read() == me))
attempt("lock_file again", lambda: (daemon.lock_file(pidfile), open(pidfile).read() == me))
held = os.path.join(d, "held.pid")
with open(held, "w") as f:
    f.write("777\n")
holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.lockf(f, fcntl.LOCK_EX); "
                           "print('locked', flush=True); sys.stdin.read()", held], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
attempt("lock_file holder", lambda: holder.stdout.readline())
attempt("lock_file held", lambda: (daemon.lock_file(held), open(held).read()))
holder.stdin.close()
holder.wait()
attempt("lock_file released", lambda: (daemon.lock_file(held), open(held).read() == me))
attempt("lock_file missing dir", lambda: daemon.lock_file(os.path.join(d, "none", "x.pid")))
attempt("lock_file folder", lambda: daemon.lock_file(d))
attempt("FD_MAX", lambda: daemon.FD_MAX)


def on_usr2(signum, frame):
    pass


def handled(sig, *handler):
    """``set_signal``'s result, then what the signal's handler is."""
    got = daemon.set_signal(sig, *handler)
    now = signal.getsignal(los.signum(sig))
    return got, now.name if isinstance(now, signal.Handlers) else now is on_usr2


for sig, handler in [("SIGUSR1", ()), ("usr1", (None,)), ("HUP", (signal.SIG_IGN,)), ("SIGUSR2", (on_usr2,)), (int(signal.SIGUSR2), (signal.SIG_IGN,)),
                     ("SIGUSR2", (on_usr2,)), ("SIGUSR2", ("",)), ("SIGNOPE", ()), (999, ()), ("SIGUSR1", ("handler",)), ("SIGUSR1", (5,)),
                     ("SIGKILL", ()), (None, ())]:
    label = [getattr(h, "__name__", h) for h in handler]
    attempt(f"set_signal {sig!r} {label!r}", lambda sig=sig, handler=handler: handled(sig, *handler))
attempt("set_signal SIG_DFL restores the default", lambda: handled("SIGUSR2", signal.SIG_DFL))


def off_main_thread():
    worker = threading.Thread(target=lambda: attempt("set_signal thread", lambda: daemon.set_signal("SIGUSR1")))
    worker.start()
    worker.join()


off_main_thread()
for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP):
    signal.signal(sig, signal.SIG_DFL)
attempt("stop_core_dumps", lambda: (daemon.stop_core_dumps(), resource.getrlimit(resource.RLIMIT_CORE)))


# lava.lib.misc: TrackedMapping, the unescaped formatters, pythonpath_prepended
tracked = misc.TrackedMapping({"a": 1, "b": {"c": [1, 2]}, "n": None})
attempt("TrackedMapping read", lambda: (tracked["a"], tracked["b"], tracked["n"], sorted(tracked.visited_refs), sorted(tracked.unknown_refs)))
attempt("TrackedMapping missing", lambda: tracked["zz"])
attempt("TrackedMapping get and in", lambda: (tracked.get("yy", "dflt"), "xx" in tracked, "a" in tracked, sorted(tracked.unknown_refs), sorted(tracked.visited_refs)))
attempt("TrackedMapping shape", lambda: (len(tracked), list(tracked), repr(tracked), str(tracked), dict(tracked) == {"a": 1, "b": {"c": [1, 2]}, "n": None}))
attempt("TrackedMapping write", lambda: (tracked.__setitem__("w", 5), tracked.__delitem__("a"), list(tracked), "w" in tracked.visited_refs, tracked == {"b": {"c": [1, 2]}, "n": None, "w": 5}))
attempt("TrackedMapping delete missing", lambda: tracked.__delitem__("gone"))
source = {"deep": {"x": 1}}
copied = misc.TrackedMapping(source)
source["deep"]["x"] = 2
attempt("TrackedMapping copies", lambda: (copied["deep"], copied.visited_refs, copied.unknown_refs))
defaulted = misc.TrackedMapping({"k": "v"}, default_factory=list)
attempt("TrackedMapping default_factory", lambda: (defaulted["new"], defaulted.get("other"), "third" in defaulted, len(defaulted), sorted(defaulted.visited_refs), sorted(defaulted.unknown_refs), repr(defaulted)))
attempt("TrackedMapping setdefault pop", lambda: (lambda t: (t.setdefault("s", 1), t.pop("k"), t.pop("none", 0), sorted(t.visited_refs), sorted(t.unknown_refs)))(misc.TrackedMapping({"k": 1})))
attempt("TrackedMapping attributes", lambda: sorted(k for k in vars(misc.TrackedMapping({})) if not k.startswith("_")))
nested = {"name": "it's \"raw\"\n", "n": 1, "none": None, "list": ["x", 1, {"k": "v"}, [1, "y"]], "tuple": ("t",), "empty": {}, "empty_list": [],
          "empty_tuple": (), "inner": {"deeper": {"s": "text", "l": ["a"]}}, 5: "five", ("k", 1): b"bytes"}
attempt("format_dict_unescaped", lambda: misc.format_dict_unescaped(nested))
attempt("format_dict_unescaped depth", lambda: misc.format_dict_unescaped({"a": "b"}, 2))
for value in [{}, "text", 5, None, ["a"]]:
    attempt(f"format_dict_unescaped {value!r}", lambda value=value: misc.format_dict_unescaped(value))
for value in [["a", 1, None], ("a", {"k": ["v"]}), [], (), "ab", {"s"}, [[1, "x"], ("y",)], range(0), range(2)]:
    attempt(f"format_sequence_unescaped {value!r}", lambda value=value: misc.format_sequence_unescaped(value))
attempt("format_sequence_unescaped depth", lambda: misc.format_sequence_unescaped(["a", {"b": "c"}], 1))


def with_pythonpath(path, before, fail=False):
    """PYTHONPATH inside ``pythonpath_prepended(path)`` and after it, starting from ``before``."""
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before
    inside = None
    try:
        with misc.pythonpath_prepended(path):
            inside = os.environ.get("PYTHONPATH")
            if fail:
                raise RuntimeError("inside")
    except RuntimeError as e:
        inside = (inside, str(e))
    after = os.environ.get("PYTHONPATH", "<unset>")
    os.environ.pop("PYTHONPATH", None)
    return inside, after


saved_pythonpath = os.environ.pop("PYTHONPATH", None)
attempt("pythonpath_prepended unset", lambda: with_pythonpath("/opt/x", None))
attempt("pythonpath_prepended set", lambda: with_pythonpath("/opt/x", "/a:/b"))
attempt("pythonpath_prepended empty", lambda: with_pythonpath("/opt/x", ""))
attempt("pythonpath_prepended pathlib", lambda: with_pythonpath(pathlib.Path("/opt/y"), "/a"))
attempt("pythonpath_prepended raises", lambda: with_pythonpath("/opt/z", "/a", fail=True))
if saved_pythonpath is not None:
    os.environ["PYTHONPATH"] = saved_pythonpath
for size in ["5KiB", " 1.5 MB ", "-2e3B", "5 kb", "x"]:
    attempt(f"SIZE_REGEX {size!r}", lambda size=size: (lambda m: m and m.group("value", "units"))(re.match(misc.SIZE_REGEX, size)))


# lava.lib.email: addresses, messages, SES (the emulator) and SMTP (a small server here)
import base64
import socketserver
from lava.lib import email as lemail


def mail_lines(raw):
    """A message's text as lines, what changes from one message to the next replaced."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = re.sub(r"={15}\d{19}==(\.\d+)?", "<boundary>", text)
    text = re.sub(r"(?m)^Date: .*$", "Date: <date>", text)
    text = re.sub(r"(?m)^Message-ID: <[^@>]*@", "Message-ID: <id@", text)
    text = re.sub(r"(?m)^User-Agent: lava/.*$", "User-Agent: <lava>", text)
    return text.splitlines()


for file_name in ["a.txt", "b.CSV", "c.html", "d.pdf", "e.unknown", "f", "g.tar.gz", "h.json.bz2", "dir/i.png"]:
    attempt(f"content_type {file_name}", lambda file_name=file_name: lemail.content_type(file_name))
for addresses in ["a@example.com", " Ann Smith <ann@example.com> ", ["x@y.z", "Zoë <zoe@example.com>"], "\"Smith, J\" <j@example.com>",
                  "no-at-sign", "", "<>", "a@b@c.d", [], ("t@example.com",), [5], None, "@example.com", "user@"]:
    attempt(f"build_address_header {addresses!r}", lambda addresses=addresses: [(str(a), a.display_name, a.username, a.domain) for a in lemail.build_address_header(addresses)])
attempt("EmailAttachment", lambda: (repr(lemail.EmailAttachment("a.txt", "x")), lemail.EmailAttachment("a", b"1") == lemail.EmailAttachment("a", b"1")))

dynamo = session.client("dynamodb")
try:
    dynamo.create_table(TableName="lava.realms", KeySchema=[{"AttributeName": "realm", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "realm", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
except dynamo.exceptions.ResourceInUseException:
    pass
dynamo.get_waiter("table_exists").wait(TableName="lava.realms")
realms = session.resource("dynamodb").Table("lava.realms")
realms.put_item(Item={"realm": f"{name}-bad", "s3_payloads": "s3://x/p"})
realms.put_item(Item={"realm": name, "s3_payloads": f"s3://{name}/payloads", "s3_temp": f"s3://{name}/tmp",
                      "config": {"email_max_attachments": 3, "email_max_attachment_size": "2K", "email_msgid_domain": "lava.test",
                                 "ses_from": f"Realm Sender <{name}@example.com>"}})
mail_session = boto3.Session()
sent_to_ses = []
mail_session.events.register("provide-client-params.ses.SendRawEmail", lambda params, **kw: sent_to_ses.append(
    {"Destinations": params.get("Destinations"), "ConfigurationSetName": params.get("ConfigurationSetName"), "Data": mail_lines(params["RawMessage"]["Data"])}))
mail_session.events.register("provide-client-params.ses.SendEmail", lambda params, **kw: sent_to_ses.append(dict(params)))
ses_spec = {"conn_id": "mail-ses", "type": "ses", "enabled": True, "from": f"Lava <{name}@example.com>", "reply_to": "replies@example.com"}


def made(spec, realm=None, **kwargs):
    """The emailer ``Emailer.handler`` makes: its class and sender."""
    h = lemail.Emailer.handler(spec, realm or name, aws_session=mail_session, **kwargs)
    return type(h).__name__, h.sender, h.realm


# The realm's config is read once, by the first emailer made in the realm: a missing or bad realm first.
attempt("Emailer no realm", lambda: made(ses_spec, f"{name}-none"))
attempt("Emailer bad realm", lambda: made(ses_spec, f"{name}-bad"))
attempt("Emailer ses", lambda: made(ses_spec))
attempt("Emailer realm read once", lambda: made(ses_spec, f"{name}-none"))
attempt("Emailer email type", lambda: made({**ses_spec, "type": "email"}))
attempt("Emailer email ses subtype", lambda: made({**ses_spec, "type": "email", "subtype": "ses"}, sender="Me <me@example.com>"))
attempt("Emailer email bad subtype", lambda: made({**ses_spec, "type": "email", "subtype": "pigeon"}))
attempt("Emailer bad type", lambda: made({**ses_spec, "type": "pigeon"}))
attempt("Emailer no type", lambda: made({"conn_id": "x", "enabled": True}))
attempt("Emailer disabled", lambda: made({**ses_spec, "enabled": False}))
attempt("Emailer disabled email", lambda: made({**ses_spec, "type": "email", "enabled": False}))
attempt("Emailer disabled no conn_id", lambda: made({"type": "smtp", "host": "h"}))
attempt("Emailer register taken", lambda: lemail.Emailer.register("smtp")(object))
attempt("Emailer register", lambda: (lemail.Emailer.register("lib-test-a", "lib-test-b")(lemail.AwsSes).__name__,
                                     made({**ses_spec, "type": "lib-test-b"}), made({**ses_spec, "type": "email", "subtype": "lib-test-a"})))
attempt("Emailer registered", lambda: sorted(k for k in lemail.Emailer._EMAIL_HANDLERS if not k.startswith("lib-test")))
base = lemail.Emailer(ses_spec, name, aws_session=mail_session)
attempt("Emailer base", lambda: (base.sender, base.realm, base.conn_spec is ses_spec, base.close(), base.__enter__() is base, base.__exit__(None, None, None)))
attempt("Emailer base send", lambda: base.send("s", "m", to="a@example.com"))
attempt("SmtpTls class", lambda: (lemail.SmtpTls.CONNECTION_REQUIRED_FIELDS, lemail.SmtpTls.SMTP_TLS_TIMEOUT, lemail.SmtpTls.DEBUG_LEVEL))

files = os.path.join(d, "attach")
os.makedirs(files)
for file_name, content in [("notes.txt", b"some notes\n"), ("data.csv", b"a,b\n1,2\n"), ("blob.bin", bytes(range(256))), ("big.txt", b"x" * 3000),
                           ("packed.txt.gz", gzip.compress(b"packed text\n", mtime=0))]:
    with open(os.path.join(files, file_name), "wb") as f:
        f.write(content)
s3.put_object(Bucket=name, Key="attach/report.html", Body=b"<p>report</p>")
s3.put_object(Bucket=name, Key="attach/big.txt", Body=b"y" * 3000)


def built(**kwargs):
    """``message()``'s message, as text with what varies replaced, and whether it names lava as its agent."""
    kwargs.setdefault("sender", "Sender <sender@example.com>")
    msg = base.message(**kwargs)
    return mail_lines(msg.as_string()), msg["User-Agent"].startswith("lava/"), msg.get_content_type()


attempt("message plain", lambda: built(subject="Hello", message="Plain body\nline 2", to="a@example.com"))
attempt("message html", lambda: built(subject="Héllo wörld", message="<html><body><p>Hi</p></body></html>", to=["a@example.com", "B <b@example.com>"],
                                      cc="Zoë <zoe@example.com>", reply_to=["r1@example.com", "r2@example.com"]))
attempt("message long", lambda: built(subject="S " * 60, message="word " * 400, to="a@example.com"))
attempt("message cc only", lambda: built(subject="s", message="m", cc=["c@example.com"]))
attempt("message no sender", lambda: base.message(subject="s", message="m", to="a@example.com"))
attempt("message no recipients", lambda: built(subject="s", message="m"))
attempt("message no subject", lambda: built(subject="", message="m", to="a@example.com"))
attempt("message no body", lambda: built(subject="s", message=None, to="a@example.com"))
attempt("message tuple to", lambda: built(subject="s", message="m", to=("a@example.com",)))
attempt("message bad to", lambda: built(subject="s", message="m", to="nobody"))
attempt("message bad sender", lambda: built(subject="s", message="m", to="a@example.com", sender="bad sender"))
attempt("message attachments", lambda: built(subject="s", message="m", to="a@example.com", attachments=[
    lemail.EmailAttachment("inline.txt", "in memory é"), lemail.EmailAttachment("raw.dat", b"\x00\x01"), os.path.join(files, "data.csv")]))
attempt("message attachment files", lambda: built(subject="s", message="m", to="a@example.com", attachments=(
    os.path.join(files, "notes.txt"), os.path.join(files, "blob.bin"), f"s3://{name}/attach/report.html")))
attempt("message attachment generator", lambda: built(subject="s", message="m", to="a@example.com", attachments=(os.path.join(files, n) for n in ["notes.txt"])))
attempt("message attachment file uri", lambda: built(subject="s", message="m", to="a@example.com", attachments=["file://" + os.path.join(files, "notes.txt")]))
attempt("message attachment gzip", lambda: built(subject="s", message="m", to="a@example.com", attachments=[os.path.join(files, "packed.txt.gz")]))
attempt("message too many attachments", lambda: built(subject="s", message="m", to="a@example.com", attachments=["a", "b", "c", "d"]))
attempt("message attachment too big", lambda: built(subject="s", message="m", to="a@example.com", attachments=[os.path.join(files, "big.txt")]))
attempt("message attachment s3 too big", lambda: built(subject="s", message="m", to="a@example.com", attachments=[f"s3://{name}/attach/big.txt"]))
attempt("message attachment memory too big", lambda: built(subject="s", message="m", to="a@example.com", attachments=[lemail.EmailAttachment("m.txt", "z" * 2049)]))
attempt("message attachment missing", lambda: built(subject="s", message="m", to="a@example.com", attachments=[os.path.join(files, "none.txt")]))
attempt("message attachment folder", lambda: built(subject="s", message="m", to="a@example.com", attachments=[files]))
attempt("message attachment s3 missing", lambda: built(subject="s", message="m", to="a@example.com", attachments=[f"s3://{name}/attach/none.txt"]))
attempt("message attachment s3 no bucket", lambda: built(subject="s", message="m", to="a@example.com", attachments=[f"s3://{name}-none/x.txt"]))
attempt("message attachment s3 no key", lambda: built(subject="s", message="m", to="a@example.com", attachments=[f"s3://{name}"]))
attempt("message attachment http", lambda: built(subject="s", message="m", to="a@example.com", attachments=["http://127.0.0.1:9/x.txt"]))
attempt("message attachment bad type", lambda: built(subject="s", message="m", to="a@example.com", attachments=[lemail.EmailAttachment("a", "b"), 5]))
os.environ["LAVA_EMAIL_MAX_ATTACHMENTS"] = "1"
attempt("message attachments env limit", lambda: built(subject="s", message="m", to="a@example.com", attachments=["a", "b"]))
os.environ["LAVA_EMAIL_MAX_ATTACHMENTS"] = "many"
attempt("message attachments env bad", lambda: built(subject="s", message="m", to="a@example.com"))
del os.environ["LAVA_EMAIL_MAX_ATTACHMENTS"]
os.environ["LAVA_EMAIL_MSGID_DOMAIN"] = "env.test"
attempt("message env msgid domain", lambda: built(subject="s", message="m", to="a@example.com")[0][2])
del os.environ["LAVA_EMAIL_MSGID_DOMAIN"]


def ses_sent(call):
    """What ``call`` sent to SES (the request's parameters, the message as text), or its error."""
    sent_to_ses.clear()
    got = call()
    return typed(got), list(sent_to_ses)


ses = lemail.Emailer.handler(ses_spec, name, aws_session=mail_session)
attempt("AwsSes client", lambda: (ses.ses_client.meta.region_name, ses.ses_client.meta.service_model.service_name))
attempt("AwsSes send", lambda: ses_sent(lambda: ses.send("SES subject", "SES body", to=["a@example.com", "B <b@example.com>"], cc="c@example.com",
                                                          bcc=["d@example.com"], attachments=[lemail.EmailAttachment("x.txt", "x")])))
attempt("AwsSes send sender", lambda: ses_sent(lambda: ses.send("s", "<html>h</html>", bcc="hidden@example.com", cc="c@example.com", sender=f"{name}@example.com", reply_to="r@example.com")))
attempt("AwsSes send realm sender", lambda: ses_sent(lambda: lemail.AwsSes({**ses_spec, "from": None}, name, aws_session=mail_session).send("s", "m", to="a@example.com")))
attempt("AwsSes send unverified", lambda: ses_sent(lambda: ses.send("s", "m", to="a@example.com", sender="nobody@example.com")))
attempt("AwsSes send other region", lambda: ses_sent(lambda: lemail.AwsSes({**ses_spec, "region": "eu-west-3"}, name, aws_session=mail_session).send("s", "m", to="a@example.com")))
attempt("AwsSes send config set", lambda: ses_sent(lambda: lemail.AwsSes({**ses_spec, "configuration_set": f"{name}-none"}, name, aws_session=mail_session).send("s", "m", to="a@example.com")))
attempt("AwsSes send no recipients", lambda: ses_sent(lambda: ses.send("s", "m", bcc="a@example.com")))
os.environ["LAVA_EMAIL_MAX_SIZE"] = "300"


def sized(call):
    """``call``'s error, the message's size (which varies with the User-Agent) replaced."""
    try:
        return call()
    except ValueError as e:
        raise ValueError(re.sub(r"size \d+ bytes", "size <n> bytes", str(e))) from None


attempt("AwsSes send too big", lambda: sized(lambda: ses_sent(lambda: ses.send("s", "m", to="a@example.com"))))
del os.environ["LAVA_EMAIL_MAX_SIZE"]


def ses_context():
    with lemail.Emailer.handler({**ses_spec, "type": "email"}, name, aws_session=mail_session) as h:
        h.send("In context", "m", to="a@example.com")
    return type(h).__name__


attempt("AwsSes context", lambda: ses_sent(ses_context))
legacy = lemail.AwsSesLegacy(ses_spec, name, aws_session=mail_session)
attempt("AwsSesLegacy", lambda: (legacy.sender, lemail.AwsSesLegacy({**ses_spec, "from": None}, name, aws_session=mail_session).sender,
                                 lemail.AwsSesLegacy({**ses_spec, "from": None}, name, sender="x@example.com", aws_session=mail_session).sender))
attempt("AwsSesLegacy send", lambda: ses_sent(lambda: legacy.send("Legacy", "text body", to="a@example.com", cc=["c@example.com"], bcc="b@example.com")))
attempt("AwsSesLegacy send html", lambda: ses_sent(lambda: legacy.send("Legacy", "<!DOCTYPE html><p>x</p>", to="a@example.com", reply_to=["r@example.com"], sender=f"{name}@example.com")))
attempt("AwsSesLegacy send attachments", lambda: legacy.send("s", "m", to="a@example.com", attachments=["x"]))
attempt("AwsSesLegacy send no subject", lambda: legacy.send("", "m", to="a@example.com"))
attempt("AwsSesLegacy send no sender", lambda: lemail.AwsSesLegacy({**ses_spec, "from": ""}, name, aws_session=mail_session).send("s", "m", to="a@example.com"))


class SmtpSession(socketserver.StreamRequestHandler):
    """One SMTP client's session: AUTH PLAIN (as mailer / pw-secret), no STARTTLS; every command
    it gives (the message's text with what varies replaced) noted in ``smtp_log``."""

    def say(self, *lines):
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())

    def handle(self):
        log = []
        smtp_log.append(log)
        self.say("220 lib-test ESMTP")
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                log.append(verb)
                self.say("250-lib-test", "250-AUTH PLAIN", "250 HELP")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(command.split(" ")[2]).decode().split("\0")
                log.append(f"AUTH {user} {password}")
                self.say("235 2.7.0 Authentication successful" if (user, password) == ("mailer", "pw-secret") else "535 5.7.8 Authentication credentials invalid")
            elif verb in ("MAIL", "RCPT"):
                log.append(command)
                self.say("550 5.1.1 No such user" if "refused" in command else "250 OK")
            elif verb == "DATA":
                self.say("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while (part := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(part[1:] if part.startswith(b"..") else part)
                log.append({"DATA": mail_lines(b"".join(body))})
                self.say("250 OK queued")
            elif verb == "QUIT":
                log.append(verb)
                self.say("221 Bye")
                return
            else:
                log.append(command)
                self.say("250 OK" if verb in ("RSET", "NOOP") else "502 Command not implemented")


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False


smtp_log = []
smtp_server = SmtpServer(("127.0.0.1", 0), SmtpSession)
threading.Thread(target=smtp_server.serve_forever, daemon=True).start()
session.client("ssm").put_parameter(Name=f"/{name}/smtp", Value="pw-secret", Type="SecureString")
session.client("ssm").put_parameter(Name=f"/{name}/smtp-wrong", Value="guess", Type="SecureString")
smtp_spec = {"conn_id": "mail-smtp", "type": "smtp", "enabled": True, "host": "127.0.0.1", "port": smtp_server.server_address[1],
             "from": "Lava <lava@example.com>", "reply_to": ["r@example.com"]}


def smtp_run(spec, *sends, **kwargs):
    """Makes an SMTP emailer for ``spec``, sends each of ``sends`` (keyword arguments) and closes
    it: each send's result or error, then what the server heard."""
    smtp_log.clear()
    got = []
    try:
        h = lemail.Emailer.handler(spec, name, aws_session=mail_session, **kwargs)
        got.append((type(h).__name__, type(h.server).__name__, h.sender))
        with h:
            for send in sends:
                try:
                    got.append(typed(h.send(**send)))
                except Exception as e:
                    got.append([type(e).__name__, re.sub(r"size \d+ bytes", "size <n> bytes", str(e))])
    except Exception as e:
        got.append([type(e).__name__, str(e)])
    return got, smtp_log[:]


attempt("SmtpTls send", lambda: smtp_run(smtp_spec, dict(subject="SMTP", message="Hello over SMTP", to=["a@example.com", "Bee <b@example.com>"], cc="c@example.com"),
                                         dict(subject="Second", message="<html>two</html>", to="a@example.com", bcc=["hidden@example.com"], sender="Other <o@example.com>", reply_to="x@example.com",
                                              attachments=[lemail.EmailAttachment("a.txt", "attached"), os.path.join(files, "data.csv")])))
attempt("SmtpTls send bcc only", lambda: smtp_run(smtp_spec, dict(subject="s", message="m", bcc="hidden@example.com")))
attempt("SmtpTls send errors", lambda: smtp_run(smtp_spec, dict(subject="s", message="m", to="a@example.com", sender=""), dict(subject="", message="m", to="a@example.com"),
                                                dict(subject="s", message="m", to=["a@example.com", "refused@example.com"]), dict(subject="s", message="m", to="refused@example.com")))
attempt("SmtpTls email subtype", lambda: smtp_run({**smtp_spec, "type": "email", "subtype": "smtp", "from": None}, dict(subject="s", message="m", to="a@example.com"), sender="Arg <arg@example.com>"))
attempt("SmtpTls no sender", lambda: smtp_run({**smtp_spec, "from": None}, dict(subject="s", message="m", to="a@example.com")))
os.environ["LAVA_EMAIL_MAX_SIZE"] = "200"
attempt("SmtpTls too big", lambda: smtp_run(smtp_spec, dict(subject="s", message="m", to="a@example.com")))
del os.environ["LAVA_EMAIL_MAX_SIZE"]
attempt("SmtpTls login", lambda: smtp_run({**smtp_spec, "user": "mailer", "password": f"/{name}/smtp"}, dict(subject="s", message="m", to="a@example.com")))
attempt("SmtpTls login refused", lambda: smtp_run({**smtp_spec, "user": "mailer", "password": f"/{name}/smtp-wrong"}))
attempt("SmtpTls login no password", lambda: smtp_run({**smtp_spec, "user": "mailer"}))
attempt("SmtpTls login no parameter", lambda: smtp_run({**smtp_spec, "user": "mailer", "password": f"/{name}/none"}))
attempt("SmtpTls tls", lambda: smtp_run({**smtp_spec, "tls": "yes"}))
attempt("SmtpTls tls bad", lambda: smtp_run({**smtp_spec, "tls": "maybe"}))
attempt("SmtpTls no host", lambda: smtp_run({k: v for k, v in smtp_spec.items() if k != "host"}))
attempt("SmtpTls bad port", lambda: smtp_run({**smtp_spec, "port": "smtp"}))
attempt("SmtpTls refused", lambda: smtp_run({**smtp_spec, "port": 1}))  # nothing listens on port 1
smtp_server.shutdown()
smtp_server.server_close()
for realm_name in (name, f"{name}-bad"):
    realms.delete_item(Key={"realm": realm_name})


# lava.lib.slack, posting to a webhook here
from lava.lib import slack as lslack


class Webhook(http.server.BaseHTTPRequestHandler):
    """Notes each POST (path, type, JSON body); /fail answers 500."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        posted.append({"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(body)})
        failing = self.path == "/fail"
        reply = b"no good" if failing else b"ok"
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


posted = []
webhook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
threading.Thread(target=webhook.serve_forever, daemon=True).start()
hook = f"http://127.0.0.1:{webhook.server_address[1]}"
slack_spec = {"conn_id": "chat", "type": "slack", "enabled": True, "webhook_url": f"{hook}/hook"}


def slack_state(h):
    return h.sender, h.style, h.colour, h.preamble, h.realm, h.conn_spec["conn_id"]


def slack_posted(call):
    """What ``call`` posted, event times checked and replaced."""
    posted.clear()
    before = int(time.time())
    got = call()
    after = int(time.time())

    def stamp(found):
        return "<ts>" if before <= int(found.group(2)) <= after else "<bad ts>"

    text = re.sub(r'("ts": )(\d+)', lambda m: f'{m.group(1)}"{stamp(m)}"', json.dumps(posted))
    return typed(got), json.loads(re.sub(r"(<!date\^)(\d+)", lambda m: m.group(1) + stamp(m), text))


attempt("Slack defaults", lambda: slack_state(lslack.Slack(slack_spec, name)))
attempt("Slack spec defaults", lambda: slack_state(lslack.Slack({**slack_spec, "from": "bot", "style": "plain", "colour": "good", "preamble": "<!here>"}, name)))
attempt("Slack arguments", lambda: slack_state(lslack.Slack({**slack_spec, "style": "nope"}, name, sender="me", style="attachment", colour="#123456", preamble="hey")))
attempt("Slack disabled", lambda: lslack.Slack({**slack_spec, "enabled": False}, name))
attempt("Slack not slack", lambda: lslack.Slack({**slack_spec, "type": "email"}, name))
attempt("Slack no conn_id", lambda: lslack.Slack({"type": "slack"}, name))
attempt("Slack bad style", lambda: lslack.Slack({**slack_spec, "style": "fancy"}, name))
attempt("Slack constants", lambda: (lslack.DEFAULT_COLOUR, lslack.MAX_SUBJECT_LEN, lslack.MAX_MESSAGE_LEN, lslack.REQUESTS_TIMEOUT, lslack.Slack.STYLES, lslack.Slack.STYLE_DEFAULT))
chat = lslack.Slack(slack_spec, name)
attempt("Slack send block", lambda: slack_posted(lambda: chat.send("Block *message*", subject="Subj", preamble="<!channel>")))
attempt("Slack send block bare", lambda: slack_posted(lambda: chat.send("just this", sender="")))
attempt("Slack send attachment", lambda: slack_posted(lambda: chat.send("Att message", subject="T", style="attachment", colour="danger", preamble="<!here>", sender="bot")))
attempt("Slack send attachment bare", lambda: slack_posted(lambda: lslack.Slack({**slack_spec, "style": "attachment", "colour": "#00ff00"}, name).send("m")))
attempt("Slack send plain", lambda: slack_posted(lambda: chat.send("Plain ünïcode", subject="S", style="plain", preamble="pre", sender="me")))
attempt("Slack send long", lambda: slack_posted(lambda: chat.send("m" * 3100, subject="s" * 300, style="plain")))
attempt("Slack send no message", lambda: chat.send("", subject="s"))
attempt("Slack send bad style", lambda: slack_posted(lambda: chat.send("m", style="fancy")))
attempt("Slack send raw", lambda: slack_posted(lambda: chat.send_raw({"text": "raw", "n": [1, 2.5, None]})))
attempt("Slack send failed", lambda: slack_posted(lambda: lslack.Slack({**slack_spec, "webhook_url": f"{hook}/fail"}, name).send("m")))
attempt("Slack send no webhook", lambda: lslack.Slack({k: v for k, v in slack_spec.items() if k != "webhook_url"}, name).send("m"))
attempt("Slack send bad colour", lambda: lslack.Slack({**slack_spec, "colour": 5}, name).send("m"))


def without_requests(call):
    """``call`` with ``import requests`` failing (a module that imported it already keeps it)."""
    saved = sys.modules.get("requests")
    sys.modules["requests"] = None
    try:
        return call()
    finally:
        sys.modules["requests"] = saved


attempt("Slack send without requests", lambda: without_requests(lambda: slack_posted(lambda: chat.send("no requests", subject="s", style="plain"))))
attempt("Slack send failed without requests", lambda: without_requests(lambda: lslack.Slack({**slack_spec, "webhook_url": f"{hook}/fail"}, name).send("m")))
webhook.shutdown()
webhook.server_close()


# lava.lib.smb: status codes, errors, file attributes, and making folders through any connection
from lava.lib import smb

attempt("smb constants", lambda: (smb.SMB_JOB_PARAMS_REQUIRED_FIELDS, smb.SMB_JOB_PARAMS_OPTIONAL_FIELDS, smb.SMB_CLI))
attempt("NTStatus", lambda: [(m.name, m.value) for m in smb.NTStatus])
for code in [0, 0xC0000034, 3221225506, 0xC0000034 + 0.0, -1, 12345, "0xC0000034", None, smb.NTStatus.STATUS_PENDING]:
    attempt(f"NTStatus.lookup {code!r}", lambda code=code: smb.NTStatus.lookup(code).name)
attempt("NTStatus int", lambda: (smb.NTStatus.STATUS_ACCESS_DENIED == 0xC0000022, smb.NTStatus(0xC0000022).name, isinstance(smb.NTStatus.STATUS_SUCCESS, int)))
attempt("NTStatus bad value", lambda: smb.NTStatus(7))
failure = smb.SMBOperationError(ntstatus=0xC0000034, description="no such file")
attempt("SMBOperationError", lambda: (str(failure), failure.args, repr(failure), failure.ntstatus, failure.description, isinstance(failure, smb.SMBBaseError)))
attempt("SMBOperationError args", lambda: (lambda e: (str(e), e.args))(smb.SMBOperationError("a", 2, ntstatus=99, description="odd")))
attempt("SMBOperationError missing", lambda: smb.SMBOperationError("x"))
attempt("SMBOperationError extra", lambda: smb.SMBOperationError(ntstatus=1, description="d", other=1))
for cls in [smb.SMBBaseError, smb.SMBTimeoutError, smb.SMBConnectionError]:
    attempt(f"{cls.__name__}", lambda cls=cls: (lambda e: (str(e), e.args, [c.__name__ for c in type(e).__mro__]))(cls("went wrong", 2)))
    attempt(f"{cls.__name__} keywords", lambda cls=cls: cls("x", detail=1))
attempt("file attributes", lambda: ([(m.name, m.value) for m in smb.MSCIFSFileAttributes], [(m.name, m.value) for m in smb.MSFSCCFileAttributes],
                                    list(smb.SMBFileAttributes), issubclass(smb.MSFSCCFileAttributes, smb.SMBFileAttributes)))
attempt("SMBSigningOptions", lambda: [(m.name, m.value) for m in smb.SMBSigningOptions])


def smb_file(bits, attributes_class, **kwargs):
    entry = smb.SMBFile(1.5, 2.5, 3.5, 4.5, 10, 4096, bits, "f.txt", attributes_class, **kwargs)
    return (entry.get_readable_attributes(), entry.is_directory, entry.is_read_only, entry.is_normal,
            entry.has_attribute(attributes_class.ARCHIVE), entry.has_attribute(attributes_class.NORMAL))


for bits in [0, 0x01, 0x10, 0x20, 0x80, 0x21, 0x100, 0x10011, 0x4000]:
    attempt(f"SMBFile cifs {bits:#x}", lambda bits=bits: smb_file(bits, smb.MSCIFSFileAttributes))
    attempt(f"SMBFile fscc {bits:#x}", lambda bits=bits: smb_file(bits, smb.MSFSCCFileAttributes))
attempt("SMBFile fields", lambda: (lambda f: sorted((k, v) for k, v in vars(f).items() if not k.startswith("_")))(
    smb.SMBFile(1, 2, 3, 4, 5, 6, 0x20, "name.txt", smb.MSFSCCFileAttributes, short_name="NAME~1.TXT", file_id=77)))
attempt("LavaSMBConnection abstract", lambda: sorted(smb.LavaSMBConnection.__abstractmethods__))


class Partial(smb.LavaSMBConnection):
    def close(self):
        pass


attempt("LavaSMBConnection partial", lambda: Partial())


class MemoryShare(smb.LavaSMBConnection):
    """A share held in a dict (path -> True for a folder, False for a file), noting each call."""

    def __init__(self, *paths):
        self.paths = dict(paths)
        self.calls = []

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    @property
    def connected(self):
        return True

    def connect(self, ip=None, port=None, timeout=60):
        pass

    def close(self):
        pass

    def list_path(self, service_name, path, pattern="*", timeout=30, **kwargs):
        return []

    def get_attributes(self, service_name, path, timeout=30):
        self.calls.append(("get_attributes", service_name, path))
        if path not in self.paths:
            raise smb.SMBOperationError(ntstatus=smb.NTStatus.STATUS_OBJECT_NAME_NOT_FOUND, description=path)
        bits = smb.MSFSCCFileAttributes.DIRECTORY if self.paths[path] else smb.MSFSCCFileAttributes.ARCHIVE
        return smb.SMBFile(0, 0, 0, 0, 0, 0, bits, os.path.basename(path), smb.MSFSCCFileAttributes)

    def retrieve_file(self, service_name, path, file_obj, timeout=30, **kwargs):
        return 0, 0

    def store_file(self, service_name, path, file_obj, timeout=30, **kwargs):
        return 0

    def delete_files(self, service_name, path_file_pattern, delete_matching_folders=False, timeout=30):
        pass

    def create_directory(self, service_name, path, timeout=30):
        self.calls.append(("create_directory", service_name, path))
        self.paths[path] = True

    def delete_directory(self, service_name, path, timeout=30):
        pass

    def rename(self, service_name, old_path, new_path, timeout=30):
        pass

    def echo(self, timeout=10):
        return smb.NTStatus.STATUS_SUCCESS


def on_share(call, *paths):
    share = MemoryShare(*paths)
    try:
        got = typed(call(share))
    except Exception as e:
        got = [type(e).__name__, str(e)]
    return got, share.calls


attempt("smb_dir_exists", lambda: on_share(lambda c: [smb.smb_dir_exists(c, "Public", p) for p in ["a", "a/b", "none"]], ("a", True), ("a/b", True)))
attempt("smb_dir_exists file", lambda: on_share(lambda c: smb.smb_dir_exists(c, "Public", "a/f.txt"), ("a", True), ("a/f.txt", False)))
attempt("smb_mkdirs", lambda: on_share(lambda c: smb.smb_mkdirs(c, "Public", "a/b/c/d"), ("a", True)))
attempt("smb_mkdirs exists", lambda: on_share(lambda c: smb.smb_mkdirs(c, "Public", "a/b"), ("a", True), ("a/b", True)))
attempt("smb_mkdirs top", lambda: on_share(lambda c: smb.smb_mkdirs(c, "Public", "new")))
attempt("smb_mkdirs absolute", lambda: on_share(lambda c: smb.smb_mkdirs(c, "Public", "/x/y"), ("/", True)))
attempt("smb_mkdirs file in the way", lambda: on_share(lambda c: smb.smb_mkdirs(c, "Public", "a/f.txt/g"), ("a", True), ("a/f.txt", False)))
attempt("SMBProtocolConnection unconnected", lambda: (lambda c: (c.connected, c._port, c._auth_protocol, c._require_signing, c._skip_dfs, c.list_path("s", "p")))(
    smb.SMBProtocolConnection("u", "p", "me", "server", domain="", use_ntlm_v2=False, sign_options=smb.SMBSigningOptions.SIGN_NEVER, is_direct_tcp=False)))


print(json.dumps(results, indent=1, sort_keys=True))
