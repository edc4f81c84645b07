"""Signals by name or number, as a job's code names them (the original's ``lava.lib.os``)."""

import errno
import os as _os
import signal as _signal

from .decorators import deprecated

# Number -> canonical name (SIGINT), from what this platform's signal module defines.
signal_names = {
    getattr(_signal, name): name for name in dir(_signal) if name.startswith('SIG') and not name.startswith('SIG_')
}


def signum(sig):
    """The number of a signal given by name (``SIGINT``, ``int``, ``INT``) or by number (checked).
    Raises ``ValueError`` for a signal this platform does not have."""
    if isinstance(sig, int):
        if sig in signal_names:
            return sig
        raise ValueError(f'Unknown signal: {sig}')
    name = sig.upper()
    number = getattr(_signal, name, None) or getattr(_signal, 'SIG' + name, None)
    if not number:
        raise ValueError(f'Unknown signal: {sig}')
    return number


def signame(sig):
    """The canonical name (``SIGINT``) of a signal given by number or by any of its names."""
    if isinstance(sig, int):
        if sig not in signal_names:
            raise ValueError(f'Unknown signal: {sig}')
        return signal_names[sig]
    return signal_names[signum(sig)]


@deprecated('Just use os.makedirs() instead')
def makedirs(path, mode=0o777, exist_ok=False):
    """``os.makedirs``, an existing folder ignored when ``exist_ok`` (deprecated)."""
    try:
        _os.makedirs(path, mode, exist_ok)
    except OSError as e:
        if not (exist_ok and e.errno == errno.EEXIST):
            raise
