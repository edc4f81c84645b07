"""State items: ``LavaStateItem.new(...)``, ``.put()`` and ``LavaStateItem.get(state_id,
realm)``, stored and read by the ``lava state`` command (the state manager the worker and the
actions use), so values are encoded as lava encodes them (``json``, ``raw``, ``secure`` with
KMS)."""

import json

from lava import _cli
from lava.errors import LavaError

STATE_TYPES = ("json", "raw", "secure")


class LavaStateItem:
    """A state item. Use :meth:`new` and :meth:`get` rather than the constructor.

    ``ttl`` is seconds or a duration such as ``2h`` (the realm's ``STATE_TTL`` when absent,
    capped at ``STATE_MAX_TTL``); ``kms_key`` is for the ``secure`` type.
    """

    def __init__(self, state_id, realm, value, state_type=None, publisher=None, ttl=None, aws_session=None, kms_key=None, **kwargs):
        state_type = state_type or "json"
        if state_type not in STATE_TYPES:
            raise LavaError("%s: No such state type" % state_type)
        self.state_id = state_id
        self.realm = _cli.realm_name(realm)
        self.value = value
        self.state_type = state_type
        self.publisher = publisher
        self.ttl = ttl
        self.kms_key = kms_key
        self.timestamp = None

    @classmethod
    def new(cls, state_type=None, *args, **kwargs):
        """A new item (not stored until :meth:`put`)."""
        return cls(*args, state_type=state_type, **kwargs)

    @classmethod
    def get(cls, state_id, realm, aws_session=None):
        """The stored item; ``KeyError`` when there is none (``'Item'``, as the original's)."""
        realm = _cli.realm_name(realm)
        try:
            found = json.loads(_cli.run(["state", "get", state_id, "--item"], realm=realm))
        except LavaError as e:
            if str(e).endswith(": not found"):
                raise KeyError("Item") from None
            raise
        item = cls(state_id, realm, found["value"], state_type=found["type"], publisher=found.get("publisher"))
        item.timestamp = found.get("timestamp")
        return item

    def put(self):
        """Stores the item, replacing any earlier one."""
        args = ["state", "put", self.state_id, "--json-value", json.dumps(self.value), "--type", self.state_type]
        if self.publisher:
            args += ["--publisher", self.publisher]
        if self.ttl is not None:
            args += ["--ttl", "%ss" % self.ttl if isinstance(self.ttl, (int, float)) else self.ttl]
        if self.kms_key:
            args += ["--kms-key", self.kms_key]
        _cli.run(args, realm=self.realm)

    def __str__(self):
        return "%s(state_id=%r, value=%r, publisher=%r, timestamp=%s)" % (
            self.__class__.__name__, self.state_id, self.value, self.publisher, self.timestamp,
        )
