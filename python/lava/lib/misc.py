"""Small helpers a job's code uses (the original's ``lava.lib.misc``): sizes, globs, dict
checks and hashes, text cleaning."""

import hashlib
import importlib
import json
import os
import re
import threading
import unicodedata
from collections.abc import MutableMapping
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from fnmatch import fnmatchcase

from .datetime import timedelta_to_str

HASH_ALGORITHM = 'sha256'

# Size units (case matters): decimal multiples, and binary ones with an "i".
SIZE_UNITS = {
    'B': 1,
    'K': 1000,
    'KB': 1000,
    'M': 1000**2,
    'MB': 1000**2,
    'G': 1000**3,
    'GB': 1000**3,
    'T': 1000**4,
    'TB': 1000**4,
    'P': 1000**5,
    'PB': 1000**5,
    'KiB': 1024,
    'MiB': 1024**2,
    'GiB': 1024**3,
    'TiB': 1024**4,
    'PiB': 1024**5,
}
_SIZE = re.compile(
    r'\s*(?P<value>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<units>' + '|'.join(SIZE_UNITS) + r')\s*$'
)
# The same as text (groups ``value`` and ``units``), for ``re.match``.
SIZE_REGEX = _SIZE.pattern


def size_to_bytes(size):
    """Bytes in a size: anything ``int()`` takes, or a number with a unit from
    ``SIZE_UNITS`` (rounded to a whole byte). ``ValueError`` otherwise."""
    try:
        return int(size)
    except ValueError:
        pass
    if not isinstance(size, str):
        raise ValueError(f'Invalid size type: {type(size)}')
    found = _SIZE.match(size)
    if not found:
        raise ValueError('Invalid size: ' + size)
    return int(round(float(found.group('value')) * SIZE_UNITS[found.group('units')], 0))


def glob_strip(names, patterns):
    """The set of ``names`` that match none of the glob ``patterns`` (one or a list; case
    matters)."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    return {n for n in names if not any(fnmatchcase(n, p) for p in patterns)}


def dict_check(d, required=None, optional=None, ignore=None):
    """Check a dict's keys: ``required`` must all be there, and with ``optional`` given no key
    outside the two may be; keys matching the ``ignore`` globs are left out of both checks.
    ``ValueError`` (``Missing keys: …`` / ``Unexpected keys: …``) otherwise."""
    required = None if required is None else set(required)
    optional = None if optional is None else set(optional)
    present = set(d)
    if ignore:
        if required:
            required = glob_strip(required, ignore)
        present = glob_strip(present, ignore)
    if required is not None and not required <= present:
        raise ValueError('Missing keys: ' + ', '.join(sorted(required - present)))
    if optional is not None:
        unexpected = present - (required or set()) - optional
        if unexpected:
            raise ValueError('Unexpected keys: ' + ', '.join(sorted(unexpected)))


def import_by_name(name, parent=None):
    """Import module ``name`` (within package ``parent`` when given)."""
    return importlib.import_module(f'{parent}.{name}' if parent else name)


def json_default(obj):
    """A ``default`` for ``json.dumps``: datetimes as ISO 8601, timedeltas as seconds, decimals
    as int or float, anything else as its ``str``."""
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, timedelta):
        return timedelta_to_str(obj)
    if isinstance(obj, Decimal):
        return float(obj) if '.' in str(obj) else int(obj)
    try:
        return str(obj)
    except Exception:
        raise TypeError(f'Cannot serialize {type(obj)}')


def sepjoin(sep, *args):
    """The non-empty arguments joined with ``sep``, lists spread out."""
    parts = []
    for arg in args:
        if arg:
            parts.extend(arg if isinstance(arg, list) else [arg])
    return sep.join(parts)


def splitext2(path, pathsep=os.sep, extsep=os.extsep):
    """(root, extension) where the extension starts at the first ``extsep`` of the base name
    after any leading ones (``a/b.tar.gz`` -> ``('a/b', '.tar.gz')``)."""
    folder, base = path.rsplit(pathsep, 1) if pathsep in path else ('', path)
    leading, stripped = '', base
    while stripped.startswith(extsep):
        leading, stripped = leading + extsep, stripped[len(extsep) :]
    if extsep in stripped:
        stem, rest = stripped.split(extsep, 1)
        extension = '.' + rest
    else:
        stem, extension = stripped, ''
    return sepjoin(pathsep, folder, leading + stem), extension


def dict_set_deep(d, keys, v):
    """Set ``v`` at the path ``keys`` in nested dicts, making the dicts missing on the way."""
    for key in keys[:-1]:
        d = d.setdefault(key, {})
        if not isinstance(d, dict):
            raise ValueError('Key sequence does not lead to a dict')
    if not isinstance(d, dict):
        raise ValueError('Key sequence does not lead to a dict')
    d[keys[-1]] = v


def dict_expand_keys(d, sep_pat=r'\.'):
    """A new nested dict from one whose keys name paths (``{'a.b': 1}`` -> ``{'a': {'b': 1}}``);
    ``sep_pat`` is the separator's regular expression."""
    expanded = {}
    for key, value in d.items():
        if not isinstance(key, str):
            raise ValueError(f'Non string key: {key}')
        try:
            dict_set_deep(expanded, re.split(sep_pat, key), value)
        except ValueError:
            raise ValueError(f'Path conflict: {key}')
    return expanded


