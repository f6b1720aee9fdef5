"""`python -m filegate_local.moto_process <host> <port>`: moto's threaded server, which prints "ready" once it
serves, exits when its stdin reaches EOF (the stack stops it) and by the lifeline as soon as the stack's process
dies, so a crashed `make dev` never holds the port. Besides moto's API (with moto_fixes) it answers
`GET /_filegate/ses-messages`, the mail SES accepted (moto's /moto-api/data.json serialises every model of every
service: seconds on a full stack, too slow to poll every second), `GET /_filegate/footprint`, how much of each
kind moto holds, and `POST /_filegate/expire?now=<epoch seconds>`, an expiry sweep now (it runs every minute).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import select
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from filegate_local import expiry, moto_fixes
from filegate_local.expiry import models, snapshot
from filegate_local.lifeline import exit_with_parent

# moto's buffer for an S3 object before it spools to a temporary file (~5 MB by default): conversions' off the heap
S3_KEY_BUFFER_BYTES = 64 * 1024
MAIL_FIELDS = ("id", "source", "subject", "body", "destinations")


def sent_messages() -> list[dict[str, Any]]:
    """Every plain message moto's SES (v1 and v2 share it) accepted, in the shape data.json gives them."""
    found = [message for message in models("ses", "sent_messages") if all(hasattr(message, f) for f in MAIL_FIELDS)]
    return [{name: getattr(message, name) for name in MAIL_FIELDS} for message in found]  # not raw or templated


def footprint() -> dict[str, int]:
    """How many of each kind moto holds, and the S3 bytes still in memory (not spooled to disk)."""
    from moto.dynamodb.models.table import Table

    tables, buckets, queues = models("dynamodb", "tables"), models("s3", "buckets"), models("sqs", "queues")
    objects = [key for bucket in buckets for key in bucket.keys.values()]
    in_memory = [key for key in objects if not getattr(getattr(key, "_value_buffer", None), "_rolled", True)]
    gc.collect()  # a table copy moto dropped is a reference cycle: count only the copies something holds
    return {
        "items": sum(len(snapshot(table.all_items)) for table in tables),
        "stream_records": sum(len(table.stream_shard.items) for table in tables if table.stream_shard is not None),
        "shard_iterators": len(models("dynamodbstreams", "shard_iterators")),
        # Tables alive besides the current ones: each rolled-back transaction's, while iterators held them.
        "table_copies_held_by_iterators": len(Table.instances_tracked) - len(tables),  # type: ignore[attr-defined]
        "objects": len(objects),
        "object_bytes_in_memory": sum(int(key.size or 0) for key in in_memory),
        "uploads": sum(len(bucket.multiparts) for bucket in buckets),
        "messages": sum(len(queue._messages) for queue in queues),
        "deleted_receipts": sum(len(queue.deleted_messages) for queue in queues),
        "mail": len(sent_messages()),
    }


def with_filegate_endpoints(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
        if route == ("GET", "/_filegate/ses-messages"):
            payload: Any = {"messages": sent_messages()}
        elif route == ("GET", "/_filegate/footprint"):
            payload = footprint()
        elif route == ("POST", "/_filegate/expire"):
            now = urllib.parse.parse_qs(environ.get("QUERY_STRING") or "").get("now")
            payload = expiry.sweep(float(now[0]) if now else time.time())
        else:
            return app(environ, start_response)
        body = json.dumps(payload).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return serve


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    exit_with_parent()  # also covers a parent that dies while moto is still starting
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per SDK call
    os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(S3_KEY_BUFFER_BYTES))

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    moto_fixes.apply()
    app = with_filegate_endpoints(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)  # moto's threaded one
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    print("ready", flush=True)
    while not select.select([sys.stdin], [], [], 60)[0] or sys.stdin.buffer.read1(4096):  # until EOF: we stop
        try:
            expiry.sweep(time.time())  # every minute
        except Exception:  # moto changed under us mid-sweep: the next sweep tries again
            logging.exception("expiry sweep failed")


if __name__ == "__main__":
    main()
