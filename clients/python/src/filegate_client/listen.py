"""`filegate webhooks listen`: a local receiver that registers itself, verifies and forwards deliveries."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable
from typing import Any

import httpx

from filegate_client.client import FileGate
from filegate_client.types import Webhook
from filegate_client.webhooks import WebhookVerificationError, verify

FORWARD_TIMEOUT_SECONDS = 10.0  # the API's own delivery timeout


def listen(
    client: FileGate,
    secret: str,
    *,
    port: int = 0,
    forward_to: str | None = None,
    events: list[str] | None = None,
    max_events: int | None = None,
    send_test: bool = False,
    on_event: Callable[[dict[str, Any]], None],
    on_ready: Callable[[str, Webhook], None],
) -> int:
    """Serve until Ctrl-C or ``max_events`` deliveries; 0 if every delivery verified, else 1."""
    seen: list[dict[str, Any]] = []
    done = threading.Event()
    lock = threading.Lock()
    forwarder = httpx.Client(timeout=FORWARD_TIMEOUT_SECONDS) if forward_to else None

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # the CLI prints its own lines
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            event: dict[str, Any] = {"message_id": headers.get("webhook-id"), "verified": False, "type": None}
            try:
                payload = verify(secret, headers, body)
                event.update(verified=True, type=payload.get("type"), data=payload.get("data"))
            except (WebhookVerificationError, ValueError) as exc:
                event["error"] = str(exc)
            status = 200 if event["verified"] else 400
            if event["verified"] and forwarder is not None and forward_to is not None:
                keep = {k: v for k, v in headers.items() if k.startswith("webhook-") or k == "content-type"}
                try:
                    status = forwarder.post(forward_to, content=body, headers=keep).status_code
                except httpx.HTTPError as exc:
                    event["forward_error"] = str(exc)
                    status = 502
                event["forwarded_status"] = status
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            with lock:
                seen.append(event)
                on_event(event)
                if max_events is not None and len(seen) >= max_events:
                    done.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook: Webhook | None = None
    try:
        hook = client.create_webhook(url, events=events)
        on_ready(url, hook)
        if send_test:
            client.test_webhook(hook["id"])
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if hook is not None:
            client.delete_webhook(hook["id"])
        server.shutdown()
        server.server_close()
        if forwarder is not None:
            forwarder.close()
    return 0 if all(e["verified"] for e in seen) else 1
