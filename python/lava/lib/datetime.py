"""Durations and times as lava writes them (the original's ``lava.lib.datetime``). Parsing
and zones use ``python-dateutil`` (which boto3 brings), as the original's do."""

import datetime as _dt
import re
import time
from decimal import Decimal

from dateutil import parser as _parser
from dateutil import tz as _tz

from .decorators import deprecated

DT_MIN = _dt.datetime(_dt.MINYEAR, 1, 1, tzinfo=_tz.UTC)
DT_MAX = _dt.datetime(_dt.MAXYEAR, 12, 31, tzinfo=_tz.UTC)

# Seconds per unit; no unit means seconds.
TIME_UNITS = {'w': 7 * 86400, 'd': 86400, 'h': 3600, 'm': 60, 's': 1, '': 1}

_DURATION = re.compile(r'\s*(?P<value>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<units>[wdhms]?)\s*$')


def duration_to_seconds(duration):
    """Seconds in a duration: a number, or a number with a unit (``w``, ``d``, ``h``, ``m``,
    ``s``; none means seconds), spaces allowed around both. ``ValueError`` otherwise."""
    if isinstance(duration, (int, float, Decimal)):
        return float(duration)
    if not isinstance(duration, str):
        raise ValueError(f'Invalid duration type: {type(duration)}')
    found = _DURATION.match(duration)
    if not found:
        raise ValueError('Invalid duration: ' + duration)
    return float(found.group('value')) * TIME_UNITS[found.group('units')]


@deprecated('Just use str(t) instead')
def time_to_str(t):
    """A time as ``HH:MM:SS.ffffff`` (deprecated)."""
    if not isinstance(t, _dt.time):
        raise ValueError(f'Expected time not {type(t)}')
    return t.strftime('%H:%M:%S.%f')


def timedelta_to_str(delta):
    """A timedelta's total seconds as text."""
    if not isinstance(delta, _dt.timedelta):
        raise ValueError(f'Expected timedelta not {type(delta)}')
    return str(delta.total_seconds())


def timedelta_to_hms(td):
    """A timedelta rounded to the second, as (hours, minutes, seconds)."""
    total = int(round(td.total_seconds(), 0))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return hours, minutes, seconds


def timestamp():
    """Now, to the second, as ISO 8601 texts without a zone: (UTC, local)."""
    now = round(time.time())
    utc = _dt.datetime.fromtimestamp(now, _dt.timezone.utc).replace(tzinfo=None)
    return utc.isoformat(), _dt.datetime.fromtimestamp(now).isoformat()


def now_tz():
    """Now in the local zone (a zone-aware datetime), to the second below."""
    return _dt.datetime.now(_tz.tzlocal()).replace(microsecond=0)


def parse_dt(s):
    """A date and time parsed from text; the local zone is given to one that names none."""
    parsed = _parser.parse(s)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_tz.tzlocal())
