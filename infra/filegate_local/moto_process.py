"""moto server in a child process that cannot outlive its parent: `python -m filegate_local.moto_process`.

It serves moto on host:port, prints "ready" on stdout, and exits as soon as its stdin reaches EOF, which
happens when the local stack stops it; if the parent dies for any reason (even SIGKILL) the lifeline ends it,
so a crashed `make dev` never leaves a moto server holding the port. moto_fixes makes its DynamoDB Streams
behave as AWS's do.

Besides moto's own API it answers ``GET /_filegate/ses-messages``: the mail SES has accepted, read from
moto's backends in this process. moto's ``/moto-api/data.json`` has them too, but it serialises every
model of every service (each S3 object, each DynamoDB item) and slows to seconds as a stack fills up: too
heavy to poll every second for `make dev`'s console, or to read in every sign-in test.

So that a stack can run all day, it also expires what AWS expires (see expiry; every minute, and at once on
``POST /_filegate/expire?now=<epoch seconds>``, the clock tests and benchmarks move), keeps S3 objects over
``S3_KEY_BUFFER_BYTES`` in temporary files rather than in memory, and answers ``GET /_filegate/footprint``:
how much of each kind moto holds.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from filegate_local import expiry, moto_fixes
from filegate_local.lifeline import exit_with_parent

SES_MESSAGES_PATH = "/_filegate/ses-messages"
EXPIRE_PATH = "/_filegate/expire"
FOOTPRINT_PATH = "/_filegate/footprint"
# moto keeps each S3 object in a SpooledTemporaryFile of this size (its default is ~5 MB): larger objects,
# which are most of a conversion's bytes, go to a temporary file on disk instead of the heap.
S3_KEY_BUFFER_BYTES = 64 * 1024

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def sent_messages() -> list[dict[str, Any]]:
    """Every plain message moto's SES (v1 and v2 share one backend) accepted, in every account and region,
    oldest first within each; the shape data.json gives them."""
    from moto.ses.models import ses_backends

    found: list[dict[str, Any]] = []
    for regions in list(ses_backends.values()):
        for backend in list(regions.values()):
            for message in list(backend.sent_messages):
                if all(hasattr(message, name) for name in ("id", "source", "subject", "body", "destinations")):
                    found.append(
                        {
                            "id": message.id,
                            "source": message.source,
                            "subject": message.subject,
                            "body": message.body,
                            "destinations": message.destinations,
                        }
                    )
    return found


def footprint() -> dict[str, int]:
    """How many of each kind moto holds, and the S3 bytes still in memory (not spooled to disk)."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodbstreams.models import dynamodbstreams_backends
    from moto.s3.models import s3_backends
    from moto.sqs.models import sqs_backends

    counts = dict.fromkeys(
        ("items", "stream_records", "shard_iterators", "table_copies_held_by_iterators", "objects",
         "object_bytes_in_memory", "uploads", "messages",
         "deleted_receipts", "mail"),
        0,
    )  # fmt: skip
    current_shards: set[int] = set()
    for backend in expiry.backends(dynamodb_backends):
        for table in list(backend.tables.values()):
            current_shards.add(id(table.stream_shard))
            counts["items"] += len(table.all_items())
            counts["stream_records"] += len(table.stream_shard.items) if table.stream_shard is not None else 0
    for backend in expiry.backends(dynamodbstreams_backends):
        iterators = expiry.snapshot(backend.shard_iterators.values)
        counts["shard_iterators"] += len(iterators)
        held = {id(iterator.stream_shard) for iterator in iterators}
        counts["table_copies_held_by_iterators"] += len(held - current_shards)
    for backend in expiry.backends(s3_backends):
        for bucket in list(backend.buckets.values()):
            counts["uploads"] += len(bucket.multiparts)
            for key in list(bucket.keys.values()):
                counts["objects"] += 1
                buffer = getattr(key, "_value_buffer", None)
                if buffer is not None and not getattr(buffer, "_rolled", True):
                    counts["object_bytes_in_memory"] += int(key.size or 0)
    for backend in expiry.backends(sqs_backends):
        for queue in list(backend.queues.values()):
            counts["messages"] += len(queue._messages)
            counts["deleted_receipts"] += len(queue.deleted_messages)
    counts["mail"] = len(sent_messages())
    return counts


def _json_answer(start_response: Callable[..., Any], payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def with_filegate_endpoints(app: WsgiApp, sweeper: expiry.Sweeper) -> WsgiApp:
    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == SES_MESSAGES_PATH and method == "GET":
            return _json_answer(start_response, {"messages": sent_messages()})
        if path == FOOTPRINT_PATH and method == "GET":
            return _json_answer(start_response, footprint())
        if path == EXPIRE_PATH and method == "POST":
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING") or "")
            now = float(query["now"][0]) if "now" in query else None
            return _json_answer(start_response, sweeper.sweep(now).as_json())
        return app(environ, start_response)

    return serve


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python -m filegate_local.moto_process <host> <port>\n")
        return 2
    host, port = args[0], int(args[1])
    exit_with_parent()  # also covers a parent that dies while moto is still starting
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per SDK call
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(S3_KEY_BUFFER_BYTES))

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    moto_fixes.apply()  # where moto's streams differ from AWS's
    sweeper = expiry.Sweeper(time.time, moto_fixes.TRANSACTION_LOCK)

    class Server(ThreadedMotoServer):
        """moto's threaded server, its app wrapped with the stack's own endpoints."""

        def _server_entry(self) -> None:
            app = with_filegate_endpoints(DomainDispatcherApplication(create_backend_app), sweeper)
            self._server = make_server(host, port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = Server(ip_address=host, port=port, verbose=False)
    server.start()
    sweeper.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
