"""moto server in a child process that cannot outlive its parent: `python -m filegate_local.moto_process`.

It serves moto on host:port, prints "ready" on stdout, and exits as soon as its stdin reaches EOF, which
happens when the local stack stops it; if the parent dies for any reason (even SIGKILL) the lifeline ends it,
so a crashed `make dev` never leaves a moto server holding the port.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from filegate_local.lifeline import exit_with_parent

SHARD_ITERATOR_LIFETIME_SECONDS = 15 * 60.0  # DynamoDB Streams' shard iterators expire after 15 minutes
PRUNE_AT_MOST = 1000  # iterators forgotten per call: bounded work on the request path


def expire_shard_iterators() -> None:
    """Forget DynamoDB Streams shard iterators after their lifetime, and answer an expired one with
    ExpiredIteratorException, as AWS does. moto keeps every iterator for ever, and a stream poller takes a
    new one with each read (a few a second, about 2 KB each): a day of `make dev` would hold gigabytes."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    if getattr(DynamoDBStreamsBackend, "_filegate_expiring", False):
        return
    issue = DynamoDBStreamsBackend.get_shard_iterator
    read = DynamoDBStreamsBackend.get_records

    def issued(backend: DynamoDBStreamsBackend, arn: str) -> None:
        born: dict[str, float] = backend.__dict__.setdefault("_filegate_born", {})
        now = time.monotonic()
        born[arn] = now
        for old in list(born)[:PRUNE_AT_MOST]:  # oldest first: dicts keep insertion order
            if born.get(old, now) > now - SHARD_ITERATOR_LIFETIME_SECONDS:
                break
            born.pop(old, None)
            backend.shard_iterators.pop(old, None)

    def get_shard_iterator(backend: DynamoDBStreamsBackend, *args: Any, **kwargs: Any) -> ShardIterator:
        iterator = issue(backend, *args, **kwargs)
        issued(backend, iterator.arn)
        return iterator

    def get_records(backend: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
        if iterator_arn not in backend.shard_iterators:
            raise JsonRESTError(
                "ExpiredIteratorException", "Iterator expired. The iterator was created more than 15 minutes ago."
            )
        result = read(backend, iterator_arn, limit)
        issued(backend, result["NextShardIterator"])
        return result

    DynamoDBStreamsBackend.get_shard_iterator = get_shard_iterator  # type: ignore[method-assign,assignment]
    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign,assignment]
    DynamoDBStreamsBackend._filegate_expiring = True  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python -m filegate_local.moto_process <host> <port>\n")
        return 2
    host, port = args[0], int(args[1])
    exit_with_parent()  # also covers a parent that dies while moto is still starting
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per SDK call

    from moto.server import ThreadedMotoServer

    expire_shard_iterators()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
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
