"""Outbound email for a job's code (the original's ``lava.lib.email``).

``Emailer.handler(conn_spec, realm)`` picks the sender class for an email connection's spec
(``type`` ``ses`` or ``smtp``, or ``email`` with one of those as ``subtype``; ``email`` alone
is SES); each is a context manager with ``message()`` (the MIME message) and ``send()``.

Limits and defaults come from the realm's ``config`` in the ``lava.realms`` table (read once
per process, as lava's worker does), overridden by ``LAVA_<NAME>`` environment variables:
``EMAIL_MAX_ATTACHMENTS``, ``EMAIL_MAX_ATTACHMENT_SIZE``, ``EMAIL_MAX_SIZE``,
``EMAIL_MSGID_DOMAIN``, ``SES_FROM``, ``SES_REGION`` and ``SES_CONFIGURATION_SET``.

Where this differs from the original: SMTP delivers to ``bcc`` too (the original dropped it),
and a file attached by name is sent as its bytes are (the original uncompressed ``.gz``,
``.bz2`` and ``.xz`` files and sent them under their compressed names).
"""

import logging
import os
import smtplib
import threading
import urllib.parse
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from mimetypes import guess_type

from lava.errors import LavaError
from lava.version import __version__, __version_name__

from .aws import ses_send, ssm_get_param
from .misc import dict_check, is_html, listify, size_to_bytes, str2bool

# What the realm's config does not set (as lava's defaults).
_CONFIG_DEFAULTS = {
    'SES_CONFIGURATION_SET': None,
    'SES_REGION': 'us-east-1',
    'SES_FROM': None,
    'EMAIL_MAX_ATTACHMENTS': 5,
    'EMAIL_MAX_ATTACHMENT_SIZE': '2M',
    'EMAIL_MAX_SIZE': '5M',
    'EMAIL_MSGID_DOMAIN': None,
}
_REALM_REQUIRED_FIELDS = {'realm', 's3_payloads', 's3_temp'}


class _RealmConfig:
    """The realm's ``config`` entries (upper-cased), read from ``lava.realms`` on first use."""

    lock = threading.Lock()
    loaded = None
    values = dict(_CONFIG_DEFAULTS)

    @classmethod
    def load(cls, realm, aws_session):
        with cls.lock:
            if cls.loaded:
                return cls.loaded
            try:
                table = aws_session.resource('dynamodb').Table('lava.realms')
            except Exception as e:
                raise Exception(f'Cannot get DynamoDB table lava.realms - {e}')
            entry = table.get_item(Key={'realm': realm}).get('Item')
            if entry is None:
                raise LavaError('No such realm')
            try:
                dict_check(entry, required=_REALM_REQUIRED_FIELDS, ignore={'X-*', 'x-*'})
            except ValueError as e:
                raise LavaError(f'Bad realm record: {e}')
            cls.loaded = entry
            cls.values.update({str(k).upper(): v for k, v in entry.get('config', {}).items()})
            return entry

    @classmethod
    def get(cls, key, convert=None):
        """``LAVA_<KEY>`` from the environment, else the realm's value, else the default."""
        key = key.upper()
        value = os.environ.get('LAVA_' + key, cls.values.get(key))
        if key not in cls.values and 'LAVA_' + key not in os.environ:
            raise KeyError(key)
        if convert is None:
            return value
        try:
            return convert(value)
        except ValueError:
            raise Exception(f'Cannot convert config item {key} using {convert}')


def content_type(filename):
    """``(maintype, subtype)`` for a file name's extension; ``application/octet-stream`` when
    unknown or compressed."""
    guessed, encoding = guess_type(filename)
    if guessed is None or encoding is not None:
        return 'application', 'octet-stream'
    main, sub = guessed.split('/')
    return main, sub


def build_address_header(addresses):
    """``Address`` objects for an address or a list of them (plain or ``Name <a@b.c>``).
    ``TypeError`` for anything but strings, ``ValueError`` for a malformed address."""
    if isinstance(addresses, str):
        addresses = [addresses]
    if not isinstance(addresses, list):
        raise TypeError('Email addresses must be a string or list of strings')
    built = []
    for entry in addresses:
        if not isinstance(entry, str):
            raise TypeError(f'Email address entries must be strings: {entry}')
        display, address = parseaddr(entry.strip())
        if not address or '@' not in address:
            raise ValueError(f'Bad email address: {entry}')
        user, _, domain = address.rpartition('@')
        built.append(Address(display_name=display, username=user, domain=domain))
    return built


