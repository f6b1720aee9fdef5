"""API key format (docs/api.md §1): generation, checksum, parsing from headers, storage digests.

A key is ``fg_live_`` or ``fg_test_`` + 32 base32 characters (160 random bits) + 7 base32 characters of
CRC32 over everything before them. Shape and checksum are checked before any database read, so a typo or
a guessed key costs nothing but CPU.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import zlib
from typing import Literal

Mode = Literal["live", "test"]

ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 base32, lowercase
PREFIXES: dict[Mode, str] = {"live": "fg_live_", "test": "fg_test_"}
RANDOM_CHARS = 32
CHECKSUM_CHARS = 7
DISPLAY_PREFIX_CHARS = 12
KEY_LENGTH = len("fg_live_") + RANDOM_CHARS + CHECKSUM_CHARS
# Longest Authorization header worth parsing: "Basic " + base64 of "<key>:" with room to spare.
MAX_HEADER_LENGTH = 256

_KEY_RE = re.compile(rf"^fg_(live|test)_[a-z2-7]{{{RANDOM_CHARS + CHECKSUM_CHARS}}}$")


def _base32_digits(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        digits.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(digits))


def checksum(head: str) -> str:
    """CRC32 of the key's head, as 7 zero-padded base32 digits."""
    return _base32_digits(zlib.crc32(head.encode("ascii")), CHECKSUM_CHARS)


def generate(mode: Mode = "live") -> str:
    """A new raw key. 20 random bytes encode to exactly 32 base32 characters."""
    body = base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()
    head = PREFIXES[mode] + body
    return head + checksum(head)


def is_well_formed(key: str) -> bool:
    """Shape and checksum: the only checks made before a key reaches the database."""
    if len(key) != KEY_LENGTH or not _KEY_RE.match(key):
        return False
    head, check = key[:-CHECKSUM_CHARS], key[-CHECKSUM_CHARS:]
    return secrets.compare_digest(checksum(head), check)


def mode_of(key: str) -> Mode:
    return "test" if key.startswith(PREFIXES["test"]) else "live"


def digest(key: str) -> str:
    """SHA-256 hex digest: the only form of a key that storage keeps."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def key_id_for_digest(key_digest: str) -> str:
    """The key's public id, derived from its digest so the authorizer finds the record in one GetItem.

    It is a hash of the digest, so it says nothing about the key and cannot be turned back into it.
    """
    derived = hashlib.sha256(b"filegate-key-id:" + key_digest.encode("ascii")).digest()
    return "key_" + base64.b32encode(derived).decode("ascii").lower()[:24]


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_CHARS]


def from_authorization_header(value: str | None) -> str | None:
    """The key carried by an ``Authorization`` header, or None when the header is missing or malformed.

    Accepts ``Bearer <key>`` and ``Basic base64(<key>:)`` (what ``curl -u KEY:`` sends). The result is not
    yet checked for shape; call :func:`is_well_formed`.
    """
    if not value or len(value) > MAX_HEADER_LENGTH:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if not credentials:
        return None
    scheme = scheme.lower()
    if scheme == "bearer":
        return credentials
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        user, sep, password = decoded.partition(":")
        if not sep or password:
            return None
        return user
    return None
