"""SMB file shares for a job's code (the original's ``lava.lib.smb``).

The pieces that need no SMB client are here in full: NT status codes (:class:`NTStatus`), the
errors, file attributes and :class:`SMBFile`, the :class:`LavaSMBConnection` interface, and
:func:`smb_dir_exists` / :func:`smb_mkdirs`, which work on any connection with that interface.

The two connections speak SMB through a client package the job's environment must provide
(this package depends on neither): :class:`PySMBConnection` through ``pysmb`` and
:class:`SMBProtocolConnection` through ``smbprotocol``; making one without its package raises
``ImportError``. A job that only moves files by ``conn_id`` can use
``lava.connection.get_smb_connection``, which needs neither (the ``lava`` command does the
transfers).
"""

import fnmatch
import logging
import os.path
from abc import ABC, abstractmethod
from contextlib import contextmanager
from enum import Enum

SMB_JOB_PARAMS_REQUIRED_FIELDS = {'conn_id', 'share_name', 'path', 'file'}
SMB_JOB_PARAMS_OPTIONAL_FIELDS = {'basedir', 'jinja', 'timeout', 'vars'}
SMB_CLI = 'lava-smb'


class NTStatus(int, Enum):
    """The NT status codes an SMB server commonly answers with; :meth:`lookup` names a code."""

    STATUS_SUCCESS = 0x00000000
    STATUS_UNSUCCESSFUL = 0xC0000001
    STATUS_NETWORK_NAME_DELETED = 0xC00000C9
    STATUS_PENDING = 0x00000103
    STATUS_NOTIFY_CLEANUP = 0x0000010B
    STATUS_NOTIFY_ENUM_DIR = 0x0000010C
    STATUS_BUFFER_OVERFLOW = 0x80000005
    STATUS_NO_MORE_FILES = 0x80000006
    STATUS_END_OF_FILE = 0xC0000011
    STATUS_INVALID_EA_NAME = 0x80000013
    STATUS_EA_LIST_INCONSISTENT = 0x80000014
    STATUS_STOPPED_ON_SYMLINK = 0x8000002D
    STATUS_INVALID_INFO_CLASS = 0xC0000003
    STATUS_INFO_LENGTH_MISMATCH = 0xC0000004
    STATUS_INVALID_PARAMETER = 0xC000000D
    STATUS_NO_SUCH_FILE = 0xC000000F
    STATUS_INVALID_DEVICE_REQUEST = 0xC0000010
    STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
    STATUS_ACCESS_DENIED = 0xC0000022
    STATUS_BUFFER_TOO_SMALL = 0xC0000023
    STATUS_OBJECT_NAME_INVALID = 0xC0000033
    STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
    STATUS_OBJECT_NAME_COLLISION = 0xC0000035
    STATUS_OBJECT_PATH_INVALID = 0xC0000039
    STATUS_OBJECT_PATH_NOT_FOUND = 0xC000003A
    STATUS_OBJECT_PATH_SYNTAX_BAD = 0xC000003B
    STATUS_SHARING_VIOLATION = 0xC0000043
    STATUS_EAS_NOT_SUPPORTED = 0xC000004F
    STATUS_EA_TOO_LARGE = 0xC0000050
    STATUS_NONEXISTENT_EA_ENTRY = 0xC0000051
    STATUS_NO_EAS_ON_FILE = 0xC0000052
    STATUS_EA_CORRUPT_ERROR = 0xC0000053
    STATUS_DELETE_PENDING = 0xC0000056
    STATUS_PRIVILEGE_NOT_HELD = 0xC0000061
    STATUS_WRONG_PASSWORD = 0xC000006A
    STATUS_LOGON_FAILURE = 0xC000006D
    STATUS_PASSWORD_EXPIRED = 0xC0000071
    STATUS_NONE_MAPPED = 0xC0000073
    STATUS_INSUFFICIENT_RESOURCES = 0xC000009A
    STATUS_PIPE_NOT_AVAILABLE = 0xC00000AC
    STATUS_PIPE_BUSY = 0xC00000AE
    STATUS_PIPE_DISCONNECTED = 0xC00000B0
    STATUS_PIPE_CLOSING = 0xC00000B1
    STATUS_IO_TIMEOUT = 0xC00000B5
    STATUS_FILE_IS_A_DIRECTORY = 0xC00000BA
    STATUS_NOT_SUPPORTED = 0xC00000BB
    STATUS_BAD_NETWORK_NAME = 0xC00000CC
    STATUS_REQUEST_NOT_ACCEPTED = 0xC00000D0
    STATUS_PIPE_EMPTY = 0xC00000D9
    STATUS_INTERNAL_ERROR = 0xC00000E5
    STATUS_DIRECTORY_NOT_EMPTY = 0xC0000101
    STATUS_NOT_A_DIRECTORY = 0xC0000103
    STATUS_CANCELLED = 0xC0000120
    STATUS_CANNOT_DELETE = 0xC0000121
    STATUS_FILE_CLOSED = 0xC0000128
    STATUS_PIPE_BROKEN = 0xC000014B
    STATUS_FS_DRIVER_REQUIRED = 0xC000019C
    STATUS_USER_SESSION_DELETED = 0xC0000203
    STATUS_INSUFF_SERVER_RESOURCES = 0xC0000205
    STATUS_NOT_FOUND = 0xC0000225
    STATUS_PATH_NOT_COVERED = 0xC0000257
    STATUS_DFS_UNAVAILABLE = 0xC000026D
    STATUS_NOT_A_REPARSE_POINT = 0xC0000275
    STATUS_SERVER_UNAVAILABLE = 0xC0000466
    UNKNOWN = -1

    @classmethod
    def lookup(cls, ntstatus_code):
        """The member whose value equals ``ntstatus_code``, else ``UNKNOWN``."""
        return next((member for member in cls if member.value == ntstatus_code), cls.UNKNOWN)