@dataclass
class EmailAttachment:
    """An attachment held in memory: its file name and content (text is sent as UTF-8)."""

    name: str
    data: 'str | bytes'


def _read_attachment(location, aws_session, limit):
    """The bytes of a local file (``~`` expanded, ``file://`` allowed) or an ``s3://`` object,
    refused with ``LavaError`` when larger than ``limit``."""
    scheme = urllib.parse.urlsplit(location).scheme
    if scheme in ('s3', 's3a', 's3n'):
        import botocore.exceptions

        bucket, key = location.split('://', 1)[1].split('/', 1)
        try:
            found = aws_session.client('s3').get_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError as e:
            raise OSError(f'unable to access bucket: {bucket!r} key: {key!r} version: None error: {e}')
        if found['ContentLength'] > limit:
            raise LavaError(f'Attachment {location} exceeds {limit} bytes')
        return found['Body'].read()
    if scheme not in ('', 'file'):
        raise NotImplementedError(f'Unable to attach {location}: only local files and s3:// objects can be attached')
    path = os.path.expanduser(location[len('file://'):] if scheme == 'file' else location)
    with open(path, 'rb') as f:
        if f.seek(0, os.SEEK_END) > limit:
            raise LavaError(f'Attachment {location} exceeds {limit} bytes')
        f.seek(0)
        return f.read()


