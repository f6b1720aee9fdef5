"""moto server in a child process that cannot outlive its parent: `python -m filegate_local.moto_process`.

It serves moto on host:port, prints "ready" on stdout, and exits as soon as its stdin reaches EOF, which
happens when the local stack stops it; if the parent dies for any reason (even SIGKILL) the lifeline ends it,
so a crashed `make dev` never leaves a moto server holding the port.

Besides moto's own API it answers ``GET /_filegate/ses-messages``: the mail SES has accepted, read from
moto's backends in this process. moto's ``/moto-api/data.json`` has them too, but it serialises every
model of every service (each S3 object, each DynamoDB item) and slows to seconds as a stack fills up: too
heavy to poll every second for `make dev`'s console, or to read in every sign-in test.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from filegate_local.lifeline import exit_with_parent

SES_MESSAGES_PATH = "/_filegate/ses-messages"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def sent_messages() -> list[dict[str, Any]]:
    """Every plain message moto's SES (v1 and v2 share one backend) accepted, in every account and region,
    oldest first within each; the shape data.json gives them."""
    from moto.ses import ses_backends

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


def with_mail_endpoint(app: WsgiApp) -> WsgiApp:
    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == SES_MESSAGES_PATH and environ.get("REQUEST_METHOD") == "GET":
            body = json.dumps({"messages": sent_messages()}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
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

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class Server(ThreadedMotoServer):
        """moto's threaded server, its app wrapped with the mail endpoint."""

        def _server_entry(self) -> None:
            app = with_mail_endpoint(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(host, port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = Server(ip_address=host, port=port, verbose=False)
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
