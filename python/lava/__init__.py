"""The lava job SDK for Python jobs.

Jobs find their connections through ``LAVA_CONNID_<LABEL>`` and ``LAVA_REALM`` and open them with
the helpers of :mod:`lava.connection`; :mod:`lava.lib.state` reads and writes state items; and
``dispatch``, ``get_job_spec``, ``get_realm_info``, ``scan_jobs`` and ``scan_realms`` work on the realm. Every
detail comes from the ``lava`` command (the same Rust code the worker runs), so this package
holds no copy of lava's rules or secrets logic.
"""

from lava.errors import LavaError
from lava.version import __version__, __version_name__, __version_num__
from lava.core import dispatch, get_job_spec, get_realm_info, scan_jobs, scan_realms

__all__ = [
    "LavaError",
    "__version__",
    "__version_name__",
    "__version_num__",
    "dispatch",
    "get_job_spec",
    "get_realm_info",
    "scan_jobs",
    "scan_realms",
]
