"""Receiver-side verify(): tampering, timestamps, headers, rotation, interop with standardwebhooks."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as SwVerificationError

from filegate.webhooks.signing import build_webhook, generate_secret, sign
from filegate.webhooks.verify import WebhookVerificationError, verify

SECRET = generate_secret()
BODY = b'{"type":"webhook.test","timestamp":"2025-01-01T00:00:00.000000Z","data":{"n":1}}'


def headers_for(body: bytes = BODY, ts: int | None = None, secrets: list[str] | None = None) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {
        "webhook-id": "msg_test1",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign("msg_test1", ts, body, secrets or [SECRET]),
    }


def test_verify_success_bytes_and_str() -> None:
    headers = headers_for()
    assert verify(BODY, headers, SECRET) == {
        "type": "webhook.test",
        "timestamp": "2025-01-01T00:00:00.000000Z",
        "data": {"n": 1},
    }
    assert verify(BODY.decode(), headers, SECRET)["data"] == {"n": 1}


def test_header_names_case_insensitive() -> None:
    headers = {k.title(): v for k, v in headers_for().items()}
    assert "Webhook-Signature" in headers
    assert verify(BODY, headers, SECRET)["type"] == "webhook.test"


def test_tampered_body() -> None:
    headers = headers_for()
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(BODY.replace(b'"n":1', b'"n":2'), headers, SECRET)


def test_tampered_signature_and_wrong_secret() -> None:
    headers = headers_for()
    sig = bytearray(base64.b64decode(headers["webhook-signature"][3:]))
    sig[0] ^= 1
    bad = dict(headers, **{"webhook-signature": "v1," + base64.b64encode(bytes(sig)).decode()})
    with pytest.raises(WebhookVerificationError):
        verify(BODY, bad, SECRET)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers, generate_secret())


def test_id_is_signed() -> None:
    headers = dict(headers_for(), **{"webhook-id": "msg_other"})
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers, SECRET)


def test_old_timestamp() -> None:
    now = 1_750_000_000
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, headers_for(ts=now - 301), SECRET, now=now)
    assert verify(BODY, headers_for(ts=now - 300), SECRET, now=now)
    # A signature that was valid is still refused once stale, with a smaller tolerance too.
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, headers_for(ts=now - 61), SECRET, tolerance=60, now=now)


def test_future_timestamp() -> None:
    now = 1_750_000_000
    with pytest.raises(WebhookVerificationError, match="too new"):
        verify(BODY, headers_for(ts=now + 301), SECRET, now=now)
    assert verify(BODY, headers_for(ts=now + 300), SECRET, now=now)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers(missing: str) -> None:
    headers = headers_for()
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match="Missing"):
        verify(BODY, headers, SECRET)
    with pytest.raises(WebhookVerificationError, match="Missing"):
        verify(BODY, dict(headers_for(), **{missing: ""}), SECRET)


@pytest.mark.parametrize("ts", ["abc", "1.5e9", " 1750000000", "-1", "+1750000000", "1_750_000_000", "١٢٣"])
def test_malformed_timestamp(ts: str) -> None:
    headers = dict(headers_for(), **{"webhook-timestamp": ts})
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers, SECRET)


def test_rotation_either_secret_verifies() -> None:
    old, new = generate_secret(), generate_secret()
    headers = headers_for(secrets=[new, old])
    assert verify(BODY, headers, old)
    assert verify(BODY, headers, new)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers, generate_secret())


def test_other_schemes_and_garbage_ignored() -> None:
    good = headers_for()["webhook-signature"]
    headers = dict(headers_for(), **{"webhook-signature": f"v1a,AAAA v1,!!!notb64 v2,xyz junk {good}"})
    assert verify(BODY, headers, SECRET)
    only_bad = dict(headers_for(), **{"webhook-signature": "v1a,AAAA v1,!!! v1,"})
    with pytest.raises(WebhookVerificationError):
        verify(BODY, only_bad, SECRET)


def test_signed_but_not_a_json_object() -> None:
    for body in (b"not json", b"[1,2]", b"\xff\xfe"):
        with pytest.raises(WebhookVerificationError):
            verify(body, headers_for(body=body), SECRET)


def test_unusable_secret_is_a_verification_error() -> None:
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers_for(), "not-a-secret")


def test_interop_standardwebhooks_signs_we_verify() -> None:
    secret = generate_secret()
    wh = Webhook(secret)
    now = datetime.now(tz=UTC)
    payload = '{"type":"conversion.succeeded","data":{"id":"cnv_1"}}'
    headers = {
        "webhook-id": "msg_interop",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": wh.sign("msg_interop", now, payload),
    }
    assert verify(payload.encode(), headers, secret) == {
        "type": "conversion.succeeded",
        "data": {"id": "cnv_1"},
    }


def test_interop_we_sign_standardwebhooks_verifies() -> None:
    old, new = generate_secret(), generate_secret()
    message, headers = build_webhook("conversion.failed", {"id": "cnv_2", "error": "bad"}, [new, old])
    for secret in (old, new):
        assert Webhook(secret).verify(message.body, headers)["data"] == {"id": "cnv_2", "error": "bad"}
    with pytest.raises(SwVerificationError):
        Webhook(generate_secret()).verify(message.body, headers)
    with pytest.raises(SwVerificationError):
        Webhook(new).verify(message.body + b" ", headers)
