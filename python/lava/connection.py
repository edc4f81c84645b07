"""Connections by conn_id.

The details (host, user, password from SSM or Secrets Manager, ...) come from lava itself: the
``lava connection resolve`` command (``LAVA_CLI`` names the program, else ``lava`` on PATH), so
this package holds no copy of the secrets logic. Drivers: pg8000 (PostgreSQL family), PyMySQL
(MySQL/MariaDB), sqlite3.
"""

import json
import os
import shutil
import subprocess

from lava import LavaError

__all__ = ["get_connection_details", "get_pysql_connection", "get_sqlalchemy_engine"]


def _cli():
    cli = os.environ.get("LAVA_CLI") or shutil.which("lava")
    if not cli:
        raise LavaError("cannot find the lava command: set LAVA_CLI or put lava on PATH")
    return cli


def get_connection_details(conn_id, realm):
    """The connection's details as a dict (includes the password: never log it)."""
    command = [_cli(), "--realm", realm, "connection", "resolve", conn_id]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LavaError(done.stderr.strip() or "lava connection resolve failed for %s" % conn_id)
    return json.loads(done.stdout)


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


def get_pysql_connection(conn_id, realm, autocommit=False, application_name=None):
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
        import sqlite3

        return sqlite3.connect(details["host"], isolation_level=None if autocommit else "")
    raise LavaError("Unsupported connection type - %s" % details.get("type"))


_DIALECTS = {"postgres": "postgresql+pg8000://", "mysql": "mysql+pymysql://", "sqlite3": "sqlite://"}


def get_sqlalchemy_engine(conn_id, realm, application_name=None, **kwargs):
    """An SQLAlchemy engine whose connections come from :func:`get_pysql_connection`."""
    import sqlalchemy

    engine = get_connection_details(conn_id, realm)["engine"]
    url = _DIALECTS.get(engine)
    if url is None:
        raise LavaError("Unsupported connection type - %s" % engine)

    def creator():
        return get_pysql_connection(conn_id, realm, application_name=application_name)

    return sqlalchemy.create_engine(url, creator=creator, **kwargs)