def dict_strip(d):
    """A copy of ``d`` without its ``None`` values."""
    return {k: v for k, v in d.items() if v is not None}


def dict_select(d, *keys):
    """A copy of ``d`` with only these keys."""
    wanted = set(keys)
    return {k: v for k, v in d.items() if k in wanted}


def dict_hash(d, ignore=None, algorithm=HASH_ALGORITHM):
    """A hex digest of ``d`` as sorted JSON (keys matching the ``ignore`` globs left out): for
    noticing changes, not for security."""
    kept = glob_strip(d, ignore or [])
    text = json.dumps({k: d[k] for k in kept}, sort_keys=True, default=json_default)
    return hashlib.new(algorithm, text.encode('utf-8')).hexdigest()


CHECKSUM_DEFAULT_VERSION = 1
CHECKSUM_DEFAULT_TAG = 'LC'


@dataclass
class DictChecksum:
    """A lava checksum of a dict, written ``version;tag;algorithm;hex``."""

    hashval: str
    algorithm: str = HASH_ALGORITHM
    version: int = CHECKSUM_DEFAULT_VERSION
    tag: str = field(default=CHECKSUM_DEFAULT_TAG, compare=False)

    def __post_init__(self):
        if self.algorithm not in hashlib.algorithms_available:
            raise ValueError(f'Algorithm must be one of {", ".join(sorted(hashlib.algorithms_guaranteed))}')

    @classmethod
    def for_dict(cls, d, ignore=None, algorithm=HASH_ALGORITHM, version=CHECKSUM_DEFAULT_VERSION, tag=CHECKSUM_DEFAULT_TAG):
        """The checksum of ``d``."""
        if not isinstance(d, dict):
            raise TypeError(f'{cls.__name__}.from_dict() requires dict not {type(d)}')
        if version != 1:
            raise ValueError('Only checksum format version 1 is currently supported')
        return cls(dict_hash(d, ignore=ignore, algorithm=algorithm), algorithm, version=version, tag=tag)

    @classmethod
    def from_str(cls, s):
        """A checksum read from its written form."""
        parts = s.split(';')
        if len(parts) != 4:
            raise ValueError('Malformed checksum')
        version, tag, algorithm, hashval = parts
        return cls(hashval, algorithm, int(version), tag)

    def is_valid_for(self, d, ignore=None):
        """Whether ``d`` still has this checksum."""
        return self == type(self).for_dict(d, ignore=ignore, algorithm=self.algorithm, version=self.version)

    def __str__(self):
        return f'{self.version};{self.tag};{self.algorithm};{self.hashval}'


def str2bool(s):
    """A boolean from text, case and spaces aside: true/t/yes/y, false/f/no/n, or an integer
    (non-zero is true). Booleans pass through."""
    if isinstance(s, bool):
        return s
    if not isinstance(s, str):
        raise TypeError(f'Expected str, got {type(s)}')
    word = s.lower().strip()
    if word in ('true', 't', 'yes', 'y'):
        return True
    if word in ('false', 'f', 'no', 'n'):
        return False
    try:
        return bool(int(word))
    except ValueError:
        raise ValueError(f'Cannot convert string to bool: {s}') from None


def is_quoted(s, quote="'"):
    """Whether ``s`` starts and ends with ``quote``."""
    return s.startswith(quote) and s.endswith(quote)


def listify(v):
    """A list as is, a string as a list of itself, any other iterable as a list of its items."""
    if isinstance(v, list):
        return v
    return [v] if isinstance(v, str) else list(v)


def clean_str(s, safe_chars=None, alternative=None):
    """``s`` in ASCII with only word characters and ``safe_chars`` (a regular expression class's
    contents) kept, other runs removed or replaced by ``alternative``; no leading non-word
    characters. ``ValueError`` for an empty input or result."""
    if not s:
        raise ValueError('clean_str: Empty string')
    if alternative and len(alternative) != 1:
        raise ValueError('clean_str: Alternative must be a single character string')
    text = unicodedata.normalize('NFKD', str(s)).encode('ascii', 'ignore').decode('ascii')
    text = re.sub(rf'[^\w{safe_chars}]+' if safe_chars else r'[^\w]+', alternative or '', text)
    text = re.sub(r'^\W+', '', text)
    if not text:
        raise ValueError('clean_str: Result is empty')
    return text


_HTML = re.compile(r'\s*(<html|<!DOCTYPE\s+html)', re.IGNORECASE)


def is_html(s):
    """Whether ``s`` looks like an HTML document (starts with ``<html`` or its doctype)."""
    return _HTML.match(s) is not None


def match_any(s, globs, ignore_case=False):
    """Whether ``s`` matches one of the glob patterns."""
    if ignore_case:
        s, globs = s.lower(), [g.lower() for g in globs]
    return any(fnmatchcase(s, g) for g in globs)


