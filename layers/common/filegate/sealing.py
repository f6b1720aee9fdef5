"""Secrets a worker needs but no table may keep readable (a URL import's private headers, a document's
`input_password`): sealed with AES-GCM under a fresh key, the sealed text written on the record and the key
only in the queue message. Neither half alone opens it, and the write that ends the work removes the sealed
text. The record's id is bound in, so a sealed text moved to another record does not open. Pure.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

_NONCE_BYTES = 12


def seal(plain: dict[str, Any], bound_to: str) -> tuple[str, str]:
    """(sealed text for the record, key for the message), both base64 text."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE_BYTES)
    data = json.dumps(plain, separators=(",", ":")).encode()
    sealed = nonce + AESGCM(key).encrypt(nonce, data, bound_to.encode())
    return base64.b64encode(sealed).decode("ascii"), base64.b64encode(key).decode("ascii")


def unseal(sealed: str, key: str, bound_to: str) -> dict[str, Any]:
    """What `seal` sealed; cryptography's InvalidTag when the key, the text or the binding is not theirs."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = base64.b64decode(sealed)
    plain = AESGCM(base64.b64decode(key)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], bound_to.encode())
    opened = json.loads(plain)
    assert isinstance(opened, dict)
    return opened
