"""File helpers a job's code uses (the original's ``lava.lib.fileops``)."""

import errno
import fcntl
import fnmatch
import math
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unicodedata

from .decorators import deprecated


@deprecated('Just use os.makedirs() instead')
def makedir(d):
    """Create ``d`` and its parents; an existing folder is fine, an existing file is not."""
    if os.path.isdir(d):
        return
    if os.path.exists(d):
        raise Exception(f'{d} exists but is not a directory')
    os.makedirs(d)


def delete_files(*args):
    """Remove each named file (empty names and files already gone are skipped); one exception
    names every file that could not be removed."""
    failed = []
    for name in filter(None, args):
        try:
            os.remove(name)
        except OSError as e:
            if e.errno != errno.ENOENT:
                failed.append(name)
    if failed:
        raise Exception(f'Could not delete file(s): {", ".join(failed)}')


def fsplit(filename, prefix, maxsize, suffixlen=0, delete=False):
    """Split a text file at line ends into pieces of at most about ``maxsize`` characters, named
    ``prefix`` and a zero-padded number (at least ``suffixlen`` digits, more when the file's size
    needs them); yields each piece's name as it is finished. ``delete`` removes the file after."""
    digits = math.ceil(max(float(suffixlen), math.log10(os.path.getsize(filename) / maxsize)))
    out, piece, written = None, 0, 0
    with open(filename) as source:
        for number, line in enumerate(source, start=1):
            if out and written + len(line) > maxsize:
                out.close()
                out = None
                yield name
            if len(line) > maxsize:
                raise Exception(f'Cannot split {filename} - line {number} is too long')
            if not out:
                piece += 1
                if piece > 10**digits:
                    raise Exception(f'Cannot split {filename} - overflowed suffixlen of {digits}')
                name = f'{prefix}{piece:0{digits}d}'
                if name == filename:
                    raise Exception('fsplit chunk will overwrite original')
                out, written = open(name, 'w'), 0  # noqa: SIM115 (closed above or below)
            out.write(line)
            written += len(line)
    if out:
        out.close()
        yield name
    if delete:
        delete_files(filename)


# The open lock file: it must stay open (and referenced) for the lock to hold.
_held_lock = None


def lock_file(fname):
    """Take an exclusive lock on ``fname`` (created if missing) and write this process's id into
    it; False when another process holds it."""
    global _held_lock
    _held_lock = open(fname, 'a')  # noqa: SIM115 (held for the process's life)
    try:
        fcntl.lockf(_held_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    _held_lock.truncate(0)
    print(os.getpid(), file=_held_lock)
    _held_lock.flush()
    return True


# Archive name patterns and the commands that unpack them (argument lists, no shell).
UNPACKERS = [
    ('*.zip', ['unzip', '-o', '-qq', '-d', '{dirname}', '{pkg}']),
    ('*.tar', ['tar', '-x', '-C', '{dirname}', '-f', '{pkg}']),
    ('*.tar.*', ['tar', '-x', '-C', '{dirname}', '-f', '{pkg}']),
]


def unpack(pkg, dirname, timeout=30):
    """Unpack a zip or tar archive into ``dirname`` (which must exist), overwriting files."""
    for pattern, command in UNPACKERS:
        if fnmatch.fnmatch(os.path.basename(pkg), pattern):
            argv = [part.format(dirname=dirname, pkg=pkg) for part in command]
            try:
                subprocess.check_output(argv, stdin=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=timeout)
            except subprocess.CalledProcessError as e:
                raise Exception(f'Cannot unpack {pkg} to {dirname}: {e.output}')
            return
    raise Exception(f"Don't know how to unpack {pkg}")


def read_head_or_tail(filename, size):
    """The first ``size`` characters of a file, or with a negative size its last ``-size``
    bytes (all of it when smaller)."""
    if not size:
        return ''
    with open(filename) as f:
        if size < 0:
            os.lseek(f.fileno(), -min(-size, os.path.getsize(filename)), os.SEEK_END)
        return f.read(abs(size))


def sanitise_filename(value):
    """Text made safe as a local file name: ASCII, lower case, only word characters and
    ``./=+-``, runs of ``/`` and ``.`` made one ``.``, runs of spaces and ``-`` one ``-``."""
    text = unicodedata.normalize('NFKD', str(value)).encode('ascii', 'ignore').decode('ascii')
    text = re.sub(r'[^./=+\w\s-]', '', text).strip().lower()
    text = re.sub(r'[-\s]+', '-', re.sub(r'[/.]+', '.', text))
    return text.strip('.-')


def materialise_file(uri, suffix='', dir=None, mode=stat.S_IRUSR, **kwargs):  # noqa: A002 (the original's name)
    """Copy ``uri`` (``s3://``, ``http(s)://`` or a local path) to a new temporary file (``suffix``,
    in ``dir``) with permissions ``mode``; its path. The caller removes it. ``kwargs`` go to
    boto3's ``download_fileobj`` for S3 (``ExtraArgs``, ``Config``)."""
    fd, path = tempfile.mkstemp(suffix=suffix, dir=dir)
    os.close(fd)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with open(path, 'wb') as target:
        if uri.startswith('s3://'):
            import boto3

            bucket, _, key = uri[len('s3://'):].partition('/')
            boto3.client('s3').download_fileobj(bucket, key, target, **kwargs)
        elif uri.startswith(('http://', 'https://')):
            from urllib.request import urlopen

            with urlopen(uri) as source:  # noqa: S310 (the caller's URI)
                shutil.copyfileobj(source, target)
        else:
            with open(uri.removeprefix('file://'), 'rb') as source:
                shutil.copyfileobj(source, target)
    os.chmod(path, mode)
    return path