def match_none(s, globs, ignore_case=False):
    """Whether ``s`` matches none of the glob patterns."""
    return not match_any(s, globs, ignore_case=ignore_case)


def decimal_to_scalar(d):
    """A decimal as an int when it is whole, else a float."""
    whole = int(d)
    return whole if whole == d else float(d)


@dataclass
class Task:
    """Something to do later: ``action(*args, **kwargs)``, described."""

    description: str
    action: object
    args: list = None
    kwargs: dict = None


@dataclass
class TaskResult:
    """What running a ``Task`` gave: its result, or the exception it raised."""

    task: Task
    result: object
    exception: Exception = None


class Defer:
    """Tasks deferred until the caller runs them for an event (``Defer.on_event('on_exit')``,
    one register per event name; not to be made directly)."""

    _events_lock = threading.Lock()
    events = {}

    @classmethod
    def on_event(cls, event):
        """The register of ``event``, made on first use."""
        with cls._events_lock:
            if event not in cls.events:
                cls.events[event] = cls(event)
            return cls.events[event]

    def __init__(self, event):
        self.event = event
        self.tasks = {}
        self._next_id = 0
        self._lock = threading.Lock()

    def add(self, task):
        """Defer ``task``; the id that cancels it."""
        with self._lock:
            self._next_id += 1
            self.tasks[self._next_id] = task
            return self._next_id

    def cancel(self, task_id):
        """Forget a deferred task (an unknown id is ignored)."""
        with self._lock:
            self.tasks.pop(task_id, None)

    def run(self, logger=None):
        """Run every deferred task, the latest first; each one's ``TaskResult`` (an exception is
        kept, not raised, and logged when a logger is given)."""
        done = []
        for _, task in sorted(self.tasks.items(), reverse=True):
            try:
                done.append(TaskResult(task, task.action(*(task.args or []), **(task.kwargs or {})), None))
                if logger:
                    logger.info('Deferred[%s]: %s: OK', self.event, task.description)
            except Exception as e:
                done.append(TaskResult(task, None, e))
                if logger:
                    logger.error('Deferred[%s]: %s: %s', self.event, task.description, e)
        return done


class TrackedMapping(MutableMapping):
    """A copy of ``data`` that notes which keys are read: ``visited_refs`` (found, or made by
    ``default_factory``) and ``unknown_refs`` (asked for but absent, made or not). A missing
    key with no ``default_factory`` is a ``KeyError``. ``get``, ``in`` and comparisons read
    through it, so they are noted too."""

    def __init__(self, data, default_factory=None):
        self._data = deepcopy(data)
        self._default_factory = default_factory
        self.unknown_refs = set()
        self.visited_refs = set()

    def __getitem__(self, key):
        if key not in self._data:
            self.unknown_refs.add(key)
            if not self._default_factory:
                raise KeyError(key)
            self._data[key] = self._default_factory()
        self.visited_refs.add(key)
        return self._data[key]

    def __setitem__(self, key, value, /):
        self._data[key] = value

    def __delitem__(self, key):
        del self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return f'{type(self).__name__}({self._data!r})'

    def __str__(self):
        return str(self._data)


def _unquoted(value, depth):
    """One value inside a dict or sequence being formatted: text as it is, dicts nested."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return format_dict_unescaped(value, depth)
    return repr(value)


def format_dict_unescaped(obj, _depth=0):
    """A dict as indented text, one item a line, its string values shown as they are (not
    quoted or escaped), nested dicts, lists and tuples likewise. Anything else: its repr."""
    if not isinstance(obj, dict):
        return repr(obj)
    if not obj:
        return '{}'
    indent = '    ' * _depth
    lines = []
    for key, value in obj.items():
        if isinstance(value, (list, tuple)):
            shown = format_sequence_unescaped(value, _depth + 1)
        else:
            shown = _unquoted(value, _depth + 1)
        lines.append(f'{indent}    {key!r}: {shown}')
    return '{\n' + ',\n'.join(lines) + '\n' + indent + '}'


def format_sequence_unescaped(seq, _depth=0):
    """A list (in brackets) or other sequence (in parentheses) as :func:`format_dict_unescaped`
    shows dicts: one item a line, strings unquoted, dicts nested, other items as their repr."""
    opening, closing = '[]' if isinstance(seq, list) else '()'
    if not seq:
        return opening + closing
    indent = '    ' * _depth
    lines = [f'{indent}    {_unquoted(item, _depth + 1)}' for item in seq]
    return opening + '\n' + ',\n'.join(lines) + '\n' + indent + closing


@contextmanager
def pythonpath_prepended(path):
    """Within the block, ``path`` (a string or path) is first on ``PYTHONPATH`` (for the
    processes started there); the variable is put back as it was after."""
    before = os.environ.get('PYTHONPATH')
    os.environ['PYTHONPATH'] = os.pathsep.join([str(path), before]) if before else str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop('PYTHONPATH', None)
        else:
            os.environ['PYTHONPATH'] = before
