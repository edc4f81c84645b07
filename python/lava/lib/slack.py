"""Slack messages for a job's code (the original's ``lava.lib.slack``): :class:`Slack` posts to
a ``slack`` connection's webhook, given the connection's spec (``webhook_url`` and the
defaults ``from``, ``style``, ``colour`` and ``preamble``)."""

import json
import logging
import time

from lava.errors import LavaError

DEFAULT_COLOUR = '#bbbbbb'
MAX_SUBJECT_LEN = 250
MAX_MESSAGE_LEN = 3000
REQUESTS_TIMEOUT = 10


def _post(url, body):
    """POSTs JSON text; ``(ok, status, text)`` of the reply. Uses requests when installed."""
    headers = {'Content-Type': 'application/json'}
    try:
        import requests
    except ImportError:
        requests = None
    if requests is not None:
        reply = requests.post(url, data=body, headers=headers, timeout=REQUESTS_TIMEOUT)
        return reply.ok, reply.status_code, reply.text
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body.encode('utf-8'), headers=headers, method='POST')
    try:
        with urllib.request.urlopen(request, timeout=REQUESTS_TIMEOUT) as reply:  # noqa: S310 (the webhook)
            return True, reply.status, reply.read().decode('utf-8', 'replace')
    except urllib.error.HTTPError as e:
        return False, e.code, e.read().decode('utf-8', 'replace')


class Slack:
    """Posts to a Slack webhook. ``conn_spec`` is the ``slack`` connection's spec; ``sender``
    (else its ``from``, else ``lava@<realm>``), ``style`` (``block``, ``attachment`` or
    ``plain``; else its ``style``, else block), ``colour`` (the attachment style's side bar;
    else its ``colour``, else grey) and ``preamble`` (text put first, e.g. ``<!here>``) are the
    defaults for :meth:`send`."""

    STYLES = {'block', 'attachment', 'plain'}
    STYLE_DEFAULT = 'block'

    def __init__(self, conn_spec, realm, sender=None, style=None, colour=None, preamble=None, logger=None):
        if not conn_spec.get('enabled'):
            raise LavaError(f'Connection "{conn_spec["conn_id"]}" is not enabled')
        if conn_spec.get('type') != 'slack':
            raise ValueError(f'Connection "{conn_spec["conn_id"]}" is not a slack connection')
        self.conn_spec = conn_spec
        self.realm = realm
        self.sender = sender or conn_spec.get('from', f'lava@{realm}')
        self.colour = colour or conn_spec.get('colour', DEFAULT_COLOUR)
        self.style = style or conn_spec.get('style', self.STYLE_DEFAULT)
        self.preamble = preamble or conn_spec.get('preamble')
        self.logger = logger or logging.getLogger()
        if self.style not in self.STYLES:
            raise ValueError(f'Connection "{conn_spec["conn_id"]}": Bad style {self.style}')

    def send(self, message, subject=None, preamble=None, sender=None, style=None, colour=None):
        """Posts ``message`` (cut to 3000 characters) with an optional ``subject`` (cut to 250)
        in the given or default style; ``ValueError`` for no message or an unknown style."""
        if not message:
            raise ValueError('Cannot send slack message: message must be specified')
        style = style or self.style
        sender = sender or self.sender
        preamble = preamble or self.preamble
        colour = colour or self.colour
        if not colour.startswith('#'):
            colour = '#' + colour
        if subject:
            subject = subject[:MAX_SUBJECT_LEN]
        message = message[:MAX_MESSAGE_LEN]
        now = int(time.time())

        def joined(parts, sep):
            return sep.join(p for p in parts if p)

        one_line = [preamble, sender and f'*{sender}*:', subject and f'*{subject}*:', message]
        if style == 'plain':
            payload = {'text': joined(one_line, ' ')}
        elif style == 'block':
            heading = [preamble, sender and f'*From*: {sender}', subject and f'*Subject*: {subject}']
            when = f'Event time: <!date^{now}^{{date_short_pretty}} at {{time}}| >'
            payload = {
                'text': joined(one_line, ' '),
                'blocks': [
                    {'type': 'section', 'text': {'type': 'mrkdwn', 'text': joined(heading, '\n')}},
                    {'type': 'divider'},
                    {'type': 'section', 'text': {'type': 'mrkdwn', 'text': message}},
                    {'type': 'context', 'elements': [{'type': 'mrkdwn', 'text': when}]},
                ],
            }
        elif style == 'attachment':
            attachment = {
                'fallback': message,
                'author_name': sender or self.sender,
                'color': colour or self.colour,
                'text': message,
                'footer': 'Event time',
                'ts': now,
            }
            if subject:
                attachment['title'] = subject
            payload = {'attachments': [attachment]}
            if preamble:
                payload['text'] = preamble
        else:
            raise ValueError(f'Bad slack message style: {style}')
        self.send_raw(payload)

    def send_raw(self, slack_msg):
        """Posts a payload as the webhook API takes it; ``LavaError`` with the status and text
        of a reply that is not a success."""
        url = self.conn_spec['webhook_url']
        ok, status, text = _post(url, json.dumps(slack_msg))
        if not ok:
            raise LavaError(f'Slack response {status} - {text}')
        self.logger.debug('Slack message sent to %s', url)
