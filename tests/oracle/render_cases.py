"""Computes the expected output of the render test table with the original's engine
(Python Jinja2 + dateutil, the render variables as the original builds them) and writes
shared/render/src/cases.json. Run: .venv/bin/python tests/oracle/render_cases.py
(needs jinja2 and python-dateutil). The Rust test compares minijinja's output with it."""
import datetime, json, os, re, sys, uuid
import dateutil, dateutil.parser, dateutil.relativedelta, dateutil.tz
import jinja2

TEMPLATES = [
    "{{job.job_id}}@{{realm.realm}} ({{job.run_id}}) failed: {{result.error}}",
    "Failed on attempt {{ globals.lava.iteration }} but will try again!",
    "{{result | tojson}}",
    "{{ job.job_id }}|{{ realm.realm }}|{{job.run_id }}",
    "{{ job.globals.a_global }}",
    "{{ job.enabled }}",
    "{{ job.nothing }}",
    "{{ job.parameters }}",
    "{{ start }}",
    "{{ ustart }}",
    "{{ start.isoformat() }}",
    "{{ ustart.isoformat() }}",
    "{{ start.strftime('%Y%m%d') }}",
    "{{ start.strftime('%A %d %B %Y %H:%M:%S %p %j') }}",
    "{{ start.date() }}",
    "{{ (start - utils.timedelta(days=1)).date() }}",
    "{{ (ustart - utils.timedelta(hours=21)).strftime('%Y-%m-%d %H') }}",
    "{{ ustart + utils.timedelta(minutes=90) }}",
    "{{ utils.timedelta(days=1, hours=2) }}",
    "{{ utils.timedelta(days=3, seconds=5) }}",
    "{{ utils.timedelta(seconds=600).total_seconds() }}",
    "{{ -utils.timedelta(hours=1) }}",
    "{{ ustart - utils.parsedate.isoparse('2025-03-03T16:15:02Z') > utils.timedelta(hours=3) }}",
    "{{ ustart - utils.parsedate.isoparse('2025-03-03T16:15:02Z') }}",
    "{{ start.timestamp() }}",
    "{{ start.year }}-{{ '%02d' % start.month }}",
    "{{ utils.date(year=ustart.year+1, month=4, day=25).strftime('%A') }}",
    "{{ (start + utils.dateutil.relativedelta.relativedelta(months=6)).date() }}",
    "{{ utils.date(2024, 1, 31) + utils.dateutil.relativedelta.relativedelta(months=1) }}",
    "{{ utils.dateutil.relativedelta.relativedelta(months=6) }}",
    "{{ utils.dateutil.parser.parse('4 Mar 2025 7:15pm').isoformat() }}",
    "{{ utils.parsedate.parse('2025-03-04T07:15:02+11:00') }}",
    "{{ utils.datetime.strptime('2025-03-04', '%Y-%m-%d') }}",
    "{{ utils.datetime(2025, 3, 4, 6, 5) }}",
    "{{ utils.datetime.fromtimestamp(0, utils.dateutil.tz.UTC) }}",
    "{{ (utils.date(2025, 3, 4) - utils.date(2025, 1, 1)).days }}",
    "{{ ustart.replace(hour=0, minute=0, second=0).isoformat() }}",
    "{{ start.astimezone(utils.dateutil.tz.UTC) }}",
    "{{ start.weekday() }} {{ start.isoweekday() }}",
    "{{ utils.s3bucket('s3://bkt/a/b/') }}",
    "{{ utils.s3key('s3://bkt/a/b/') }}",
    "{{ utils.uuid() | string | length }}",
    "{{ utils.path.basename('/a/b/c.csv') }}",
    "{{ utils.path.dirname('/a/b/c.csv') }}",
    "{{ utils.path.splitext('data.tar.gz')[1] }}",
    "{{ utils.path.join('a', 'b', 'c.txt') }}",
    "{{ utils.re.search('(\\\\d+)-(\\\\d+)', 'file-2025-03.csv').group(1) }}",
    "{{ utils.re.sub('[^a-z]', '_', 'a.b-c') }}",
    "{{ utils.re.findall('\\\\d', 'a1b2') }}",
    "{{ utils.re.match('x', 'abc') }}",
    "{{ 'a,b,c'.split(',') }}",
    "{{ job.job_id.upper() }}",
    "{{ job.job_id.replace('/', '.') }}",
    "{{ job.job_id.startswith('demo') }}",
    "{{ '  pad '.strip() }}|{{ 'x'.zfill(3) }}",
    "{{ job.parameters.get('missing', 'dflt') }}",
    "{% for k, v in job.parameters.vars.items() %}{{ k }}={{ v }};{% endfor %}",
    "{{ state['last-run'] }}",
    "{{ state.counter + 1 }}",
    "{{ 7 / 2 }} {{ 7 // 2 }} {{ 10 % 3 }} {{ -7 % 3 }}",
    "{{ 1.5 * 2 }}",
    "{{ 0.1 + 0.2 }}",
    "{{ [1, 2] + [3] }}",
    "{{ 'ab' * 2 }}",
    "{{ '{}-{:03d}'.format('x', 7) }}",
    "{{ '%s has %d items' % ('list', 3) }}",
    "{{ undefined_name }}",
    "{% if job.enabled %}yes{% else %}no{% endif %}",
    "{{ globals.lava.parent_start.isoformat() }}",
    "{{ job.ts_dispatch < start }}",
    "{{ result.error_data.exit_status }}",
    "{{ {'a': None, 'b': True} }}",
    "{{ [\"it's\", 'x'] }}",
    "{{ job.job_id | upper }} {{ job.parameters.args | join('+') }} {{ job.parameters.args | length }}",
    "{{ job.description | default('none', true) }}",
    "line\n",
    "{{ 3 }} {{ 3.0 }} {{ 1e20 }}",
    "{{ utils.time(6, 30) }} {{ utils.time(6, 30, 5).isoformat() }}",
    "{{ utils.datetime.combine(utils.date(2025, 1, 2), utils.time(3, 4)) }}",
    "{{ utils.datetime.fromisoformat('2025-03-04T05:06:07+00:00').hour }}",
    "{{ (ustart - utils.dateutil.relativedelta.relativedelta(months=1, day=1)).date() }}",
    "{{ (ustart + utils.dateutil.relativedelta.relativedelta(weekday=utils.dateutil.relativedelta.FR)).date() }}",
    "{{ (start - utils.parsedate.parse('2025-03-01T00:00:00+11:00')).days }}",
    "{{ ustart.astimezone(utils.dateutil.tz.gettz('Australia/Sydney')).isoformat() }}",
    "{{ utils.re.split('[,;]', 'a,b;c') }} {{ utils.re.match('(?P<y>\\d{4})', '2025x').groupdict() }}",
    "{{ utils.path.split('/a/b/c') }}",
    "{{ 'demo' in job.job_id }} {{ job.job_id[:4] }} {{ job.job_id[-3:] }}",
    "{{ '%-10s|%5.1f' % ('ab', 3.14159) }}",
    "{{ '{:>8}'.format('r') }}|{{ '{:,}'.format(1234567) }}|{{ '{:.2%}'.format(0.25) }}",
    "{{ state | tojson }}",
    "{% set d = ustart - utils.timedelta(hours=1) %}{{ d.hour }}:{{ '%02d' % d.minute }}",
    "{{ [start, ustart] | map(attribute='hour') | list }}",
]

