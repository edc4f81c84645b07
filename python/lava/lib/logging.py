"""Logging set-up for jobs and daemons (the original's ``lava.lib.logging``): levels by name, the
syslog socket, coloured stderr, records as JSON, and ``setup_logging`` to put them together."""

import json
import logging
import os
import stat
import sys
from datetime import datetime, timezone
from logging.handlers import SysLogHandler

from .misc import json_default


def syslog_address():
    """The local syslog socket (``/dev/log``, or macOS's ``/var/run/syslog``), else
    ``('localhost', 514)``: an ``address`` for ``SysLogHandler``."""
    for path in ('/dev/log', '/var/run/syslog'):
        try:
            if stat.S_ISSOCK(os.stat(path).st_mode):
                return path
        except OSError:
            pass
    return 'localhost', 514


def get_log_level(s):
    """The ``logging`` level named ``s``, in any case (``'info'``, ``'WARNING'``); ``ValueError``
    for anything else, numbers included."""
    if not s or not isinstance(s, str):
        raise ValueError(f'Bad log level:{s!s}')
    try:
        return getattr(logging, s.upper())
    except AttributeError:
        raise ValueError(f'Bad log level: {s}') from None


class Fore:
    """ANSI foreground colours (the values colorama gives)."""

    BLACK = '\033[30m'
    RED = '\033[31m'
    GREEN = '\033[32m'
    YELLOW = '\033[33m'
    BLUE = '\033[34m'
    MAGENTA = '\033[35m'
    CYAN = '\033[36m'
    WHITE = '\033[37m'
    RESET = '\033[39m'


class Style:
    """ANSI text styles (the values colorama gives)."""

    BRIGHT = '\033[1m'
    DIM = '\033[2m'
    NORMAL = '\033[22m'
    RESET_ALL = '\033[0m'


def _level_colour(levelno):
    """The ANSI codes a record of this level is printed in."""
    if levelno >= logging.ERROR:
        return Style.BRIGHT + Fore.RED
    if levelno >= logging.WARNING:
        return Fore.MAGENTA
    if levelno >= logging.INFO:
        return Fore.BLUE
    return Style.DIM + Fore.BLACK


class ColourLogHandler(logging.Handler):
    """Prints records to ``sys.stderr`` (as it is at the time), coloured by level unless
    ``colour`` is false."""

    def __init__(self, colour=True):
        super().__init__()
        self.colour = colour

    def emit(self, record):
        """Print one record (a formatting error is raised to the logging call)."""
        text = self.format(record)
        if self.colour:
            text = _level_colour(record.levelno) + text + Fore.RESET + Style.RESET_ALL
        print(text, file=sys.stderr)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: the constant ``extra`` items (empty ones dropped),
    then for each ``fields`` item the record attribute it names under its key (when not empty;
    ``exc_info`` gives the traceback text), then any non-standard attributes the record carries.
    ``tag`` starts the line ``<tag>: `` (rsyslog takes it as the syslogtag). ``asctime`` has no
    milliseconds; with it, the ``isotime`` attribute is set as well."""

    # Attributes every record has (plus this formatter's isotime): not copied as extras.
    LOG_RECORD_ATTRIBUTES = frozenset(
        'args asctime created exc_info exc_text filename funcName isotime levelname levelno lineno module '
        'msecs message msg name pathname process processName relativeCreated stack_info thread threadName'.split()
    )

    def __init__(self, fields=None, extra=None, datefmt=None, tag=None):
        super().__init__(datefmt=datefmt)
        self.fields = fields or {}
        self._uses_time = 'asctime' in self.fields.values()
        self.extra = {k: v for k, v in (extra or {}).items() if v}
        self.default_msec_format = None
        self.tag = tag

    @staticmethod
    def isotime(record):
        """When ``record`` was made: UTC, ISO 8601, to the microsecond."""
        return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec='microseconds')

    def usesTime(self):  # noqa: N802 (logging's name)
        """Whether a field is ``asctime``."""
        return self._uses_time

    def format(self, record):
        """The record as a JSON line (``internal_error`` and the extras only, if it cannot be
        encoded)."""
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
            record.isotime = self.isotime(record)
        if record.exc_info and record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        record.stack_info = self.formatStack(record.stack_info)
        data = dict(self.extra)
        data.update(self._chosen(record))
        data.update(self._carried(record))
        try:
            text = json.dumps(data, default=json_default)
        except Exception as e:  # a bad record must not end the thread that logs it
            text = json.dumps({**self.extra, 'internal_error': str(e)}, default=json_default)
        return f'{self.tag}: {text}' if self.tag else text

    def _chosen(self, record):
        """The non-empty ``fields``, by output key."""
        for key, attribute in self.fields.items():
            value = record.exc_text if attribute == 'exc_info' else vars(record).get(attribute)
            if value:
                yield key, value

    def _carried(self, record):
        """The record's attributes beyond the standard ones (not those starting ``_``)."""
        for attribute, value in vars(record).items():
            if attribute not in self.LOG_RECORD_ATTRIBUTES and not attribute.startswith('_'):
                yield attribute, value


def setup_logging(level, target=None, colour=True, name=None, prefix=None, formatter=None):
    """Make logger ``name`` (the root one when ``None``) log alone (not propagating, its handlers
    replaced) at ``level`` (as ``get_log_level`` takes it) to ``target``: stderr when empty
    (coloured when ``colour``), ``@facility`` for syslog, else a file. ``prefix`` starts each
    line (set it for syslog); ``formatter`` replaces the default layout. ``ValueError`` for a bad
    level or facility."""
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(get_log_level(level))
    for old in list(logger.handlers):
        logger.removeHandler(old)
    if not target:
        handler = ColourLogHandler(colour=colour)
        layout = (prefix + ': ' if prefix else '') + '%(threadName)s: %(message)s'
    elif target.startswith('@'):
        handler = _syslog_handler(target[1:])
        layout = (prefix or '') + '[%(process)d]: %(levelname)s: %(threadName)s: %(message)s'
    else:
        handler = logging.FileHandler(target)
        layout = '%(asctime)s: %(levelname)s: %(threadName)s: %(message)s'
    handler.setFormatter(formatter or logging.Formatter(layout))
    logger.addHandler(handler)
    if target:
        logger.debug('%s', ' '.join(sys.argv))
        logger.debug('Logfile set to %s', target)
    logger.debug('Log level set to %s (%d)', level, logger.getEffectiveLevel())


def _syslog_handler(facility):
    """A handler to the local syslog with this facility name."""
    if facility not in SysLogHandler.facility_names:
        raise ValueError(f'Bad syslog facility: {facility}')
    return SysLogHandler(address=syslog_address(), facility=facility)
