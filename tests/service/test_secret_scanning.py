"""GitHub secret scanning (docs/api.md §9) through the gateway and the real handler, with a key pair made here:
the signature first, each record judged alone, live keys revoked (next request), owners told once."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from filegate.clock import utcnow
from filegate.keys import keyformat
from filegate_admin.cli import _import_github_keys
from filegate_local.mailbox import messages
from tests.helpers.egress_servers import serve, start_site, stop_site
from tests.service.conftest import Stack
from tests.service.harness import Response, ServiceApi
from tests.service.helpers import Account, assert_error, sign_up

PATH = "/v1/integrations/github/secret-scanning"


@dataclasses.dataclass
class Signer:
    identifier: str
    private: ec.EllipticCurvePrivateKey

    def pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private.sign(body, ec.ECDSA(hashes.SHA256()))).decode()

    def meta(self, current: bool = True) -> dict[str, Any]:
        return {"key_identifier": self.identifier, "key": self.pem(), "is_current": current}


def new_signer() -> Signer:
    return Signer(f"test-{uuid.uuid4().hex}", ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def github(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Signer:
    """GitHub's key, stored as an operator would: filegate-admin import-github-keys FILE."""
    signer = new_signer()
    document = tmp_path_factory.mktemp("github") / "meta.json"
    document.write_text(json.dumps({"public_keys": [signer.meta()]}))
    stack.functions.module("SecretScanningFunction")  # its cold start binds the table in this process
    stored = _import_github_keys(Path(document), utcnow())
    assert stored == {"stored": 1, "key_identifiers": [signer.identifier]}
    return signer


def deliver(
    api: ServiceApi,
    signer: Signer,
    findings: Any,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    content_type: str | None = "application/json",
) -> Response:
    raw = body if body is not None else json.dumps(findings).encode()
    sent = {
        "Github-Public-Key-Identifier": signer.identifier,
        "Github-Public-Key-Signature": signer.sign(raw),
        **({"Content-Type": content_type} if content_type else {}),
    }
    if headers is not None:
        sent = {**({"Content-Type": content_type} if content_type else {}), **headers}
    return api.call("POST", PATH, body=raw, headers=sent)


def finding(token: str, url: str = "https://github.com/someone/repo/blob/main/config.py") -> dict[str, str]:
    return {"token": token, "type": "filegate_api_key", "url": url, "source": "content"}


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def alive(account: Account, key: str) -> bool:
    response = account.with_key(key).call("GET", "/v1/entitlements/me")
    assert response.status in (200, 401), response
    return response.status == 200


def leak_mails(stack: Stack, prefix: str) -> list[Any]:
    return [m for m in messages(stack.moto_url) if prefix in m.subject]


