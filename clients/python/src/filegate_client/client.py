"""The FileGate client: one typed method per endpoint, and `convert` that picks the right path by size.

Configuration comes from arguments or the environment (FILEGATE_API_KEY, FILEGATE_BASE_URL). There is no
silent default base URL: `FileGate.local()` (or the CLI's `--local`) says so explicitly.

The methods live by resource, one module each (keys and account, files, conversions, webhooks, one-call
converting), over one transport; `FileGate` is all of them.
"""

from __future__ import annotations

from typing import Any

from filegate_client._converting import Converting, ConvertResult
from filegate_client._keys import KeysAndAccount
from filegate_client._transport import ENV_API_KEY, ENV_BASE_URL, SYNC_MAX_BYTES
from filegate_client._values import is_url
from filegate_client._webhooks import Webhooks

__all__ = ["ENV_API_KEY", "ENV_BASE_URL", "SYNC_MAX_BYTES", "ConvertResult", "FileGate", "is_url"]


class FileGate(KeysAndAccount, Converting, Webhooks):
    """A client for one FileGate API. Thread-safe: share one between threads."""

    @classmethod
    def local(cls, api_key: str | None = None, port: int = 3000, **kwargs: Any) -> FileGate:
        """A client for the local stack (`make dev`)."""
        return cls(api_key, f"http://127.0.0.1:{port}", **kwargs)

    def __enter__(self) -> FileGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ public (no key)

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/v1/health", auth=False)  # type: ignore[no-any-return]

    def formats(self) -> dict[str, Any]:
        return self._json("GET", "/v1/formats", auth=False)  # type: ignore[no-any-return]

    def openapi(self) -> dict[str, Any]:
        return self._json("GET", "/v1/openapi.json", auth=False)  # type: ignore[no-any-return]
