"""TLS for database connections (the original's ``lava.lib.ssl``): a connection's ``ssl_mode``
(require: encrypted only; verify-ca: the server's certificate checked; verify-full: its host
name too; none: no TLS) and the ``SSLContext`` for it. The legacy ``ssl: true`` means require."""

import bz2
import gzip
import lzma
import os
import ssl as _ssl
import urllib.parse
import urllib.request

# Mode -> (check the host name, verify mode).
SSL_MODES = {
    'require': (False, _ssl.CERT_NONE),
    'verify-ca': (False, _ssl.CERT_REQUIRED),
    'verify-full': (True, _ssl.CERT_REQUIRED),
}

# Where a CA file can be: a local path (or file://), S3, or the web; read through by extension.
_SCHEMES = ('', 'file', 'http', 'https', 's3', 's3a', 's3n')
_DECOMPRESS = {'.gz': gzip.decompress, '.bz2': bz2.decompress, '.xz': lzma.decompress}


def resolve_ssl_mode(ssl=None, ssl_mode=None, **kwargs):
    """The ``ssl_mode`` a connection's fields ask for: ``ssl_mode`` when given (``ValueError``
    unless one of ``SSL_MODES``), else ``'require'`` for a true ``ssl`` and ``None`` for no TLS.
    Other fields are ignored."""
    if ssl_mode is None:
        return 'require' if ssl else None
    if ssl_mode not in SSL_MODES:
        raise ValueError(f'Bad ssl_mode: {ssl_mode}')
    return ssl_mode


def build_ssl_context(ssl_mode, ssl_ca_file=None):
    """A default ``SSLContext`` (system trust store) set for ``ssl_mode``, trusting also the PEM
    certificates in ``ssl_ca_file`` (a path, a file descriptor, or an s3:// or http(s):// URI)
    when given."""
    context = _ssl.create_default_context()
    try:
        check_hostname, verify_mode = SSL_MODES[ssl_mode]
    except KeyError:
        raise ValueError(f'Bad ssl_mode {ssl_mode}')
    context.check_hostname = check_hostname  # before verify_mode: CERT_NONE needs it off
    context.verify_mode = verify_mode
    if ssl_ca_file:
        context.load_verify_locations(cadata=_read_text(ssl_ca_file))
    return context


def _read_text(location):
    """The UTF-8 text at ``location``, uncompressed when its name ends in .gz, .bz2 or .xz."""
    if isinstance(location, os.PathLike):
        location = os.fspath(location)
    if isinstance(location, int):
        with open(location, 'rb', closefd=False) as f:
            return f.read().decode('utf-8')
    if not isinstance(location, str):
        raise TypeError(f"don't know how to handle uri {location!r}")
    scheme = urllib.parse.urlsplit(location).scheme
    if scheme not in _SCHEMES:
        raise NotImplementedError(f'Unable to handle scheme {scheme!r}, expected one of {_SCHEMES!r}')
    if scheme.startswith('s3'):
        data = _read_s3(location)
    elif scheme.startswith('http'):
        with urllib.request.urlopen(location) as response:
            data = response.read()
    else:
        location = os.path.expanduser(location.removeprefix('file://'))
        with open(location, 'rb') as f:
            data = f.read()
    extension = os.path.splitext(location.lower())[1]
    return _DECOMPRESS.get(extension, bytes)(data).decode('utf-8')


def _read_s3(uri):
    """An S3 object's bytes; ``OSError`` when S3 refuses."""
    import boto3
    import botocore.exceptions

    bucket, key = uri.split('://', 1)[1].split('/', 1)
    try:
        return boto3.client('s3').get_object(Bucket=bucket, Key=key)['Body'].read()
    except botocore.exceptions.ClientError as e:
        raise OSError(f'unable to access bucket: {bucket!r} key: {key!r} version: None error: {e}')
