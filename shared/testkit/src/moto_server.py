"""moto's server with DynamoDB's per-item atomicity.

moto's server answers requests on many threads and does not serialise them: two UpdateItems
with the same condition that arrive together can both see it hold and both apply (measured: one
batch in forty of eight identical `NOT contains(...)` updates appended twice). DynamoDB applies
each conditional write atomically, and lava's run leases and idempotent event writes rely on
it. This launcher runs every DynamoDB request under one lock; everything else is moto as it is.

Run: <venv>/bin/python moto_server.py -H 127.0.0.1 -p PORT  (the arguments are moto_server's)
"""

import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_lock = threading.Lock()
_call_action = DynamoHandler.call_action


def _atomic(handler):
    with _lock:
        return _call_action(handler)


DynamoHandler.call_action = _atomic

if __name__ == "__main__":
    main()