class Emailer:
    """Sends email for an email connection's spec (the entry as stored: ``conn_id``,
    ``enabled``, ``from``, ``reply_to`` and the sender's own fields). Use
    :meth:`Emailer.handler` to get the right kind; it is a context manager.

    ``sender`` is the default From address (else the spec's ``from``); ``aws_session`` a boto3
    Session (a default one when not given); ``logger`` the root logger when not given.
    """

    _EMAIL_HANDLERS = {}

    @classmethod
    def register(cls, *args):
        """A class decorator registering the class for each of the email types named."""

        def decorate(handler_cls):
            for kind in args:
                if kind in cls._EMAIL_HANDLERS:
                    raise LavaError(f'{kind} is already registered')
                cls._EMAIL_HANDLERS[kind] = handler_cls
            return handler_cls

        return decorate

    @classmethod
    def handler(cls, conn_spec, *args, **kwargs):
        """An emailer for the spec's ``type`` (or, for type ``email``, its ``subtype``, SES when
        it has none), made with the remaining arguments."""
        try:
            made = cls._EMAIL_HANDLERS[conn_spec['type']]
            return made(conn_spec, *args, **kwargs)
        except KeyError:
            pass
        kind = conn_spec['type']
        if kind != 'email':
            raise LavaError(f'No email handler for type {kind}')
        if 'subtype' not in conn_spec:
            return cls._EMAIL_HANDLERS['ses'](conn_spec, *args, **kwargs)
        subtype = conn_spec['subtype']
        if subtype not in cls._EMAIL_HANDLERS:
            raise LavaError(f'No email handler for type/subtype {kind}/{subtype}')
        return cls._EMAIL_HANDLERS[subtype](conn_spec, *args, **kwargs)

    def __init__(self, conn_spec, realm, sender=None, aws_session=None, logger=None):
        if not conn_spec.get('enabled'):
            raise LavaError(f'Connection "{conn_spec["conn_id"]}" is not enabled')
        if aws_session is None:
            import boto3

            aws_session = boto3.Session()
        self.conn_spec = conn_spec
        self.realm = realm
        self.aws_session = aws_session
        self.sender = sender or conn_spec.get('from')
        self.logger = logger or logging.getLogger()
        _RealmConfig.load(realm, aws_session)

    def __enter__(self):
        self.logger.debug('Emailer %s: open', self.conn_spec['type'])
        return self

    def __exit__(self, *args, **kwargs):
        self.logger.debug('Emailer %s: closing', self.conn_spec['type'])
        self.close()

    def message(self, subject, message, to=None, cc=None, sender=None, reply_to=None, attachments=None):
        """The MIME message (no Bcc header): ``message`` as its HTML or plain text body, and the
        attachments (file names, local or ``s3://``, or :class:`EmailAttachment`). Reply-To
        defaults to the spec's ``reply_to``. ``LavaError`` for what is missing or too big."""
        if not sender:
            raise LavaError('Email sender must be specified')
        if not to and not cc:
            raise LavaError('No recipients specified for email')
        if not subject or not message:
            raise LavaError('Cannot send email: subject and message must be specified')
        reply_to = reply_to or self.conn_spec.get('reply_to')
        if reply_to and isinstance(reply_to, str):
            reply_to = [reply_to]

        msg = EmailMessage()
        msg['Subject'] = subject
        msg['Date'] = formatdate()
        msg['Message-ID'] = make_msgid(domain=_RealmConfig.get('EMAIL_MSGID_DOMAIN') or None)
        msg['User-Agent'] = f'lava/{__version__} ({__version_name__})'
        for header, value in (('From', sender), ('To', to), ('Cc', cc), ('Reply-To', reply_to)):
            if value:
                msg[header] = build_address_header(value)
        msg.set_content(message, subtype='html' if is_html(message) else 'plain', disposition='inline')

        largest = _RealmConfig.get('EMAIL_MAX_ATTACHMENT_SIZE', size_to_bytes)
        most = _RealmConfig.get('EMAIL_MAX_ATTACHMENTS', int)
        attachments = tuple(attachments or ())
        if len(attachments) > most:
            raise LavaError(f'Too many email attachments (max {most})')
        for number, item in enumerate(attachments, 1):
            if isinstance(item, EmailAttachment):
                data = item.data.encode('utf-8') if isinstance(item.data, str) else item.data
                if len(data) > largest:
                    raise LavaError(f'Attachment {item.name} exceeds (max {largest} bytes')
                name, kind = item.name, content_type(item.name)
            elif isinstance(item, str):
                data = _read_attachment(item, self.aws_session, largest)
                name, kind = os.path.basename(item), content_type(item)
            else:
                raise ValueError(f'Bad type for attachment {number}: {type(item)}')
            msg.add_attachment(data, maintype=kind[0], subtype=kind[1], filename=name)
        return msg

    def send(self, subject, message, to=None, cc=None, bcc=None, sender=None, reply_to=None, attachments=None):
        """Sends one message (see :meth:`message`); each kind of emailer implements it."""
        raise NotImplementedError('send')

    def close(self):
        """Ends the session with the mail service (nothing to do here)."""

    def _check_size(self, size):
        largest = _RealmConfig.get('EMAIL_MAX_SIZE', size_to_bytes)
        if size > largest:
            raise ValueError(f'Email size {size} bytes exceeds maximum allowed size of {largest} bytes')


class AwsSesLegacy(Emailer):
    """SES through its SendEmail call (no attachments); not registered for any type."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.sender:
            self.sender = self.conn_spec.get('from', _RealmConfig.get('SES_FROM'))

    def send(self, subject, message, to=None, cc=None, bcc=None, sender=None, reply_to=None, attachments=None):
        """Sends ``message`` (as HTML when it looks like it) with SES's SendEmail."""
        if not subject or not message:
            raise ValueError('Cannot send email: subject and message must be specified')
        if attachments:
            raise LavaError(f'{type(self).__name__} does not support attachments')
        sender = sender or self.sender
        if not sender:
            raise LavaError('Sender must be specified')
        html = message if is_html(message) else None
        ses_send(
            sender=sender,
            to=to,
            cc=cc,
            bcc=bcc,
            reply_to=reply_to or self.conn_spec.get('reply_to'),
            subject=subject,
            message=None if html else message,
            html=html,
            region=self.conn_spec.get('region', _RealmConfig.get('SES_REGION')),
            config_set=self.conn_spec.get('configuration_set', _RealmConfig.get('SES_CONFIGURATION_SET')),
            aws_session=self.aws_session,
        )


