"""Running commands in their own process group (the original's ``lava.lib.process``)."""

import os
import signal
import subprocess
from contextlib import suppress

from .misc import Defer, Task


def killpg(pgid, signal):  # noqa: A002 (the original's parameter name)
    """Signal a process group; one that is already gone is fine."""
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal)


def runpg(
    *popenargs,
    start_new_session=False,
    input=None,  # noqa: A002 (subprocess.run's name)
    capture_output=False,
    timeout=None,
    check=False,
    kill_event=None,
    **kwargs,
):
    """``subprocess.run``, but with ``start_new_session`` the command's whole process group is
    killed when it ends, times out or is interrupted (not only the command). ``kill_event``
    (an event name) also defers that kill with ``Defer.on_event(kill_event)`` while the command
    runs, for the caller to run if it must stop first."""
    if not start_new_session:
        return subprocess.run(
            *popenargs, input=input, capture_output=capture_output, timeout=timeout, check=check, **kwargs
        )
    if input is not None:
        if kwargs.get('stdin') is not None:
            raise ValueError('stdin and input arguments may not both be used.')
        kwargs['stdin'] = subprocess.PIPE
    if capture_output:
        if kwargs.get('stdout') is not None or kwargs.get('stderr') is not None:
            raise ValueError('stdout and stderr arguments may not be used with capture_output.')
        kwargs['stdout'] = kwargs['stderr'] = subprocess.PIPE
    deferred = Defer.on_event(kill_event)
    deferred_id = None
    with subprocess.Popen(*popenargs, start_new_session=True, **kwargs) as child:
        try:
            group = os.getpgid(child.pid)
        except ProcessLookupError:
            group = child.pid
        if kill_event:
            deferred_id = deferred.add(
                Task(description=f'Kill process group {group}', action=killpg, args=[group, signal.SIGKILL])
            )
        try:
            stdout, stderr = child.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            killpg(group, signal.SIGKILL)
            child.wait()
            raise
        except BaseException:
            killpg(group, signal.SIGKILL)
            raise
        finally:
            if deferred_id:
                deferred.cancel(deferred_id)
        code = child.poll()
        killpg(group, signal.SIGKILL)
        if check and code:
            raise subprocess.CalledProcessError(code, child.args, output=stdout, stderr=stderr)
    return subprocess.CompletedProcess(child.args, code, stdout, stderr)
