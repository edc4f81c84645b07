"""Connections by conn_id.

The details (host, user, password from SSM or Secrets Manager, IAM credentials, ...) come from
lava itself: the ``lava connection resolve`` command (``LAVA_CLI`` names the program, else
``lava`` on PATH), so this package holds no copy of the secrets logic. Sending email and Slack
messages and moving files to and from SMB shares run ``lava email``, ``lava slack`` and ``lava
smb``. Drivers: pg8000 (PostgreSQL family), PyMySQL (MySQL/MariaDB), sqlite3.

The ``aws_session`` arguments of the original's signatures are accepted and unused: the lava
command takes its AWS credentials from the job's environment.
"""

import json
import os
import sqlite3
import tempfile

from lava import _cli
from lava.errors import LavaError

__all__ = [
    "Sqlite3Connection",
    "cli_connect_generic",
    "get_aws_connection",
    "get_aws_session",
    "get_cli_connection",
    "get_connection_details",
    "get_connection_spec",
    "get_docker_connection",
    "get_email_connection",
    "get_generic_connection",
    "get_pysql_connection",
    "get_slack_connection",
    "get_smb_connection",
    "get_sqlalchemy_engine",
    "install_ssh_key",
]


def get_connection_details(conn_id, realm):
    """The connection's details as a dict, secrets resolved (never log it)."""
    return json.loads(_cli.run(["connection", "resolve", conn_id], realm=_cli.realm_name(realm)))


def get_connection_spec(conn_id, realm, aws_session=None):
    """The connection's entry as stored (secret fields hold SSM parameter names)."""
    return json.loads(_cli.run(["connection", "get", conn_id], realm=_cli.realm_name(realm)))


def get_aws_connection(conn_id, realm, aws_session=None):
    """An ``aws`` connection's credentials: ``aws_access_key_id``, ``aws_secret_access_key``,
    ``aws_session_token`` (for a role) and ``region``."""
    details = get_connection_details(conn_id, realm)
    if details.get("type") != "aws":
        raise LavaError("Connection %s: not an aws connection" % conn_id)
    keys = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region")
    return {k: details[k] for k in keys if k in details}


def get_aws_session(conn_id, realm, aws_session=None):
    """A boto3 Session with an ``aws`` connection's credentials."""
    import boto3

    c = get_aws_connection(conn_id, realm)
    return boto3.Session(
        aws_access_key_id=c["aws_access_key_id"],
        aws_secret_access_key=c["aws_secret_access_key"],
        aws_session_token=c.get("aws_session_token"),
        region_name=c.get("region"),
    )


def get_generic_connection(conn_id, realm, aws_session=None):
    """A ``generic`` connection's attributes, SSM values resolved."""
    details = get_connection_details(conn_id, realm)
    if details.get("type") != "generic":
        raise LavaError("Connection %s: not a generic connection" % conn_id)
    return details.get("attributes", {})


def get_cli_connection(conn_id, realm, workdir, aws_session=None):
    """Writes the connection's connector script (what ``LAVA_CONN_<LABEL>`` names in a job)
    under ``workdir`` and returns its path."""
    return _cli.run(["connection", "script", conn_id, "--dir", workdir], realm=_cli.realm_name(realm)).strip()


def _many(values):
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    return list(values)


class LavaEmailConnection:
    """Sends email through an ``email`` connection (SES or its SMTP server)."""

    def __init__(self, conn_id, realm):
        self.conn_id = conn_id
        self.realm = _cli.realm_name(realm)

    def send(self, subject, message, to=None, cc=None, bcc=None, sender=None, reply_to=None, attachments=None):
        """Sends one message; ``to``, ``cc``, ``bcc``, ``reply_to`` and ``attachments`` (local
        paths or ``s3://`` locations) are a string or a list."""
        args = ["email", "--conn-id", self.conn_id, "--subject", subject]
        for flag, values in (("--to", to), ("--cc", cc), ("--bcc", bcc), ("--reply-to", reply_to), ("--attach", attachments)):
            for value in _many(values):
                args += [flag, value]
        if sender:
            args += ["--from", sender]
        _cli.run(args + ["-"], realm=self.realm, stdin=message)


def get_email_connection(conn_id, realm, aws_session=None):
    """A sender for an ``email`` connection."""
    return LavaEmailConnection(conn_id, realm)


class LavaSlackConnection:
    """Posts messages to a ``slack`` connection's webhook."""

    def __init__(self, conn_id, realm):
        self.conn_id = conn_id
        self.realm = _cli.realm_name(realm)

    def send(self, message, subject=None, preamble=None, sender=None, style=None, colour=None):
        """Posts one message; unset options take the connection's values."""
        args = ["slack", "--conn-id", self.conn_id]
        for flag, value in (("--subject", subject), ("--preamble", preamble), ("--from", sender), ("--style", style), ("--bar-colour", colour)):
            if value:
                args += [flag, value]
        _cli.run(args + ["-"], realm=self.realm, stdin=message)


def get_slack_connection(conn_id, realm, aws_session=None):
    """A sender for a ``slack`` connection."""
    return LavaSlackConnection(conn_id, realm)


