"""Jobs, realms and dispatches: ``lava.dispatch``, ``get_job_spec``, ``get_realm_info`` and
``scan_jobs``, read and sent through the ``lava`` command as the worker does it."""

import json

from lava import _cli
from lava.errors import LavaError


def _realm_of(realm_or_table, suffix):
    """The realm from a realm name, or from a boto3 table resource named ``lava.<realm>.<suffix>``
    (the original's signatures pass the table)."""
    if realm_or_table is None or isinstance(realm_or_table, str):
        return _cli.realm_name(realm_or_table)
    name = getattr(realm_or_table, "name", "")
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == "lava" and parts[2] == suffix:
        return parts[1]
    if name == "lava.realms":
        return _cli.realm_name(None)
    raise LavaError("%r: give a realm name" % (realm_or_table,))


def dispatch(realm, job_id, worker=None, params=None, delay=0, queue_name=None, aws_session=None, globals_=None):
    """Dispatches ``job_id`` (one run); returns the run id. ``params`` and ``globals_`` are maps,
    sent with their values' types; ``delay`` is in seconds (at most 900). ``queue_name`` is
    not supported: the job's worker names its queue."""
    if queue_name:
        raise LavaError("queue_name is not supported: a job is sent to its worker's queue")
    args = ["dispatch", job_id, "--json"]
    # Whole and typed, as the original's message carries them (values JSON cannot hold as
    # they are, such as datetimes, become their text, as the original's json_default does).
    if params:
        args += ["--params-json", json.dumps(params, default=str)]
    if globals_:
        args += ["--globals-json", json.dumps(globals_, default=str)]
    if worker:
        args += ["-w", worker]
    if delay:
        args += ["-d", "%ds" % int(delay)]
    outcome = json.loads(_cli.run(args, realm=_cli.realm_name(realm)))[0]
    if "error" in outcome:
        raise LavaError(outcome["error"])
    return outcome["run_id"]


def get_job_spec(job_id, realm_or_jobs_table=None):
    """The job's spec as stored."""
    realm = _realm_of(realm_or_jobs_table, "jobs")
    return json.loads(_cli.run(["job", "get", job_id], realm=realm))


def get_realm_info(realm, realm_table=None):
    """The realm's entry as stored."""
    return json.loads(_cli.run(["realm", "get"], realm=_cli.realm_name(realm)))


def scan_jobs(realm, attributes=None, aws_session=None):
    """A map from each job id of the realm to the named attributes of its spec (the job id
    only when none are named)."""
    jobs = json.loads(_cli.run(["job", "list", "--json"], realm=_cli.realm_name(realm)))
    wanted = list(attributes or [])
    result = {}
    for job in jobs:
        entry = {"job_id": job["job_id"]}
        for name in wanted:
            if name in job:
                entry[name] = job[name]
        result[job["job_id"]] = entry
    return result
