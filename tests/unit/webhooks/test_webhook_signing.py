"""Signing: secrets, message ids, body, headers; known answers; interop with standardwebhooks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook

from filegate.webhooks import events
from filegate.webhooks.signing import (
    InvalidWebhookSecret,
    build_message,
    build_webhook,
    decode_secret,
    encode_body,
    generate_secret,
    new_message_id,
    secret_display_prefix,
    sign,
    sign_headers,
)

# The published Standard Webhooks / Svix test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_generated_secret_shape() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:], validate=True)) == 32
    assert len(decode_secret(secret)) == 32
    assert generate_secret() != secret


def test_display_prefix() -> None:
    secret = generate_secret()
    assert secret_display_prefix(secret) == secret[:12]
    assert len(secret_display_prefix(secret)) == 12


@pytest.mark.parametrize(
    "bad",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_",  # empty
        "whsec_not*base64*at*all*not*base64*at*all",
        "whsec_" + base64.b64encode(b"x" * 16).decode(),  # too short
        "whsec_" + base64.b64encode(b"x" * 65).decode(),  # too long
    ],
)
def test_bad_secrets_refused(bad: str) -> None:
    with pytest.raises(InvalidWebhookSecret):
        decode_secret(bad)


def test_unpadded_secret_accepted() -> None:
    raw = bytes(range(25))  # 25 bytes: base64 has padding
    padded = base64.b64encode(raw).decode()
    assert padded.endswith("=")
    assert decode_secret("whsec_" + padded.rstrip("=")) == raw


def test_message_ids() -> None:
    ids = {new_message_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("msg_") and len(i) == 30 and i[4:].isalnum() for i in ids)


def test_known_answer_vector() -> None:
    assert sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY, [VECTOR_SECRET]) == VECTOR_SIGNATURE


def test_known_answer_matches_standardwebhooks() -> None:
    secret = generate_secret()
    body = b'{"type":"conversion.succeeded","timestamp":"2025-01-01T00:00:00.000000Z","data":{"id":"cnv_1"}}'
    when = datetime.fromtimestamp(1735689600, tz=UTC)
    expected = Webhook(secret).sign("msg_abc", when, body.decode())
    assert sign("msg_abc", 1735689600, body, [secret]) == expected


def test_rotation_signs_with_each_secret() -> None:
    old, new = generate_secret(), generate_secret()
    header = sign("msg_1", 1700000000, b"{}", [new, old])
    parts = header.split(" ")
    assert len(parts) == 2
    assert parts[0] == sign("msg_1", 1700000000, b"{}", [new])
    assert parts[1] == sign("msg_1", 1700000000, b"{}", [old])
    # Duplicates add nothing.
    assert sign("msg_1", 1700000000, b"{}", [new, new]) == parts[0]


def test_sign_requires_a_secret_and_a_safe_id() -> None:
    with pytest.raises(ValueError):
        sign("msg_1", 1, b"{}", [])
    for bad_id in ["", "msg.1", "msg 1", "msg\r\nx: y", "x" * 129]:
        with pytest.raises(ValueError):
            sign(bad_id, 1, b"{}", [generate_secret()])


def test_body_shape() -> None:
    when = datetime(2025, 3, 4, 5, 6, 7, 8, tzinfo=timezone(timedelta(hours=2)))
    body = encode_body(events.CONVERSION_FAILED, {"id": "cnv_1", "name": "é"}, when)
    assert (
        body
        == (
            '{"type":"conversion.failed","timestamp":"2025-03-04T03:06:07.000008Z","data":{"id":"cnv_1","name":"é"}}'
        ).encode()
    )
    with pytest.raises(ValueError):
        encode_body(events.WEBHOOK_TEST, {}, datetime(2025, 1, 1))  # naive
    with pytest.raises(ValueError):
        encode_body(events.WEBHOOK_TEST, {"x": float("nan")}, datetime.now(UTC))


def test_build_webhook_headers_and_body_agree_and_verify() -> None:
    secret = generate_secret()
    now = datetime(2025, 6, 1, 12, 0, 0, 500000, tzinfo=UTC)
    message, headers = build_webhook(events.CONVERSION_SUCCEEDED, {"id": "cnv_9"}, [secret], now=now)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type"}
    assert headers["webhook-id"] == message.id
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    document = json.loads(message.body)
    assert document == {
        "type": "conversion.succeeded",
        "timestamp": "2025-06-01T12:00:00.500000Z",
        "data": {"id": "cnv_9"},
    }
    assert headers["webhook-signature"] == sign(message.id, int(now.timestamp()), message.body, [secret])


def test_retry_attempt_same_id_and_bytes_fresh_timestamp() -> None:
    secret = generate_secret()
    message = build_message(events.WEBHOOK_TEST, {"hello": "world"}, message_id="msg_fixed")
    body_before = message.body
    first = sign_headers(message, [secret], timestamp=1000)
    second = sign_headers(message, [secret], timestamp=2000)
    assert first["webhook-id"] == second["webhook-id"] == "msg_fixed"
    assert first["webhook-signature"] != second["webhook-signature"]
    assert message.body is body_before
    # Default timestamp is now, and standardwebhooks accepts it.
    live = sign_headers(message, [secret])
    assert Webhook(secret).verify(message.body, live) == {
        "type": "webhook.test",
        "timestamp": json.loads(message.body)["timestamp"],
        "data": {"hello": "world"},
    }


def test_event_constants() -> None:
    assert events.SUBSCRIBABLE_EVENTS == (
        "conversion.succeeded",
        "conversion.failed",
        "file.imported",
        "file.import_failed",
        "key.leaked",
    )
    assert events.WEBHOOK_TEST == "webhook.test"
    assert events.parse_event_types(["conversion.failed", "conversion.failed"]) == ("conversion.failed",)
    from filegate.errors import InvalidParameter

    for bad in (["webhook.test"], ["nope"], [], [1]):
        with pytest.raises(InvalidParameter):
            events.parse_event_types(bad)