class LavaSMBConnection:
    """Files to and from an ``smb`` connection's shares, pysmb's way (file objects) or by
    path. Paths are POSIX style, relative to the share."""

    def __init__(self, conn_id, realm):
        self.conn_id = conn_id
        self.realm = _cli.realm_name(realm)

    def _smb(self, *args):
        _cli.run(["smb", "--conn-id", self.conn_id, "-J"] + list(args), realm=self.realm)

    def get_file(self, share, path, local):
        """Copies ``share:path`` to the local file (or ``s3://`` location) ``local``."""
        self._smb("get", "%s:%s" % (share, path), local)

    def put_file(self, local, share, path, mkdirs=False):
        """Copies the local file (or ``s3://`` location) ``local`` to ``share:path``."""
        self._smb("put", *(["--mkdir"] if mkdirs else []), local, "%s:%s" % (share, path))

    def retrieve_file(self, service_name, path, file_obj):
        """Writes ``service_name:path`` into ``file_obj`` (binary); returns (None, size)."""
        with tempfile.TemporaryDirectory() as tmp:
            local = os.path.join(tmp, "file")
            self.get_file(service_name, path, local)
            with open(local, "rb") as f:
                data = f.read()
        file_obj.write(data)
        return None, len(data)

    def store_file(self, service_name, path, file_obj):
        """Writes what ``file_obj`` (binary) holds to ``service_name:path``; returns its size."""
        data = file_obj.read()
        with tempfile.TemporaryDirectory() as tmp:
            local = os.path.join(tmp, "file")
            with open(local, "wb") as f:
                f.write(data)
            self.put_file(local, service_name, path)
        return len(data)

    def close(self):
        """Nothing to close: each transfer has its own session."""


def get_smb_connection(conn_id, realm, aws_session=None):
    """Files to and from an ``smb`` connection's shares."""
    if get_connection_details(conn_id, realm).get("type") != "smb":
        raise LavaError("Connection %s: not an smb connection" % conn_id)
    return LavaSMBConnection(conn_id, realm)


def _application_name(details, realm, application_name):
    if application_name:
        return application_name
    job_id = os.environ.get("LAVA_JOB_ID", "")
    if realm and job_id:
        return "lv-%s-%s" % (realm, job_id)
    return None


def _ssl_context(details):
    """The TLS context for `ssl_mode` (require: encrypted, unchecked; verify-ca: the
    certificate checked against `ca_cert` or the system's roots; verify-full: and the host
    name), or None for no TLS."""
    mode = details.get("ssl_mode") or ("require" if details.get("ssl") else "prefer")
    if mode not in ("require", "verify-ca", "verify-full"):
        return None
    import ssl

    context = ssl.create_default_context(cafile=details.get("ca_cert"))
    if mode != "verify-full":
        context.check_hostname = False
    if mode == "require":
        context.verify_mode = ssl.CERT_NONE
    return context


class Sqlite3Connection(sqlite3.Connection):
    """An SQLite database, local or kept in S3 (``s3://bucket/key``, which must exist; a zero-byte
    object will do): an S3 one is copied down when opened and put back when closed if its size
    or modification time changed, as the original's is."""

    def __init__(self, database, *args, aws_session=None, **kwargs):
        self._s3 = None
        self._local = database
        if database.startswith("s3://"):
            try:
                import boto3
            except ImportError:
                raise LavaError("An SQLite database in S3 needs boto3 in the job's Python") from None
            bucket, _, key = database[len("s3://"):].partition("/")
            client = (aws_session or boto3.Session()).client("s3")
            fd, self._local = tempfile.mkstemp(suffix=".sqlite3")
            os.close(fd)
            try:
                client.download_file(bucket, key, self._local)
            except Exception as e:
                os.unlink(self._local)
                raise LavaError(str(e)) from e
            self._s3 = (client, bucket, key, os.stat(self._local))
        super().__init__(self._local, *args, **kwargs)

    def close(self):
        super().close()
        if self._s3:
            client, bucket, key, before = self._s3
            self._s3 = None
            after = os.stat(self._local)
            try:
                if (after.st_size, after.st_mtime) != (before.st_size, before.st_mtime):
                    client.upload_file(self._local, bucket, key)
            finally:
                os.unlink(self._local)


def get_pysql_connection(conn_id, realm, autocommit=False, aws_session=None, application_name=None):
    """A DBAPI 2.0 connection for a lava database connection."""
    details = get_connection_details(conn_id, realm)
    engine = details["engine"]
    app = _application_name(details, realm, application_name)
    if engine == "postgres":
        import pg8000

        ssl_context = _ssl_context(details)
        conn = pg8000.connect(
            user=details["user"],
            password=details["password"],
            host=details["host"],
            port=int(details["port"]),
            database=details["database"],
            application_name=app[:63] if app else None,
            ssl_context=ssl_context,
        )
        conn.autocommit = autocommit
        return conn
    if engine == "mysql":
        import pymysql

        options = {}
        mode = details.get("ssl_mode") or ("require" if details.get("ssl") else "prefer")
        if mode in ("require", "verify-ca", "verify-full"):
            options["ssl"] = {"ca": details.get("ca_cert"), "check_hostname": mode == "verify-full"}
            if mode != "require" and not details.get("ca_cert"):
                import ssl

                options["ssl"]["ca"] = ssl.get_default_verify_paths().cafile
        return pymysql.connect(
            host=details["host"],
            port=int(details["port"]),
            user=details["user"],
            password=details["password"],
            database=details.get("database"),
            autocommit=autocommit,
            program_name=app,
            **options,
        )
    if engine == "sqlite3":
        return Sqlite3Connection(details["host"], isolation_level=None if autocommit else "", aws_session=aws_session)
    raise LavaError("Unsupported connection type - %s" % details.get("type"))


