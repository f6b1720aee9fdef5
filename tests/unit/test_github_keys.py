"""GitHub's meta document of secret-scanning keys: only well-formed P-256 public keys are accepted."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from filegate.secret_scanning.github_keys import parse_meta


def pem(private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    public = private.public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


P256 = pem(ec.generate_private_key(ec.SECP256R1()))


def test_a_meta_document_is_read() -> None:
    document = {
        "public_keys": [
            {"key_identifier": "abc123", "key": P256, "is_current": True},
            {"key_identifier": "old", "key": P256, "is_current": False},
        ]
    }
    keys = parse_meta(json.dumps(document))
    assert [(k.identifier, k.is_current) for k in keys] == [("abc123", True), ("old", False)]


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ("not json", "not JSON"),
        ("[]", "public_keys"),
        ('{"public_keys": {}}', "public_keys"),
        ('{"public_keys": ["x"]}', "not an object"),
        (json.dumps({"public_keys": [{"key": P256}]}), "key_identifier"),
        (json.dumps({"public_keys": [{"key_identifier": "a b", "key": P256}]}), "key_identifier"),
        (json.dumps({"public_keys": [{"key_identifier": "a"}]}), "key is missing"),
        (json.dumps({"public_keys": [{"key_identifier": "a", "key": "-----BEGIN nothing"}]}), "key"),
        (
            json.dumps({"public_keys": [{"key_identifier": "a", "key": pem(ec.generate_private_key(ec.SECP384R1()))}]}),
            "P-256",
        ),
        (
            json.dumps({"public_keys": [{"key_identifier": "a", "key": pem(rsa.generate_private_key(65537, 2048))}]}),
            "P-256",
        ),
    ],
)
def test_malformed_documents_are_refused(document: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_meta(document)
