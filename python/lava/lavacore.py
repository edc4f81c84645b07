"""The original's module name for the realm calls (``from lava.lavacore import dispatch``)."""

from lava.core import dispatch, get_job_spec, get_realm_info, scan_jobs, scan_realms

__all__ = ["dispatch", "get_job_spec", "get_realm_info", "scan_jobs", "scan_realms"]
