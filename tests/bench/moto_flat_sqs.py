"""moto's server with one benchmark-only change: SendMessage stops counting the queue.

moto's send path reads `Queue.attributes` (to look up ContentBasedDeduplication), and that
property counts every message in the queue three times (the Approximate* attributes), so each
send costs time in proportion to the queue's depth and filling a queue costs the square of its
size. SQS's own send time does not grow with depth. While a send is in progress on a thread,
this launcher answers `attributes` with only the deduplication setting, which is all the send
path reads; every other request sees moto unchanged.

Run: .venv/bin/python tests/bench/moto_flat_sqs.py -H 127.0.0.1 -p PORT
"""

import sys
import threading

from moto.server import main
from moto.sqs import models

_sending = threading.local()
_full_attributes = models.Queue.attributes.fget
_send_message = models.SQSBackend.send_message


def _attributes(queue):
    if getattr(_sending, "active", False):
        if not queue.fifo_queue:
            return {}
        return {"ContentBasedDeduplication": str(bool(queue.content_based_deduplication)).lower()}
    return _full_attributes(queue)


def _send(backend, *args, **kwargs):
    _sending.active = True
    try:
        return _send_message(backend, *args, **kwargs)
    finally:
        _sending.active = False


models.Queue.attributes = property(_attributes)
models.SQSBackend.send_message = _send

if __name__ == "__main__":
    main(sys.argv[1:])
