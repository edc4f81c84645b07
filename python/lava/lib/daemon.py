"""Running as a daemon (the original's ``lava.lib.daemon``): a PID lock file, signal handlers,
no core dumps, and ``daemonify`` to detach the process."""

import fcntl
import os
import resource
import signal
import sys
from grp import getgrnam
from pwd import getpwnam

from .os import signum

FD_MAX = 1024  # daemonify closes descriptors below this (or below the soft limit, if higher)

# What a daemon does with these signals unless told otherwise.
_SIGNAL_DEFAULTS = {name: signal.SIG_IGN for name in ('SIGHUP', 'SIGINT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU')}
# Files kept open across daemonify unless the caller lists its own.
_PRESERVE_FD_DEFAULT = ['/dev/urandom', '/dev/random']
_lock_fp = None  # the lock file last opened: closing it would drop the lock


def lock_file(fname):
    """Take the lock on ``fname`` (made if missing) for this process and write the PID in it:
    ``True``; ``False`` when another process holds it. Errors opening the file are raised."""
    global _lock_fp
    _lock_fp = open(fname, 'a')  # appending leaves a holder's PID alone
    try:
        fcntl.lockf(_lock_fp, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    _lock_fp.truncate(0)
    _lock_fp.write(f'{os.getpid()}\n')
    _lock_fp.flush()
    return True


def set_signal(sig, handler=None):
    """Handle signal ``sig`` (``SIGHUP``, ``HUP`` or a number) with ``handler``: a function of
    (signal number, frame), ``signal.SIG_DFL``, or ``signal.SIG_IGN`` / ``None`` to ignore it.
    ``ValueError`` for an unknown signal or a bad handler; main thread only."""
    if not handler and handler != signal.SIG_DFL:
        handler = signal.SIG_IGN
    if handler not in (signal.SIG_IGN, signal.SIG_DFL) and not callable(handler):
        raise ValueError(f'Bad handler for signal: {sig}')
    signal.signal(signum(sig), handler)


def stop_core_dumps():
    """No core files from this process: its core size limits set to 0."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def daemonify(
    chroot_dir=None,
    working_dir=None,
    umask=None,
    uid=None,
    gid=None,
    close_fds=True,
    pidfile=None,
    stdout=None,
    stderr=None,
    signals=None,
    preserve_fds=None,
    **kwargs,
):
    """Carry on as a daemon: fork twice (the caller's process exits) in a new session, then
    chroot, set the group and user (names or ids; the real ones by default), cd, set the umask
    (an int, or octal text), close descriptors 3 and up except ``preserve_fds`` (numbers or
    file names; the random devices by default), lock ``pidfile``, set the signal handlers
    (``_SIGNAL_DEFAULTS`` then ``signals``), and reopen stdin on /dev/null and stdout and stderr
    on the files named (``{pid}`` filled in) or /dev/null. Other keywords are ignored. Failures
    raise ``Exception`` saying what could not be done."""
    stop_core_dumps()
    _fork(1)
    os.setsid()
    _fork(2)
    if chroot_dir:
        _chroot(chroot_dir)
    _set_id(os.setgid, 'gid', _resolve_id(gid, lambda n: getgrnam(n).gr_gid, 'gid/group', os.getgid))
    _set_id(os.setuid, 'uid', _resolve_id(uid, lambda n: getpwnam(n).pw_uid, 'uid/user', os.getuid))
    if working_dir:
        try:
            os.chdir(working_dir)
        except Exception as e:
            raise Exception(f'Cannot cd to {working_dir}: {e}')
    if umask:
        os.umask(_octal(umask))
    keep = _file_ids(_PRESERVE_FD_DEFAULT if preserve_fds is None else preserve_fds)
    if close_fds:
        _close_fds(keep)
    if pidfile and not lock_file(pidfile):
        raise Exception(f'Cannot create pid file: {pidfile}')
    for handlers in (_SIGNAL_DEFAULTS, signals or {}):
        for name, handler in handlers.items():
            try:
                set_signal(name, handler)
            except Exception as e:
                raise Exception(f'Bad handler for signal: {name}: {e}')
    print(f'\n{os.getpid()}', file=sys.stderr)
    _reopen_std(stdout, stderr)


def _fork(which):
    """Fork; the parent leaves at once, the child returns."""
    try:
        child = os.fork()
    except OSError as e:
        raise Exception(f'Cannot fork ({which}): {e}')
    if child:
        os._exit(0)


def _chroot(folder):
    """chroot, as root only."""
    if os.geteuid() != 0:
        raise Exception(f'Cannot chroot to {folder}: you are not root')
    try:
        os.chroot(folder)
    except Exception as e:
        raise Exception(f'Cannot chroot to {folder}: {e}')


def _resolve_id(value, by_name, what, real):
    """A user or group id: ``real()`` for ``None``, a name looked up, numeric text as a number."""
    if value is None:
        return real()
    if not isinstance(value, str):
        return value
    try:
        return by_name(value)
    except KeyError:
        pass
    try:
        return int(value)
    except ValueError:
        raise Exception(f'Invalid {what}: {value}') from None


def _set_id(setter, what, value):
    """Set the process's uid or gid."""
    try:
        setter(value)
    except Exception as e:
        raise Exception(f'Cannot set {what} to {value}: {e}')


def _octal(umask):
    """A umask from an int or octal text."""
    if not isinstance(umask, str):
        return umask
    try:
        return int(umask, 8)
    except ValueError:
        raise Exception(f'Invalid octal umask: {umask}') from None


def _file_ids(files):
    """(device, inode) of each open descriptor or existing file named; others skipped."""
    found = set()
    for f in files:
        if not isinstance(f, (str, int)):
            raise ValueError(f'preserve_fds must be int or str not {type(f)}')
        try:
            info = os.stat(f) if isinstance(f, str) else os.fstat(f)
        except (OSError, OverflowError):  # not open, or no such file: nothing to keep
            continue
        found.add((info.st_dev, info.st_ino))
    return found


def _close_fds(keep):
    """Close descriptors from 3 up, except those on the files in ``keep``."""
    for fd in range(3, max(resource.getrlimit(resource.RLIMIT_NOFILE)[0], FD_MAX)):
        try:
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) not in keep:
                os.close(fd)
        except OSError:  # not open
            pass


def _reopen_std(stdout, stderr):
    """Descriptors 0, 1, 2 on /dev/null, ``stdout`` and ``stderr`` (``{pid}`` filled in; /dev/null
    when not given). Files are written over from the start."""
    os.closerange(0, 3)
    outputs = [name.format(pid=os.getpid()) if name else os.devnull for name in (stdout, stderr)]
    os.open(os.devnull, os.O_RDONLY)
    for name in outputs:
        os.open(name, os.O_WRONLY | os.O_CREAT, 0o600)