class SMBBaseError(Exception):
    """The base of the SMB errors the connections raise."""


class SMBTimeoutError(SMBBaseError):
    """The server did not answer in time, or closed the connection."""


class SMBConnectionError(SMBBaseError):
    """No connection or session: not connected, refused, or the login failed."""


class SMBOperationError(SMBBaseError):
    """The server refused an operation: its NT status code (``ntstatus``) and ``description``
    (the text is ``[NtStatus <name>] <description>``)."""

    def __init__(self, *args, ntstatus, description, **kwargs):
        super().__init__(*args, **kwargs)
        self.ntstatus = ntstatus
        self.description = description

    def __str__(self):
        return f'[NtStatus {NTStatus.lookup(self.ntstatus).name}] {self.description}'


class SMBFileAttributes(int, Enum):
    """File attribute bits; each protocol family has its own values (the subclasses)."""

    NORMAL: int
    READONLY: int
    HIDDEN: int
    SYSTEM: int
    DIRECTORY: int
    ARCHIVE: int
    TEMPORARY: int


class MSCIFSFileAttributes(SMBFileAttributes):
    """File attributes as MS-CIFS (SMB 1, pysmb) numbers them. ``INCL_NORMAL`` is not an
    attribute: in a ``list_path`` search it asks for normal files too."""

    NORMAL: int = 0x00
    READONLY: int = 0x01
    HIDDEN: int = 0x02
    SYSTEM: int = 0x04
    VOLUME: int = 0x08
    DIRECTORY: int = 0x10
    ARCHIVE: int = 0x20
    TEMPORARY: int = 0x0100
    COMPRESSED: int = 0x0800
    INCL_NORMAL = 0x10000


