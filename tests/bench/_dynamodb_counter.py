"""A counting HTTP proxy in front of the embedded DynamoDB (moto), for benchmarks.

Functions reach DynamoDB through ``AWS_ENDPOINT_URL_DYNAMODB``; pointing it here counts every call by
operation, table and item key without touching the code under test. Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class DynamoDBCounter:
    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        self._upstream = (target.hostname or "127.0.0.1", target.port or 80)
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()  # (operation, table)
        self.items: Counter[tuple[str, str]] = Counter()  # (operation, hash key value)
        counter = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                counter._count(self.headers.get("X-Amz-Target", ""), body)
                connection = http.client.HTTPConnection(*counter._upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                connection.request("POST", self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                connection.close()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def forward_to(self, upstream: str) -> None:
        """Point the proxy at DynamoDB once its address is known (the stack starts after the proxy)."""
        target = urlsplit(upstream)
        self._upstream = (target.hostname or "127.0.0.1", target.port or 80)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> DynamoDBCounter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _count(self, target: str, body: bytes) -> None:
        operation = target.rsplit(".", 1)[-1]
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        table = str(request.get("TableName", ""))
        key = next(iter((request.get("Key") or {}).values()), {})
        with self._lock:
            self.calls[(operation, table)] += 1
            if isinstance(key, dict) and key:
                self.items[(operation, str(next(iter(key.values()))))] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def snapshot(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self.calls)
