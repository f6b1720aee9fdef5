"""boto3 clients: created once per container, lazily.

Endpoints come from the standard configuration (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>), so the
local stack and AWS take exactly the same code path.
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client(service: str) -> Any:
    if service not in _clients:
        with _lock:
            if service not in _clients:
                import boto3  # deferred: the authorizer never pays for it unless it needs a client

                _clients[service] = boto3.session.Session().client(service)  # type: ignore[call-overload]
    return _clients[service]
