"""moto_server for the tests, with every request applied atomically.

DynamoDB applies a conditional write to an item atomically; moto's backend has no lock and
its server is threaded, so two racing conditional writes could both pass their condition
there. The race tests would then test moto, not us. This runs moto's own WSGI app behind
one lock (connections stay concurrent; request handling is serialized) so moto gives the
per-item atomicity DynamoDB gives.

Usage: python scripts/moto_dynamodb.py PORT [ADDRESS]   (127.0.0.1 by default)
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def atomic(environ, start_response):
    with lock:
        # Materialise the body under the lock: the response is complete when it is released.
        return list(app(environ, start_response))


if __name__ == "__main__":
    address = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    run_simple(address, int(sys.argv[1]), atomic, threaded=True, request_handler=MotoRequestHandler)