class MSFSCCFileAttributes(SMBFileAttributes):
    """File attributes as MS-FSCC (SMB 2 and 3, smbprotocol) numbers them."""

    READONLY: int = 0x01
    HIDDEN: int = 0x02
    SYSTEM: int = 0x04
    VOLUME: int = 0x08
    DIRECTORY: int = 0x10
    ARCHIVE: int = 0x20
    NORMAL: int = 0x80
    TEMPORARY: int = 0x0100
    SPARSE_FILE: int = 0x0200
    REPARSE_POINT: int = 0x0400
    COMPRESSED: int = 0x0800
    OFFLINE: int = 0x1000
    NOT_CONTENT_INDEXED: int = 0x2000
    ENCRYPTED: int = 0x4000
    INTEGRITY_STREAM: int = 0x8000
    NO_SCRUB_DATA: int = 0x020000
    RECALL_ON_OPEN: int = 0x040000
    PINNED: int = 0x080000
    UNPINNED: int = 0x100000
    RECALL_ON_DATA_ACCESS: int = 0x400000


class SMBFile:
    """A file or folder on a share: times (epoch seconds), sizes, attribute bits (read with
    ``attributes_class``), names and file id."""

    def __init__(
        self,
        create_time,
        last_access_time,
        last_write_time,
        last_attr_change_time,
        file_size,
        alloc_size,
        file_attributes,
        filename,
        attributes_class,
        short_name=None,
        file_id=None,
    ):
        self.create_time = create_time
        self.last_access_time = last_access_time
        self.last_write_time = last_write_time
        self.last_attr_change_time = last_attr_change_time
        self.file_size = file_size
        self.alloc_size = alloc_size
        self.file_attributes = file_attributes
        self.short_name = short_name
        self.filename = filename
        self.file_id = file_id
        self._attribute_class = attributes_class

    def has_attribute(self, attribute):
        """Whether the attribute's bit is set."""
        return bool(self.file_attributes & attribute.value)

    def get_readable_attributes(self):
        """The names of the attributes set, in their class's order."""
        return [a.name for a in self._attribute_class if self.has_attribute(a)]

    @property
    def is_directory(self):
        """Whether it is a folder."""
        return self.has_attribute(self._attribute_class.DIRECTORY)

    @property
    def is_read_only(self):
        """Whether it is read only."""
        return self.has_attribute(self._attribute_class.READONLY)

    @property
    def is_normal(self):
        """Whether it is a plain file: exactly NORMAL, or none of the low eight bits (read only,
        hidden, system, volume, directory, archive ...) set."""
        return self.file_attributes == self._attribute_class.NORMAL.value or not self.file_attributes & 0xFF


class SMBSigningOptions(Enum):
    """When SMB messages are signed."""

    SIGN_NEVER = 0
    SIGN_WHEN_SUPPORTED = 1
    SIGN_WHEN_REQUIRED = 2


class LavaSMBConnection(ABC):
    """What an SMB connection offers (pysmb's names, snake case); a context manager that closes
    it. Paths are relative to the share (``service_name``); timeouts are in seconds."""

    @abstractmethod
    def __enter__(self):
        """Returns the connection."""

    @abstractmethod
    def __exit__(self, *args):
        """Closes the connection."""

    @property
    @abstractmethod
    def connected(self):
        """Whether it is connected."""

    @abstractmethod
    def connect(self, ip=None, port=None, timeout=60):
        """Connects (to ``ip`` rather than the remote name, on ``port`` rather than the default)."""

    @abstractmethod
    def close(self):
        """Disconnects."""

    @abstractmethod
    def list_path(self, service_name, path, pattern='*', timeout=30, **kwargs):
        """The :class:`SMBFile` entries of a folder matching ``pattern``."""

    @abstractmethod
    def get_attributes(self, service_name, path, timeout=30):
        """The :class:`SMBFile` of one file or folder (``SMBOperationError`` when absent)."""

    @abstractmethod
    def retrieve_file(self, service_name, path, file_obj, timeout=30, **kwargs):
        """Writes a file's content to the binary ``file_obj``: ``(attributes, bytes written)``."""

    @abstractmethod
    def store_file(self, service_name, path, file_obj, timeout=30, **kwargs):
        """Writes what the binary ``file_obj`` holds to a file (replacing it): bytes written."""

    @abstractmethod
    def delete_files(self, service_name, path_file_pattern, delete_matching_folders=False, timeout=30):
        """Deletes the files (and, when asked, folders) matching a pattern (wildcards in the
        last part)."""

    @abstractmethod
    def create_directory(self, service_name, path, timeout=30):
        """Makes a folder (its parent must exist)."""

    @abstractmethod
    def delete_directory(self, service_name, path, timeout=30):
        """Removes an empty folder."""

    @abstractmethod
    def rename(self, service_name, old_path, new_path, timeout=30):
        """Renames a file or folder within the share."""

    @abstractmethod
    def echo(self, timeout=10):
        """Asks the server to echo: the :class:`NTStatus` of the answer."""


