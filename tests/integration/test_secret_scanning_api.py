"""GitHub secret scanning through the local stack, over real HTTP, with GitHub's key stored the operator's
way (filegate-admin --local import-github-keys FILE) and a key pair made here."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from pathlib import Path

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from filegate.keys import keyformat
from tests.helpers.local_api import Client, admin, new_account

PATH = "/v1/integrations/github/secret-scanning"


def test_a_leaked_key_is_revoked_on_the_next_request(stack, tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    identifier = f"it-{uuid.uuid4().hex}"
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"public_keys": [{"key_identifier": identifier, "key": pem, "is_current": True}]}))
    assert admin(stack, "import-github-keys", str(meta)) == {"stored": 1, "key_identifiers": [identifier]}

    leaked = new_account(stack)["api_key"]
    client = Client(stack.url).with_key(leaked)
    assert client.get("/v1/entitlements/me").status_code == 200  # its policy is now cached by the gateway

    body = json.dumps(
        [{"token": leaked, "type": "filegate_api_key", "url": "https://github.com/a/b", "source": "content"}]
    )
    raw = body.encode()
    signature = base64.b64encode(private.sign(raw, ec.ECDSA(hashes.SHA256()))).decode()
    headers = {"Content-Type": "application/json", "Github-Public-Key-Identifier": identifier}
    refused = requests.post(
        stack.url + PATH, data=raw, headers={**headers, "Github-Public-Key-Signature": "AAAA"}, timeout=30
    )
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_signature"
    one_started = time.monotonic()
    answer = requests.post(
        stack.url + PATH, data=raw, headers={**headers, "Github-Public-Key-Signature": signature}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    one = time.monotonic() - one_started
    assert answer.json() == [
        {
            "token_hash": hashlib.sha256(leaked.encode()).hexdigest(),
            "token_type": "filegate_api_key",
            "label": "true_positive",
        }
    ]
    assert client.get("/v1/entitlements/me").status_code == 401  # the cached policy does not outlive it

    # 1,000 records (well-formed keys of nobody: each one a hash lookup) through the gateway and the function.
    batch = [
        {
            "token": keyformat.generate("live"),
            "type": "filegate_api_key",
            "url": "https://github.com/a/b",
            "source": "content",
        }
        for _ in range(1000)
    ]
    raw = json.dumps(batch).encode()
    signature = base64.b64encode(private.sign(raw, ec.ECDSA(hashes.SHA256()))).decode()
    started = time.monotonic()
    answer = requests.post(
        stack.url + PATH, data=raw, headers={**headers, "Github-Public-Key-Signature": signature}, timeout=30
    )
    took = time.monotonic() - started
    assert answer.status_code == 200 and len(answer.json()) == 1000, answer.text[:500]
    assert took < 10, f"1,000 records took {took:.2f} s"
    single = json.dumps(batch[:1]).encode()
    signature = base64.b64encode(private.sign(single, ec.ECDSA(hashes.SHA256()))).decode()
    started = time.monotonic()
    warm = requests.post(
        stack.url + PATH, data=single, headers={**headers, "Github-Public-Key-Signature": signature}, timeout=30
    )
    warm_one = time.monotonic() - started
    assert warm.status_code == 200 and warm.json()[0]["label"] == "false_positive"
    print(
        f"\nsecret scanning through the local stack: 1 record {one:.3f} s (first call: cold start, revocation, "
        f"mail), 1,000 records {took:.2f} s, 1 record warm {warm_one:.3f} s"
    )

    logs = "".join(p.read_text(errors="replace") for p in (Path(stack.state_dir) / "logs").glob("*"))
    assert leaked not in logs and not any(record["token"] in logs for record in batch)
