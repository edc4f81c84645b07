"""Running the ``lava`` command, which does the work behind this package.

``LAVA_CLI`` names the program, else ``lava`` on PATH. AWS credentials, region and endpoint
reach it through the job's environment as they reach any AWS tool.
"""

import os
import shutil
import subprocess

from lava.errors import LavaError


def program():
    """The lava program's path."""
    cli = os.environ.get("LAVA_CLI") or shutil.which("lava")
    if not cli:
        raise LavaError("cannot find the lava command: set LAVA_CLI or put lava on PATH")
    return cli


def realm_name(realm):
    """``realm``, else ``LAVA_REALM``."""
    realm = realm or os.environ.get("LAVA_REALM")
    if not realm:
        raise LavaError("no realm: give one or set LAVA_REALM")
    return realm


def run(args, realm=None, stdin=None):
    """Runs ``lava [--realm R] ARGS`` and returns its standard output; a failure raises
    :class:`LavaError` with lava's message."""
    command = [program()]
    if realm:
        command += ["--realm", realm]
    command += [str(a) for a in args]
    done = subprocess.run(
        command,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        message = done.stderr.strip()
        if message.startswith("lava: "):
            message = message[len("lava: "):]
        raise LavaError(message or "lava %s failed" % " ".join(command[1:2]))
    return done.stdout