_DIALECTS = {"postgres": "postgresql+pg8000://", "mysql": "mysql+pymysql://", "sqlite3": "sqlite://"}


def get_sqlalchemy_engine(conn_id, realm, aws_session=None, application_name=None, **kwargs):
    """An SQLAlchemy engine whose connections come from :func:`get_pysql_connection`."""
    import sqlalchemy

    engine = get_connection_details(conn_id, realm)["engine"]
    url = _DIALECTS.get(engine)
    if url is None:
        raise LavaError("Unsupported connection type - %s" % engine)

    def creator():
        return get_pysql_connection(conn_id, realm, application_name=application_name)

    return sqlalchemy.create_engine(url, creator=creator, **kwargs)


def install_ssh_key(ssm_param_name, key_file_name, aws_session=None):
    """Writes the SSH key kept in the SSM parameter ``ssm_param_name`` (line breaks may have
    been stored as commas) to ``key_file_name``, readable by its owner only."""
    import boto3

    session = aws_session or boto3.Session()
    try:
        key = session.client("ssm").get_parameter(Name=ssm_param_name, WithDecryption=True)["Parameter"]["Value"]
    except Exception as e:
        raise LavaError("SSM %s - %s" % (ssm_param_name, e)) from None
    descriptor = os.open(key_file_name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        print(key.replace(",", "\n"), file=out)
    os.chmod(key_file_name, 0o600)


def _registry_credentials(conn_id, realm, details, registry):
    """The user, password and server to log in to a docker connection's registry: its own
    (the password from SSM, resolved by lava), or ECR's (``ecr`` or ``ecr:ACCOUNT``)."""
    if registry != "ecr" and not registry.startswith("ecr:"):
        if not details.get("user") or not details.get("password"):
            raise LavaError("Connection %s: a registry login needs user and password" % conn_id)
        return details["user"], details["password"], registry
    import base64

    import boto3

    accounts = registry.split(":")[1:]
    ecr = boto3.Session().client("ecr")
    auth = (ecr.get_authorization_token(registryIds=accounts) if accounts else ecr.get_authorization_token())[
        "authorizationData"
    ][0]
    user, password = base64.b64decode(auth["authorizationToken"]).decode("utf-8").split(":", 1)
    return user, password, auth["proxyEndpoint"].removeprefix("https://")


def get_docker_connection(conn_id, realm, aws_session=None):
    """A docker client (docker-py) for a ``docker`` connection: its ``server`` (``tls``,
    ``timeout``) or the environment's, logged in to its ``registry`` with the docker CLI; the
    environment's client when ``conn_id`` is empty. The caller closes it."""
    import subprocess

    import docker

    if not conn_id:
        return docker.from_env()
    spec = get_connection_spec(conn_id, realm)
    if str(spec.get("type", "")).lower() != "docker":
        raise LavaError('Connection %s: Must be of type "docker" not %s' % (conn_id, spec.get("type")))
    if not spec.get("enabled"):
        raise LavaError("Connection %s: Not enabled" % conn_id)
    try:
        if "server" in spec:
            args = {"base_url": spec["server"], "tls": spec.get("tls", True)}
            if "timeout" in spec:
                args["timeout"] = int(spec["timeout"])
            client = docker.DockerClient(**args)
        else:
            client = docker.from_env()
    except Exception as e:
        raise LavaError("Connection %s: %s" % (conn_id, e)) from None
    if spec.get("registry"):
        details = get_connection_details(conn_id, realm)
        user, password, server = _registry_credentials(conn_id, realm, details, spec["registry"])
        done = subprocess.run(
            ["docker", "login", "--username", user, "--password-stdin", server],
            input=password,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise LavaError("Connection %s: Cannot login to registry: %s" % (conn_id, done.stdout + done.stderr))
    return client


def cli_connect_generic(conn_spec, workdir, aws_session=None):
    """The generic connector's script (``SCRIPT NAME`` prints the attribute ``NAME``) for a
    ``generic`` connection's spec as :func:`get_connection_spec` gives it, written under
    ``workdir``: its path. The connection is read by its ``conn_id`` from the realm in
    ``LAVA_REALM``, secrets resolved by lava."""
    if str(conn_spec.get("type", "")).lower() != "generic":
        raise LavaError('Connection %s: Must be of type "generic" not %s' % (conn_spec.get("conn_id"), conn_spec.get("type")))
    return get_cli_connection(conn_spec["conn_id"], None, workdir)