def audit_of(account: Account, reader_key: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = account.with_key(reader_key).call("GET", "/v1/audit").json()["data"]
    return entries


@pytest.fixture
def pro_with_hook(pro_account: Account) -> Iterator[tuple[Account, str, str]]:
    """A pro account, a second key able to read its audit log, and a webhook subscribed to key.leaked."""
    reader = pro_account.create_key(scopes=["keys:manage", "webhooks:manage"])["api_key"]
    assert pro_account.call("POST", "/v1/webhooks/secret").status == 201
    hook = pro_account.call(
        "POST", "/v1/webhooks", json_body={"url": "http://127.0.0.1:9099/h", "events": ["key.leaked"]}
    )
    assert hook.status == 201, hook
    yield pro_account, reader, hook.json()["id"]


def test_a_valid_batch_revokes_live_keys_and_tells_their_owner_once(
    api: ServiceApi, stack: Stack, github: Signer, pro_with_hook: tuple[Account, str, str]
) -> None:
    account, reader, hook = pro_with_hook
    leaked = account.create_key(name="ci")
    assert alive(account, leaked["api_key"])
    unknown = keyformat.generate("live")
    response = deliver(api, github, [finding(leaked["api_key"]), finding(unknown)])
    assert response.status == 200, response
    assert response.json() == [
        {"token_hash": sha(leaked["api_key"]), "token_type": "filegate_api_key", "label": "true_positive"},
        {"token_hash": sha(unknown), "token_type": "filegate_api_key", "label": "false_positive"},
    ]
    assert not alive(account, leaked["api_key"])  # the very next request
    assert alive(account, reader)  # only the leaked key

    (notice,) = leak_mails(stack, leaked["key_prefix"])
    assert "https://github.com/someone/repo/blob/main/config.py" in notice.body and "ci" in notice.body
    assert leaked["api_key"] not in notice.body
    actions = [(e["action"], e["actor"]["type"], e["target"]) for e in audit_of(account, reader)]
    assert ("key.leaked", "github", leaked["key_id"]) in actions and (
        "key.revoked",
        "github",
        leaked["key_id"],
    ) in actions
    deliveries = account.with_key(reader).call("GET", f"/v1/webhooks/{hook}/deliveries").json()["data"]
    assert [d["event"] for d in deliveries] == ["key.leaked"]

    # A replay (GitHub retries): the same answer, nothing revoked, mailed, recorded or emitted again.
    again = deliver(api, github, [finding(leaked["api_key"]), finding(unknown)])
    assert again.status == 200 and again.json() == response.json()
    assert len(leak_mails(stack, leaked["key_prefix"])) == 1
    assert [(e["action"], e["target"]) for e in audit_of(account, reader)].count(("key.leaked", leaked["key_id"])) == 1
    assert len(account.with_key(reader).call("GET", f"/v1/webhooks/{hook}/deliveries").json()["data"]) == 1


def test_a_changed_body_or_reserialised_json_is_refused_and_changes_nothing(
    api: ServiceApi, github: Signer, free_account: Account
) -> None:
    key = free_account.create_key(name="victim")["api_key"]
    original = json.dumps([finding(key)], indent=2).encode()
    signature = github.sign(original)
    headers = {"Github-Public-Key-Identifier": github.identifier, "Github-Public-Key-Signature": signature}
    changed = original.replace(b"config.py", b"config.pz")
    reserialised = json.dumps(json.loads(original), separators=(",", ":")).encode()
    for body in (changed, reserialised, original + b" "):
        assert_error(deliver(api, github, None, body=body, headers=headers), 401, "invalid_signature")
    assert alive(free_account, key)
    assert deliver(api, github, None, body=original, headers=headers).status == 200
    assert not alive(free_account, key)


def test_missing_headers_and_bad_signatures_are_401(api: ServiceApi, github: Signer, free_account: Account) -> None:
    key = free_account.create_key(name="victim")["api_key"]
    body = json.dumps([finding(key)]).encode()
    good = {"Github-Public-Key-Identifier": github.identifier, "Github-Public-Key-Signature": github.sign(body)}
    for headers in (
        {},
        {"Github-Public-Key-Identifier": github.identifier},
        {"Github-Public-Key-Signature": good["Github-Public-Key-Signature"]},
        {**good, "Github-Public-Key-Signature": "not base64!"},
        {**good, "Github-Public-Key-Signature": new_signer().sign(body)},  # another key's signature
    ):
        assert_error(deliver(api, github, None, body=body, headers=headers), 401, "invalid_signature")
    assert alive(free_account, key)


def test_header_names_are_case_insensitive_and_plain_or_base64_bodies_both_work(
    api: ServiceApi, github: Signer, free_account: Account
) -> None:
    first, second = (free_account.create_key(name=f"k{n}")["api_key"] for n in (1, 2))
    body = json.dumps([finding(first)]).encode()
    lower = {"github-public-key-identifier": github.identifier, "github-public-key-signature": github.sign(body)}
    # With a Content-Type the gateway hands the body over base64-encoded (binary media types "*/*").
    assert deliver(api, github, None, body=body, headers=lower).status == 200
    body = json.dumps([finding(second)]).encode()
    upper = {"GITHUB-PUBLIC-KEY-IDENTIFIER": github.identifier, "GITHUB-PUBLIC-KEY-SIGNATURE": github.sign(body)}
    assert deliver(api, github, None, body=body, headers=upper, content_type=None).status == 200  # plain text
    assert not alive(free_account, first) and not alive(free_account, second)


def test_a_mixed_batch_is_judged_record_by_record(
    api: ServiceApi, stack: Stack, github: Signer, free_account: Account
) -> None:
    live = free_account.create_key(name="live")
    revoked = free_account.create_key(name="old")
    assert free_account.call("DELETE", f"/v1/keys/{revoked['key_id']}").status == 204
    sandbox = free_account.create_key(name="sandbox", mode="test")
    well_formed = keyformat.generate("live")
    bad_checksum = live["api_key"][:-1] + ("a" if live["api_key"][-1] != "a" else "b")
    batch: list[Any] = [
        finding(live["api_key"]),
        finding(revoked["api_key"]),
        finding(sandbox["api_key"]),
        finding(well_formed),
        finding(bad_checksum),
        finding("ghp_not_ours_at_all"),
        {"type": "filegate_api_key"},  # no token
        "not an object",
    ]
    response = deliver(api, github, batch)
    assert response.status == 200, response
    labels = [entry["label"] for entry in response.json()]
    assert labels == ["true_positive", "true_positive", "true_positive"] + ["false_positive"] * 5
    assert response.json()[0]["token_hash"] == sha(live["api_key"])
    assert not alive(free_account, live["api_key"]) and not alive(free_account, sandbox["api_key"])
    assert leak_mails(stack, revoked["key_prefix"]) == []  # already revoked: not mailed again


def test_an_unknown_identifier_refetches_githubs_keys_at_most_once_a_minute(
    api: ServiceApi, github: Signer, free_account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated, unknown = new_signer(), new_signer()
    # GitHub still lists the key the other tests sign with: the latest document is the only one that counts.
    document = {"public_keys": [github.meta(), rotated.meta()]}
    site = start_site({"/meta": serve(json.dumps(document).encode(), "application/json")})
    function = api.functions.module("SecretScanningFunction")
    monkeypatch.setattr(function, "settings", dataclasses.replace(function.settings, github_keys_url=site.url("/meta")))
    try:
        key = free_account.create_key(name="k")["api_key"]
        assert deliver(api, rotated, [finding(key)]).status == 200  # fetched through the egress guard
        assert not alive(free_account, key)
        assert_error(deliver(api, unknown, [finding(key)]), 401, "invalid_signature")
        assert_error(deliver(api, unknown, [finding(key)]), 401, "invalid_signature")
        assert [s.path for s in site.seen] == ["/meta"]  # once in the minute, whatever came after
    finally:
        stop_site(site)


def test_a_thousand_records_within_ten_seconds_and_no_token_logged(
    api: ServiceApi, github: Signer, free_account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    live = [free_account.create_key(name=f"bulk{n}")["api_key"] for n in range(4)]
    tokens = live[:3] + [keyformat.generate("live") for _ in range(997)]
    capsys.readouterr()
    started = time.monotonic()
    assert deliver(api, github, [finding(live[3])]).status == 200
    one = time.monotonic() - started
    started = time.monotonic()
    response = deliver(api, github, [finding(t) for t in tokens])
    took = time.monotonic() - started
    assert response.status == 200, response
    assert [e["label"] for e in response.json()].count("true_positive") == 3 and len(response.json()) == 1000
    assert took < 10, f"1,000 records took {took:.2f} s"
    logged = capsys.readouterr()
    assert not any(t in logged.out or t in logged.err for t in [*tokens, live[3]])
    with capsys.disabled():
        print(f"\nsecret scanning (in-process handler, moto): 1 record {one:.3f} s, 1,000 records {took:.2f} s")
    assert all(not alive(free_account, k) for k in live)


def test_the_scanner_needs_no_key_but_nothing_else_answers_without_one(api: ServiceApi) -> None:
    other = sign_up(api)
    assert_error(api.call("POST", PATH, json_body=[]), 401, "invalid_signature")  # no GitHub headers
    assert alive(other, other.key)
