"""moto server in a child process that cannot outlive its parent: `python -m filegate_local.moto_process`.

It serves moto on host:port, prints "ready" on stdout, and exits as soon as its stdin reaches EOF, which
happens when the local stack stops it; if the parent dies for any reason (even SIGKILL) the lifeline ends it,
so a crashed `make dev` never leaves a moto server holding the port. moto_fixes makes its DynamoDB Streams
behave as AWS's do.
"""

from __future__ import annotations

import logging
import sys

from filegate_local import moto_fixes
from filegate_local.lifeline import exit_with_parent


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python -m filegate_local.moto_process <host> <port>\n")
        return 2
    host, port = args[0], int(args[1])
    exit_with_parent()  # also covers a parent that dies while moto is still starting
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per SDK call

    from moto.server import ThreadedMotoServer

    moto_fixes.apply()  # where moto's streams differ from AWS's
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
