"""GitHub's secret-scanning signing keys, and the signature check (docs/api.md §9).

GitHub signs each delivery with ECDSA P-256 over SHA-256 of the raw body; ``Github-Public-Key-Identifier``
names the key, ``Github-Public-Key-Signature`` carries the base64 DER signature. Its keys are listed by a
meta document (``{"public_keys": [{"key_identifier", "key", "is_current"}]}``) at the ``GitHubKeysUrl``
template parameter. The latest document is kept whole in the secret-scanning table (and in the container
once read), and only a key it lists as current verifies: a key GitHub drops or retires stops verifying. The
document is fetched again when a signature arrives and the stored one is over an hour old, or names no key
with the signature's identifier; at most once a minute across all containers, through the egress guard like
every outbound request. A container re-reads the table when its copy is over an hour old or lacks the
identifier, so its memory follows the table.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from filegate import errors
from filegate.db import secret_scanning as store
from filegate.egress.fetch import FetchFailed, FetchLimits, fetch
from filegate.observability import logger

ID_HEADER: Final = "github-public-key-identifier"
SIGNATURE_HEADER: Final = "github-public-key-signature"
REFETCH_INTERVAL: Final = timedelta(minutes=1)
MAX_META_AGE: Final = timedelta(hours=1)  # past it, a signature's arrival fetches the document again
META_MAX_BYTES: Final = 256 * 1024
META_TIMEOUT_SECONDS: Final = 5.0
_IDENTIFIER: Final = re.compile(r"^[A-Za-z0-9._:+/=-]{1,256}$")
MAX_SIGNATURE_CHARS: Final = 512


@dataclass(frozen=True)
class PublicKey:
    identifier: str
    pem: str
    is_current: bool


def _load(pem: str) -> Any:
    """The EC P-256 public key of a PEM; ValueError for anything else."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not an ECDSA P-256 public key")
    return key


def parse_meta(document: bytes | str) -> list[PublicKey]:
    """GitHub's meta document's keys, each checked to be a P-256 public key; ValueError naming what is wrong."""
    try:
        parsed = json.loads(document)
    except ValueError as exc:
        raise ValueError("the meta document is not JSON") from exc
    entries = parsed.get("public_keys") if isinstance(parsed, dict) else None
    if not isinstance(entries, list):
        raise ValueError('the meta document has no "public_keys" list')
    keys: list[PublicKey] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"public_keys[{index}] is not an object")
        identifier, pem = entry.get("key_identifier"), entry.get("key")
        if not isinstance(identifier, str) or not _IDENTIFIER.fullmatch(identifier):
            raise ValueError(f"public_keys[{index}].key_identifier is missing or malformed")
        if not isinstance(pem, str):
            raise ValueError(f"public_keys[{index}].key is missing")
        try:
            _load(pem)
        except (ValueError, UnicodeError) as exc:
            raise ValueError(f"public_keys[{index}].key: {exc}") from None
        keys.append(PublicKey(identifier, pem, bool(entry.get("is_current"))))
    return keys


def fetch_meta(url: str, *, allow_insecure_loopback: bool = False, **guard: Any) -> list[PublicKey]:
    """GitHub's meta document, fetched through the egress guard (``guard``: a test's resolver, TLS context)."""
    limits = FetchLimits(
        max_bytes=META_MAX_BYTES, connect_timeout=META_TIMEOUT_SECONDS, wall_seconds=META_TIMEOUT_SECONDS
    )
    with fetch(url, {}, limits, allow_insecure_loopback=allow_insecure_loopback, **guard) as body:
        document = b"".join(body.chunks())
    return parse_meta(document)


Fetcher = Callable[[], list[PublicKey]]


class KeyRing:
    """GitHub's keys as this container knows them: memory, then the table, then (rarely) GitHub."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetch = fetcher
        self._current: dict[str, str] = {}  # identifier -> PEM, the keys the latest document lists as current
        self._fetched_at: datetime | None = None  # when that document was fetched from GitHub
        self._loaded: dict[str, Any] = {}  # parsed keys of `_current` only

    def key_for(self, identifier: str, now: datetime) -> Any | None:
        """GitHub's current key with this identifier, or None (unknown, dropped or retired)."""
        if self._stale(now) or identifier not in self._current:
            self._refresh(identifier, now)
        pem = self._current.get(identifier)
        if pem is None:
            return None
        if identifier not in self._loaded:
            self._loaded[identifier] = _load(pem)
        return self._loaded[identifier]

    def _stale(self, now: datetime) -> bool:
        return self._fetched_at is None or now - self._fetched_at > MAX_META_AGE

    def _refresh(self, identifier: str, now: datetime) -> None:
        """The table's document; GitHub's when that one is stale or lacks `identifier` (one fetch a minute)."""
        stored = store.load_meta()
        if stored is not None:
            self._adopt(stored[0], stored[1])
        if (self._stale(now) or identifier not in self._current) and store.claim_refetch(now, REFETCH_INTERVAL):
            keys = self._refetch()
            if keys is not None:
                store.store_meta(keys, now)
                self._adopt(keys, now)

    def _adopt(self, keys: list[tuple[str, str, bool]], fetched_at: datetime) -> None:
        self._current = {identifier: pem for identifier, pem, current in keys if current}
        self._fetched_at = fetched_at
        self._loaded = {i: key for i, key in self._loaded.items() if i in self._current}

    def _refetch(self) -> list[tuple[str, str, bool]] | None:
        try:
            keys = self._fetch()
        except (FetchFailed, ValueError) as exc:
            logger.warning("GitHub's public keys could not be fetched", extra={"reason": str(exc)[:200]})
            return None
        logger.info("GitHub's public keys fetched", extra={"keys": len(keys)})
        return [(k.identifier, k.pem, k.is_current) for k in keys]


def verify(body: bytes, headers: Mapping[str, str], ring: KeyRing, now: datetime) -> None:
    """The delivery is GitHub's, or InvalidSignature (401) — checked before anything else is read.
    ``headers`` must look names up case-insensitively (Starlette's headers do)."""
    from cryptography.exceptions import InvalidSignature as BadSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    identifier = (headers.get(ID_HEADER) or "").strip()
    signature_text = (headers.get(SIGNATURE_HEADER) or "").strip()
    if not identifier or not signature_text:
        raise errors.InvalidSignature("Missing Github-Public-Key-Identifier or Github-Public-Key-Signature.")
    if not _IDENTIFIER.fullmatch(identifier) or len(signature_text) > MAX_SIGNATURE_CHARS:
        raise errors.InvalidSignature()
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidSignature() from None
    key = ring.key_for(identifier, now)
    if key is None:
        raise errors.InvalidSignature("Unknown Github-Public-Key-Identifier.")
    try:
        key.verify(signature, body, ec.ECDSA(hashes.SHA256()))
    except BadSignature:
        raise errors.InvalidSignature() from None