SYDNEY = dateutil.tz.gettz("Australia/Sydney")
start = datetime.datetime(2025, 3, 4, 7, 15, 2, tzinfo=SYDNEY)
ustart = start.astimezone(datetime.timezone.utc)
dispatch = datetime.datetime(2025, 3, 4, 7, 15, 0, tzinfo=SYDNEY)
lava_globals = {"iteration": 2, "master_job_id": "demo/job", "master_start": start, "master_ustart": ustart,
                "parent_job_id": "demo/job", "parent_start": start, "parent_ustart": ustart}
globals_ = {"a_global": "g1", "lava": lava_globals}
job = {"job_id": "demo/job", "run_id": "2f9c6d7e-2b1c-4a53-9d1e-7b0c3f1a2e4d", "type": "cmd", "worker": "core",
       "enabled": True, "description": "", "parameters": {"vars": {"a": 1}, "args": ["x", "y"]}, "globals": globals_,
       "realm": "dev", "ts_dispatch": dispatch, "ts_start": start, "ts_ustart": ustart}
context = {
    "job": job, "globals": globals_, "realm": {"realm": "dev", "s3_temp": "s3://tmp/lava"},
    "state": {"last-run": "2025-03-01", "counter": 5},
    "result": {"error": "Failed with exit status 2", "error_data": {"exit_status": 2}},
    "start": start, "ustart": ustart,
    "utils": {"date": datetime.date, "datetime": datetime.datetime, "time": datetime.time,
              "timedelta": datetime.timedelta, "dateutil": dateutil, "parsedate": dateutil.parser,
              "s3bucket": lambda s: s.split("/")[2], "s3key": lambda s: "/".join(s.split("/")[3:]).strip("/"),
              "uuid": uuid.uuid4, "path": os.path, "re": re},
}


def as_json(v):
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: as_json(x) for k, x in v.items()}
    return v


env = jinja2.Environment()
cases = [{"template": t, "expected": env.from_string(t).render(**context)} for t in TEMPLATES]
out = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "render", "src", "cases.json")
with open(out, "w") as f:
    json.dump({"context": as_json({k: v for k, v in context.items() if k != "utils"}), "cases": cases}, f, indent=1)
    f.write("\n")
print(f"{len(cases)} cases written to {os.path.normpath(out)}")