def _unc(host, service_name, path):
    """``\\\\host\\service\\path`` (path separators made backslashes, no trailing one)."""
    inner = path.strip('\\/').replace('/', '\\')
    return f'\\\\{host}\\{service_name}\\{inner}'.rstrip('\\')


def _needs(package, module):
    """Imports ``module`` of a client package, or says which package to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f'lava.lib.smb: this connection needs the {package} package (pip install {package})') from e


class SMBProtocolConnection(LavaSMBConnection):
    """An SMB 2/3 connection through ``smbprotocol``'s ``smbclient``. ``domain`` connects
    through DFS (its settings are process-wide in smbclient, so make such connections one at
    a time); ``encrypt`` requires encryption; ``port`` defaults to 445 (139 when not
    ``is_direct_tcp``)."""

    log = logging.getLogger('lava.lib.smb.SMBProtocolConnection')
    _file_att_class = MSFSCCFileAttributes

    def __init__(
        self,
        username,
        password,
        my_name,
        remote_name,
        port=None,
        domain='',
        use_ntlm_v2=True,
        sign_options=SMBSigningOptions.SIGN_WHEN_REQUIRED,
        is_direct_tcp=True,
        encrypt=True,
    ):
        self._smbclient = _needs('smbprotocol', 'smbclient')
        _needs('smbprotocol', 'smbclient.shutil')
        self._username = username
        self._password = password
        self._my_name = my_name
        self._remote_name = remote_name
        self._domain = domain
        self._skip_dfs = not domain
        self._auth_protocol = 'ntlm' if use_ntlm_v2 else 'negotiate'
        self._require_signing = bool(sign_options.value)
        self._port = port or (445 if is_direct_tcp else 139)
        self._encrypt = encrypt
        self._conn_cache = {}
        self._host = None
        self._session = None

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    @contextmanager
    def _error_handler(self):
        """smbprotocol's errors as this module's."""
        from smbprotocol import exceptions as x

        try:
            yield
        except (x.SMBAuthenticationError, x.SMBLinkRedirectionError) as e:
            raise SMBConnectionError(e) from e
        except (x.IOTimeout, x.SMBConnectionClosed) as e:
            raise SMBTimeoutError(e) from e
        except x.SMBOSError as e:
            where = f"'{e.filename}'" + (f" -> '{e.filename2}'" if e.filename2 else '')
            raise SMBOperationError(ntstatus=e.ntstatus, description=f'{e.strerror}: {where}') from e
        except x.SMBResponseException as e:
            raise SMBOperationError(ntstatus=e.status, description=e.message) from e
        except x.SMBUnsupportedFeature as e:
            raise SMBOperationError(ntstatus=NTStatus.STATUS_NOT_SUPPORTED, description=e.message) from e
        except x.SMBException as e:
            raise SMBBaseError(e) from e

    def _options(self):
        return {'connection_cache': self._conn_cache, 'port': self._port}

    def _require_connection(self):
        if not self.connected:
            raise SMBConnectionError('Not connected to SMB server')

    @property
    def connected(self):
        """Whether the session's transport is connected (None before :meth:`connect`)."""
        return self._session and self._session.connection.transport.connected

    def _service_path(self, service_name, path):
        return _unc(self._host, service_name, path)

    def _search_with_pattern(self, service_name, path_file_pattern, include_directories=False, group_directories=True):
        """The folders (when ``include_directories``) and files whose UNC paths match the
        pattern, no deeper than it goes; with ``group_directories`` nothing inside a matching
        folder is listed. ``(folders, files)``."""
        pattern = self._service_path(service_name, path_file_pattern)
        parts = pattern.split('\\')
        wild = next((i for i, part in enumerate(parts) if '*' in part or '?' in part), None)
        # Walk from the deepest folder above the first wildcard (else from the last part's folder).
        top = '\\'.join(parts[:wild]).rstrip('\\') if wild is not None else '\\'.join(parts[:-1])
        depth_limit = len(parts) - len(top.split('\\'))
        folders, files, inside = set(), set(), set()
        for dirpath, dirnames, filenames in self._smbclient.walk(top, **self._options()):
            below = dirpath[len(top):].lstrip('\\')
            if (len(below.split('\\')) if below else 0) >= depth_limit:
                continue
            skip = group_directories and dirpath in inside
            if include_directories:
                for name in dirnames:
                    full = f'{dirpath}\\{name}'
                    if skip:
                        inside.add(full)
                    elif fnmatch.fnmatch(full, pattern):
                        folders.add(full)
                        inside.add(full)
            if not skip:
                files.update(f for f in (f'{dirpath}\\{name}' for name in filenames) if fnmatch.fnmatch(f, pattern))
        return list(folders), list(files)

    def _set_client_config(self):
        """smbclient's process-wide settings (credentials there only for DFS)."""
        settings = {
            'client_guid': self._my_name.ljust(16)[:16].encode(),
            'skip_dfs': self._skip_dfs,
            'auth_protocol': self._auth_protocol,
            'require_secure_negotiate': True,
        }
        if self._domain:
            settings.update(username=self._username, password=self._password, domain_controller=self._domain)
        self._smbclient.ClientConfig(**settings)

    def connect(self, ip=None, port=None, timeout=60):
        """Opens a session (closing any open one first)."""
        with self._error_handler():
            if self.connected:
                self.close()
            self._set_client_config()
            self._host = ip or self._remote_name
            self._port = port or self._port
            if self._domain and self._domain == self._host:
                raise SMBConnectionError(
                    'DFS domain and SMB remote name can not be the same, this will cause an infinite loop when '
                    'attempting to locate files. If they are named the same consider setting the host to an IP '
                    'address.'
                )
            try:
                self._session = self._smbclient.register_session(
                    server=self._host,
                    port=self._port,
                    username=self._username,
                    password=self._password,
                    encrypt=self._encrypt,
                    auth_protocol=self._auth_protocol,
                    require_signing=self._require_signing,
                    connection_timeout=timeout,
                    connection_cache=self._conn_cache,
                )
            except ValueError as e:
                raise SMBConnectionError(e)
            self.log.debug('Connected to %s:%s', self._host, self._port)

    def close(self):
        """Closes every connection this one opened (nothing when not connected)."""
        if not self.connected:
            return
        for connection in self._conn_cache.values():
            connection.disconnect(close=True)

    def list_path(self, service_name, path, pattern='*', timeout=30, search=None):
        """The entries of a folder matching ``pattern`` with any of the ``search`` attribute
        bits (by default read only, hidden, system, directory, archive and normal)."""
        from smbclient._io import SMBDirectoryIO
        from smbprotocol.file_info import FileInformationClass

        self._require_connection()
        a = self._file_att_class
        if search is None:
            search = a.READONLY | a.HIDDEN | a.SYSTEM | a.DIRECTORY | a.ARCHIVE | a.NORMAL
        found = []
        with self._error_handler():
            folder = self._service_path(service_name, path)
            with SMBDirectoryIO(folder, share_access='rwd', **self._options()) as listing:
                for info in listing.query_directory(pattern, FileInformationClass.FILE_ID_FULL_DIRECTORY_INFORMATION):
                    name = info['file_name'].get_value().decode('utf-16-le')
                    if name in ('.', '..'):
                        continue
                    entry = SMBFile(
                        create_time=info['creation_time'].get_value().timestamp(),
                        last_access_time=info['last_access_time'].get_value().timestamp(),
                        last_write_time=info['last_write_time'].get_value().timestamp(),
                        last_attr_change_time=info['change_time'].get_value().timestamp(),
                        file_size=info['end_of_file'].get_value(),
                        alloc_size=info['allocation_size'].get_value(),
                        file_attributes=info['file_attributes'].get_value(),
                        attributes_class=a,
                        filename=name,
                        file_id=info['file_id'].get_value(),
                    )
                    if entry.file_attributes & search:
                        found.append(entry)
        self.log.debug('Listed %s', folder)
        return found

    def get_attributes(self, service_name, path, timeout=30):
        """The entry for one path, found by listing its folder (a path at the share's top too)."""
        where = self._service_path(service_name, path)
        folder, _, name = path.strip('\\/').replace('/', '\\').rpartition('\\')
        found = self.list_path(service_name, folder, name, timeout)
        if len(found) != 1:
            raise SMBOperationError(
                ntstatus=NTStatus.STATUS_OBJECT_PATH_NOT_FOUND,
                description=f"No files or directories exist at the path '{where}'",
            )
        return found[0]

    def retrieve_file(self, service_name, path, file_obj, timeout=30, **kwargs):
        """Copies a file into ``file_obj``: ``(attributes, file_obj.tell())``."""
        self._require_connection()
        attributes = self.get_attributes(service_name, path, timeout)
        with self._error_handler():
            source = self._service_path(service_name, path)
            with self._smbclient.open_file(source, 'rb', **self._options()) as remote:
                self._smbclient.shutil.copyfileobj(remote, file_obj)
            self.log.debug('Retrieved %s', source)
            return attributes.file_attributes, file_obj.tell()

    def store_file(self, service_name, path, file_obj, timeout=30, **kwargs):
        """Copies ``file_obj`` to a file: ``file_obj.tell()`` after."""
        self._require_connection()
        with self._error_handler():
            target = self._service_path(service_name, path)
            with self._smbclient.open_file(target, 'wb', **self._options()) as remote:
                self._smbclient.shutil.copyfileobj(file_obj, remote)
            self.log.debug('Stored %s', target)
            return file_obj.tell()

    def delete_files(self, service_name, path_file_pattern, delete_matching_folders=False, timeout=30):
        """Deletes the matching files (and folders, with their content, when asked); a folder
        named exactly, without wildcards, is refused (``delete_directory`` removes one)."""
        self._require_connection()
        with self._error_handler():
            folders, files = self._search_with_pattern(service_name, path_file_pattern, delete_matching_folders)
            wildcards = '*' in path_file_pattern or '?' in path_file_pattern
            if not wildcards and folders == [self._service_path(service_name, path_file_pattern)]:
                raise SMBOperationError(
                    ntstatus=NTStatus.STATUS_FILE_IS_A_DIRECTORY,
                    description=f'Cannot delete folder {path_file_pattern} on {service_name}, please use '
                    'delete_directory() method instead or add "/*" to the path if you wish to delete all files '
                    'in the folder.',
                )
            for folder in folders:
                self._smbclient.shutil.rmtree(folder, **self._options())
            for file in files:
                self._smbclient.remove(file, **self._options())

    def create_directory(self, service_name, path, timeout=30):
        """Makes a folder."""
        self._require_connection()
        with self._error_handler():
            self._smbclient.mkdir(self._service_path(service_name, path), **self._options())

    def delete_directory(self, service_name, path, timeout=30):
        """Removes an empty folder."""
        self._require_connection()
        with self._error_handler():
            self._smbclient.rmdir(self._service_path(service_name, path), **self._options())

    def rename(self, service_name, old_path, new_path, timeout=30):
        """Renames within the share."""
        self._require_connection()
        with self._error_handler():
            old, new = self._service_path(service_name, old_path), self._service_path(service_name, new_path)
            self._smbclient.rename(old, new, **self._options())

    def echo(self, timeout=10):
        """SMB ECHO on the session: ``STATUS_SUCCESS`` or the status the server answered."""
        self._require_connection()
        try:
            with self._error_handler():
                self._session.connection.echo(self._session.session_id, timeout)
                return NTStatus.STATUS_SUCCESS
        except SMBOperationError as e:
            self.log.error(e)
            return NTStatus.lookup(e.ntstatus)