@Emailer.register('ses')
class AwsSes(Emailer):
    """SES through its SendRawEmail call (attachments allowed); its client is ``ses_client``,
    in the spec's ``region`` (else the realm's ``SES_REGION``)."""

    def __init__(self, conn_spec, realm, sender=None, aws_session=None, logger=None):
        super().__init__(conn_spec, realm, sender=sender, aws_session=aws_session, logger=logger)
        region = self.conn_spec.get('region', _RealmConfig.get('SES_REGION'))
        self.ses_client = self.aws_session.client('ses', region_name=region)

    def send(self, subject, message, to=None, cc=None, bcc=None, sender=None, reply_to=None, attachments=None):
        """Sends the message to ``to``, ``cc`` and ``bcc``; the From address defaults to the
        emailer's sender, then the realm's ``SES_FROM``."""
        import botocore.exceptions

        raw = self.message(
            subject=subject,
            message=message,
            to=to,
            cc=cc,
            sender=sender or self.sender or _RealmConfig.get('SES_FROM'),
            reply_to=reply_to,
            attachments=attachments,
        ).as_bytes()
        self._check_size(len(raw))
        recipients = [address for group in (to, cc, bcc) if group for address in listify(group)]
        request = {'Destinations': recipients, 'RawMessage': {'Data': raw}}
        config_set = self.conn_spec.get('configuration_set', _RealmConfig.get('SES_CONFIGURATION_SET'))
        if config_set:
            request['ConfigurationSetName'] = config_set
        try:
            sent = self.ses_client.send_raw_email(**request)
        except botocore.exceptions.ClientError as e:
            raise LavaError(f'{self.conn_spec["conn_id"]}: {e.response["Error"]["Message"]}')
        self.logger.debug('SES message id %s', sent['MessageId'])


@Emailer.register('smtp')
class SmtpTls(Emailer):
    """An SMTP server (the spec's ``host`` and ``port``, STARTTLS when ``tls`` is true, and a
    login when it has a ``user``, the password read from the SSM parameter its ``password``
    names). It connects when made; its ``smtplib.SMTP`` is ``server``."""

    CONNECTION_REQUIRED_FIELDS = {'host'}
    SMTP_TLS_TIMEOUT = 10
    DEBUG_LEVEL = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        conn_id = self.conn_spec['conn_id']
        try:
            dict_check(self.conn_spec, required=self.CONNECTION_REQUIRED_FIELDS)
        except ValueError as e:
            raise LavaError(f'{conn_id}: Bad connection record: {e}')
        tls = str2bool(self.conn_spec.get('tls', False))
        host = self.conn_spec['host']
        port = int(self.conn_spec.get('port', smtplib.SMTP_SSL_PORT if tls else smtplib.SMTP_PORT))
        user = self.conn_spec.get('user')
        password = None
        if user:
            if 'password' not in self.conn_spec:
                raise LavaError(f'{conn_id}: password is required if user is specified')
            try:
                password = ssm_get_param(self.conn_spec['password'], aws_session=self.aws_session)
            except LavaError as e:
                raise LavaError(f'{conn_id}: {e}')
        self.logger.debug('%s: connecting to %s:%s', conn_id, host, port)
        self.server = smtplib.SMTP(host, port, timeout=self.SMTP_TLS_TIMEOUT)
        self.server.set_debuglevel(self.DEBUG_LEVEL)
        self.server.ehlo()
        if tls:
            self.server.starttls()
        if user:
            self.server.login(user, password)

    def send(self, subject, message, to=None, cc=None, bcc=None, sender=None, reply_to=None, attachments=None):
        """Sends the message to ``to``, ``cc`` and ``bcc`` (Bcc is in the envelope only)."""
        msg = self.message(
            subject=subject,
            message=message,
            to=to,
            cc=cc,
            sender=sender or self.sender,
            reply_to=reply_to,
            attachments=attachments,
        )
        self._check_size(len(msg.as_bytes()))
        envelope = [a.addr_spec for header in ('To', 'Cc') for a in (msg[header].addresses if msg[header] else ())]
        if bcc:
            envelope += [a.addr_spec for a in build_address_header(listify(bcc))]
        refused = self.server.send_message(msg, to_addrs=envelope)
        self.logger.debug('SMTP refused: %s', refused)

    def close(self):
        """Says QUIT to the server."""
        self.server.quit()
