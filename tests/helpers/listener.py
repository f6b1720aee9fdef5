"""A TCP listener on 127.0.0.1 that accepts and counts every connection: the proof that a converter, a
refused URL or a hostile file made none."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Listener:
    def __init__(self) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port: int = self.server.getsockname()[1]
        self.connections = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self._stopped.is_set():
                client.close()
                return
            self.connections += 1
            client.close()

    def close(self) -> None:
        self._stopped.set()
        # Wake accept() with a connection of our own (not counted: stopped is set first), then close.
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass
        self._thread.join(timeout=5)
        self.server.close()


@contextmanager
def listening() -> Iterator[Listener]:
    listener = Listener()
    try:
        yield listener
    finally:
        listener.close()