class PySMBConnection(LavaSMBConnection):
    """An SMB connection through ``pysmb``'s ``SMBConnection`` (made at once, connected by
    :meth:`connect`); port 445, or 139 (NetBIOS) when not ``is_direct_tcp``."""

    LOG = logging.getLogger('lava.lib.smb.PySMBConnection')
    _file_att_class = MSCIFSFileAttributes

    def __init__(
        self,
        username,
        password,
        my_name,
        remote_name,
        domain='',
        use_ntlm_v2=True,
        sign_options=SMBSigningOptions.SIGN_WHEN_REQUIRED,
        is_direct_tcp=True,
    ):
        pysmb = _needs('pysmb', 'smb.SMBConnection')
        self._username = username
        self._password = password
        self._my_name = my_name
        self._remote_name = remote_name
        self._domain = domain
        self._use_ntlm_v2 = use_ntlm_v2
        self._sign_option = sign_options.value
        self._is_direct_tcp = is_direct_tcp
        self._port = 445 if is_direct_tcp else 139
        self._connection = pysmb.SMBConnection(
            username=username,
            password=password,
            my_name=my_name,
            remote_name=remote_name,
            domain=domain,
            use_ntlm_v2=use_ntlm_v2,
            sign_options=self._sign_option,
            is_direct_tcp=is_direct_tcp,
        )
        self._host = None

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    @contextmanager
    def _error_handler(self):
        """pysmb's errors as this module's."""
        from smb.base import NotConnectedError, NotReadyError, SMBTimeout
        from smb.smb_structs import OperationFailure, ProtocolError, UnsupportedFeature

        try:
            yield
        except (NotConnectedError, NotReadyError, ProtocolError) as e:
            raise SMBConnectionError(str(e).split('\n')[0]) from e
        except SMBTimeout as e:
            raise SMBTimeoutError(str(e)) from e
        except OperationFailure as e:
            status = next(m.status for m in e.smb_messages if m.status > 0)
            raise SMBOperationError(ntstatus=status, description=e.message) from e
        except UnsupportedFeature as e:
            raise SMBOperationError(ntstatus=NTStatus.STATUS_NOT_SUPPORTED, description=str(e)) from e

    def _full_path(self, service_name, path):
        return _unc(self._host, service_name, path)

    def _entry(self, shared):
        return SMBFile(
            create_time=shared.create_time,
            last_access_time=shared.last_access_time,
            last_write_time=shared.last_write_time,
            last_attr_change_time=shared.last_attr_change_time,
            file_size=shared.file_size,
            alloc_size=shared.alloc_size,
            file_attributes=shared.file_attributes,
            attributes_class=self._file_att_class,
            filename=shared.filename,
            short_name=shared.short_name,
            file_id=shared.file_id,
        )

    @property
    def connected(self):
        """Whether pysmb holds a socket."""
        return bool(self._connection.sock)

    def connect(self, ip=None, port=None, timeout=60):
        """Connects and logs in; ``SMBConnectionError`` when the login fails."""
        with self._error_handler():
            self._host = ip or self._remote_name
            self._port = port or self._port
            if not self._connection.connect(ip=self._host, port=self._port, timeout=timeout):
                raise SMBConnectionError(f'Failed to connect to {self._host}:{self._port}')
            self.LOG.debug('Connected to %s:%s', self._host, self._port)

    def close(self):
        """Disconnects."""
        with self._error_handler():
            self._connection.close()

    def list_path(self, service_name, path, pattern='*', timeout=30, search=None):
        """The entries of a folder matching ``pattern`` (``search``: the attribute bits asked
        for; by default read only, hidden, system, directory, archive and normal files)."""
        a = self._file_att_class
        if search is None:
            search = a.READONLY | a.HIDDEN | a.SYSTEM | a.DIRECTORY | a.ARCHIVE | a.INCL_NORMAL
        with self._error_handler():
            listed = self._connection.listPath(
                service_name=service_name, path=path, search=search, pattern=pattern, timeout=timeout
            )
            found = [self._entry(s) for s in listed if s.filename not in ('.', '..')]
        self.LOG.debug('Listed %s', self._full_path(service_name, path))
        return found

    def get_attributes(self, service_name, path, timeout=30):
        """The entry for one path."""
        with self._error_handler():
            return self._entry(self._connection.getAttributes(service_name, path, timeout))

    def retrieve_file(self, service_name, path, file_obj, timeout=30, **kwargs):
        """Copies a file into ``file_obj``: ``(attributes, bytes written)``. ``show_progress``
        and ``tqdm_kwargs`` go to pysmb."""
        with self._error_handler():
            return self._connection.retrieveFile(
                service_name=service_name,
                path=path,
                file_obj=file_obj,
                timeout=timeout,
                show_progress=kwargs.get('show_progress', False),
                tqdm_kwargs=kwargs.get('tqdm_kwargs', {}),
            )

    def store_file(self, service_name, path, file_obj, timeout=30, **kwargs):
        """Copies ``file_obj`` to a file: bytes written. ``show_progress`` and ``tqdm_kwargs``
        go to pysmb."""
        with self._error_handler():
            return self._connection.storeFile(
                service_name=service_name,
                path=path,
                file_obj=file_obj,
                timeout=timeout,
                show_progress=kwargs.get('show_progress', False),
                tqdm_kwargs=kwargs.get('tqdm_kwargs', {}),
            )

    def delete_files(self, service_name, path_file_pattern, delete_matching_folders=False, timeout=30):
        """Deletes the matching files (and folders, when asked)."""
        with self._error_handler():
            self._connection.deleteFiles(
                service_name=service_name,
                path_file_pattern=path_file_pattern,
                delete_matching_folders=delete_matching_folders,
                timeout=timeout,
            )

    def create_directory(self, service_name, path, timeout=30):
        """Makes a folder."""
        with self._error_handler():
            self._connection.createDirectory(service_name, path, timeout)

    def delete_directory(self, service_name, path, timeout=30):
        """Removes an empty folder."""
        with self._error_handler():
            self._connection.deleteDirectory(service_name, path, timeout)

    def rename(self, service_name, old_path, new_path, timeout=30):
        """Renames within the share."""
        with self._error_handler():
            self._connection.rename(service_name, old_path, new_path, timeout)

    def echo(self, timeout=10):
        """SMB ECHO: ``STATUS_SUCCESS`` or the status the server answered."""
        try:
            with self._error_handler():
                self._connection.echo(b'', timeout)
                return NTStatus.STATUS_SUCCESS
        except SMBOperationError as e:
            return NTStatus.lookup(e.ntstatus)


def smb_dir_exists(conn, share_name, path):
    """Whether ``path`` is a folder on the share: False when it cannot be found, an
    ``Exception`` when it is something else."""
    try:
        found = conn.get_attributes(share_name, path)
    except SMBOperationError:
        return False
    if not found.is_directory:
        raise Exception(f'{share_name}:{path} exists but is not a directory')
    return True


def smb_mkdirs(conn, share_name, path):
    """Makes the folder ``path`` on the share, and its missing parents."""
    if smb_dir_exists(conn, share_name, path):
        return
    parent = os.path.split(path)[0]
    if parent and not smb_dir_exists(conn, share_name, parent):
        smb_mkdirs(conn, share_name, parent)
    conn.create_directory(share_name, path)
