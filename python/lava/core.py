"""Jobs, realms and dispatches: ``lava.dispatch``, ``get_job_spec``, ``get_realm_info`` and
``scan_jobs``, read and sent through the ``lava`` command as the worker does it."""

import json
from decimal import Decimal

from lava import _cli
from lava.errors import LavaError


def _stored(text):
    """An item as DynamoDB's boto3 resource gives it, as the original read it: numbers are
    ``Decimal``."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def _no_such(e, what):
    """The original's words for a job or realm that is not in its table."""
    text = str(e)
    if text.startswith(what + " ") and text.endswith(": not found"):
        return LavaError("No such " + what)
    return e


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
    try:
        printed = _cli.run(args, realm=_cli.realm_name(realm))
    except LavaError as e:
        printed = str(e)  # a failed dispatch's outcome, printed as a successful one's
    try:
        outcome = json.loads(printed)[0]
    except ValueError:
        raise LavaError(printed) from None
    if "error" in outcome:
        raise _no_such(outcome["error"], "job")
    return outcome["run_id"]


def get_job_spec(job_id, realm_or_jobs_table=None):
    """The job's spec as stored, with the original's defaults for what it leaves out (numbers
    are ``Decimal``, as the original's DynamoDB resource gave them)."""
    realm = _realm_of(realm_or_jobs_table, "jobs")
    try:
        spec = _stored(_cli.run(["job", "get", job_id], realm=realm))
    except LavaError as e:
        raise _no_such(e, "job") from None
    for name, default in (("owner", ""), ("description", "")):
        if not spec.get(name):
            spec[name] = default
    spec.setdefault("enabled", False)
    spec.setdefault("max_tries", 0)
    for name in ("parameters", "globals"):
        if not spec.get(name):
            spec[name] = {}
    for name in spec["globals"]:
        if name.lower().startswith("lava"):
            raise LavaError("Reserved global: %s" % name)
    spec.setdefault("state", {})
    return spec


def get_realm_info(realm, realm_table=None):
    """The realm's entry as stored."""
    try:
        return _stored(_cli.run(["realm", "get"], realm=_cli.realm_name(realm)))
    except LavaError as e:
        raise _no_such(e, "realm") from None


def _by_key(entries, key, attributes):
    """A map from each entry's ``key`` to the key and the named ``attributes`` it has."""
    wanted = list(attributes or [])
    result = {}
    for entry in entries:
        row = {key: entry[key]}
        for name in wanted:
            if name in entry:
                row[name] = entry[name]
        result[entry[key]] = row
    return result


def scan_jobs(realm, attributes=None, aws_session=None):
    """A map from each job id of the realm to the named attributes of its spec (the job id
    only when none are named)."""
    jobs = json.loads(_cli.run(["job", "list", "--json"], realm=_cli.realm_name(realm)))
    return _by_key(jobs, "job_id", attributes)


def scan_realms(attributes=None, aws_session=None):
    """A map from each realm's name to the named attributes of its entry (the name only when
    none are named)."""
    return _by_key(json.loads(_cli.run(["realm", "list"])), "realm", attributes)
