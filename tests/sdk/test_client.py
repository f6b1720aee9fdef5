"""The SDK's own rules, no network: retries, idempotency, error mapping, webhook verification, completion."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from filegate.webhooks import signing
from filegate_client import (
    AuthenticationError,
    ConfigurationError,
    FileGate,
    RateLimitError,
    ServerError,
    WebhookVerificationError,
    verify,
)
from filegate_client.cli import build_parser, completion_script

BASE = "https://api.example.test/v1stage"


def error(status: int, code: str, **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": f"{code} happened", "request_id": "req-1"}}
    return httpx.Response(status, json=body, headers=headers)


def client_with(answers, sleeps=None, **kwargs):
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    client = FileGate(
        "fg_live_x",
        BASE,
        transport=httpx.MockTransport(handler),
        sleep=(sleeps if sleeps is not None else []).append,
        **kwargs,
    )
    return client, seen


def test_429_is_retried_after_the_servers_retry_after():
    sleeps: list[float] = []
    client, seen = client_with(
        [error(429, "rate_limited", **{"Retry-After": "7"}), httpx.Response(200, json={"ok": 1})], sleeps
    )
    assert client.entitlements() == {"ok": 1}
    assert sleeps == [7.0] and len(seen) == 2
    assert seen[0].headers["Authorization"] == "Bearer fg_live_x"


def test_a_monthly_quota_is_not_waited_for():
    client, seen = client_with([error(429, "quota_exceeded", **{"Retry-After": "864000"})])
    with pytest.raises(RateLimitError) as caught:
        client.entitlements()
    assert caught.value.code == "quota_exceeded" and caught.value.retry_after == 864000 and len(seen) == 1


def test_5xx_is_retried_for_gets_and_job_creation_with_one_idempotency_key_but_not_for_sync_convert():
    client, seen = client_with([error(502, "internal_error"), httpx.Response(200, json={"id": "conv_1"})])
    assert client.get_conversion("conv_1") == {"id": "conv_1"}

    client, seen = client_with([error(500, "internal_error"), httpx.Response(202, json={"id": "conv_2"})])
    assert client.create_conversion("file_1", "jpg")["id"] == "conv_2"
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(seen) == 2 and len(keys) == 1  # the retry is the same request, charged once

    client, seen = client_with([error(500, "internal_error")])
    with pytest.raises(ServerError):
        client.convert_sync(b"\x89PNG", "jpg")
    assert len(seen) == 1


def test_errors_are_typed_and_carry_code_message_and_request_id():
    client, _ = client_with([error(401, "invalid_api_key")])
    with pytest.raises(AuthenticationError) as caught:
        client.list_keys()
    assert (caught.value.status, caught.value.code, caught.value.request_id) == (401, "invalid_api_key", "req-1")


def test_ids_stay_one_path_segment():
    client, seen = client_with([httpx.Response(200, json={})])
    client.get_file("../keys")
    assert seen[0].url.raw_path.endswith(b"/v1/files/..%2Fkeys")


def test_no_base_url_and_no_key_are_configuration_errors(monkeypatch):
    monkeypatch.delenv("FILEGATE_BASE_URL", raising=False)
    monkeypatch.delenv("FILEGATE_API_KEY", raising=False)
    with pytest.raises(ConfigurationError):
        FileGate()
    with pytest.raises(ConfigurationError):
        FileGate(base_url=BASE).entitlements()
    monkeypatch.setenv("FILEGATE_BASE_URL", BASE)
    monkeypatch.setenv("FILEGATE_API_KEY", "fg_live_y")
    assert (FileGate().base_url, FileGate().api_key) == (BASE, "fg_live_y")


def test_webhook_verification_accepts_what_the_server_signs_and_nothing_else():
    secret, old = signing.generate_secret(), signing.generate_secret()
    now = datetime.now(UTC)
    message, headers = signing.build_webhook("conversion.succeeded", {"id": "conv_1"}, [old, secret], now=now)
    assert verify(secret, headers, message.body)["data"] == {"id": "conv_1"}
    assert verify([signing.generate_secret(), old], headers, message.body)["type"] == "conversion.succeeded"
    with pytest.raises(WebhookVerificationError):
        verify(signing.generate_secret(), headers, message.body)
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, message.body.replace(b"conv_1", b"conv_2"))
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, message.body, now=time.time() + 301)


def test_completion_scripts_know_the_commands_and_parse_in_bash():
    script = completion_script(build_parser(), "bash")
    for word in ("convert", "compress", "formats", "keys", "usage", "--to", "--out-dir", "rotate", "revoke"):
        assert word in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    assert "bashcompinit" in completion_script(build_parser(), "zsh")


def test_every_command_takes_json():
    parser = build_parser()
    for argv in (
        ["formats"], ["usage"], ["keys", "list"], ["keys", "revoke", "k"], ["keys", "activity", "k"],
        ["convert", "a", "--to", "jpg"],
    ):  # fmt: skip
        assert parser.parse_args([*argv, "--json"]).json is True


def test_the_sdk_has_a_method_for_every_route_in_the_route_table():
    from filegate.routes import ROUTES

    called: set[tuple[str, str]] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        parts = request.url.path.split("/")
        # ids become {id} again: the segment after a collection name that is not a fixed word
        template = "/".join("{id}" if part.startswith("id_") else part for part in parts)
        called.add((request.method, template))
        if request.url.path.endswith("/content"):
            return httpx.Response(302, headers={"Location": "https://storage.example.test/x"})
        return httpx.Response(200, json={"data": [], "next_cursor": None})

    client = FileGate("fg_live_x", BASE, transport=httpx.MockTransport(handler))
    calls = [
        client.health, client.formats, client.openapi, lambda: client.create_free_key("a@b.c"),
        client.list_keys, lambda: client.create_key("n"), lambda: client.update_key("id_1", name="m"),
        lambda: client.revoke_key("id_1"), lambda: client.rotate_key("id_1"), client.rotate_key,
        client.entitlements, client.usage, client.audit, lambda: client.key_activity("id_1"),
        lambda: client.convert_sync(b"x", "jpg"), lambda: client.convert_sync(b"x", None),
        lambda: client.create_conversion("f", "jpg"), lambda: client.create_conversions_bulk([]),
        client.list_conversions, lambda: client.get_conversion("id_1"),
        lambda: client.create_file("a.png", 1), lambda: client.complete_file("id_1"), client.list_files,
        lambda: client.import_url("https://files.example/a.png"),
        lambda: client.get_file("id_1"), lambda: client.file_content_url("id_1"), lambda: client.delete_file("id_1"),
        client.create_webhook_secret, client.get_webhook_secret,
        lambda: client.create_webhook("https://x.test"), client.list_webhooks,
        lambda: client.delete_webhook("id_1"), lambda: client.test_webhook("id_1"),
        lambda: client.list_webhook_deliveries("id_1"),
    ]  # fmt: skip
    for call in calls:
        call()
    prefix = httpx.URL(BASE).path.rstrip("/")
    # GitHub's secret-scanning endpoint is called by GitHub, signed with its key: no customer calls it.
    customers = {(r.method, r.path) for r in ROUTES if r.function != "secretscanning"}
    assert {(m, p.removeprefix(prefix)) for m, p in called} == customers


def test_output_is_the_one_keyword_for_output_paths_and_to_is_its_deprecated_alias(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/content"):
            return httpx.Response(302, headers={"Location": "https://storage.example.test/x"})
        return httpx.Response(200, content=b"bytes of the file")

    client = FileGate("fg_live_x", BASE, transport=httpx.MockTransport(handler))
    assert client.download_file("file_1", tmp_path / "a.avif") == tmp_path / "a.avif"  # positional, as convert
    assert client.download_file("file_1", output=tmp_path / "b.avif") == tmp_path / "b.avif"
    assert (tmp_path / "a.avif").read_bytes() == b"bytes of the file"
    with pytest.warns(DeprecationWarning, match="output="):
        assert client.download_file("file_1", to=tmp_path / "c.avif") == tmp_path / "c.avif"
    with pytest.raises(TypeError):
        client.download_file("file_1", tmp_path / "d", to=tmp_path / "e")
    assert client.download_file("file_1") == b"bytes of the file"


def test_global_options_go_before_or_after_the_command() -> None:
    from filegate_client.cli import build_parser

    parser = build_parser()
    before = parser.parse_args(["--base-url", "http://127.0.0.1:9", "--json", "keys", "list"])
    after = parser.parse_args(["keys", "list", "--base-url", "http://127.0.0.1:9", "--json"])
    for args in (before, after):
        assert args.base_url == "http://127.0.0.1:9" and args.json is True
    plain = parser.parse_args(["formats"])
    assert plain.base_url is None and plain.json is False and plain.port == 3000


def test_import_url_and_convert_of_a_url_send_one_job():
    sent: list[tuple[str, str, dict[str, Any]]] = []
    status = {"file_2": iter(["importing", "ready"])}

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        path = request.url.path.removeprefix("/v1stage")
        sent.append((request.method, path, body))
        if path == "/v1/files/import":
            return httpx.Response(202, json={"id": "file_2", "status": "importing"})
        if path == "/v1/files/file_2":
            return httpx.Response(200, json={"id": "file_2", "status": next(status["file_2"])})
        if path == "/v1/conversions":
            return httpx.Response(202, json={"id": "conv_1", "status": "queued"})
        if path == "/v1/conversions/conv_1":
            return httpx.Response(200, json={"id": "conv_1", "status": "succeeded", "output_file_id": "file_3"})
        if path == "/v1/files/file_3/content":
            return httpx.Response(302, headers={"Location": "https://storage.example.test/out"})
        if request.url.host == "storage.example.test":
            return httpx.Response(200, content=b"converted")
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "", "request_id": ""}})

    client = FileGate("fg_live_x", BASE, transport=httpx.MockTransport(handler))
    client._sleep = lambda seconds: None  # type: ignore[method-assign]
    file = client.import_url("https://files.example/a.png", headers={"Authorization": "Bearer t"})
    assert file["status"] == "importing"
    assert sent[0][2] == {"url": "https://files.example/a.png", "headers": {"Authorization": "Bearer t"}}
    assert client.wait_for_file("file_2")["status"] == "ready"

    result = client.convert("https://files.example/a.png", "webp", headers={"Authorization": "Bearer t"}, quality=80)
    assert result.content == b"converted" and result.conversion_id == "conv_1"
    job = next(body for method, path, body in sent if (method, path) == ("POST", "/v1/conversions"))
    assert job == {
        "url": "https://files.example/a.png",
        "headers": {"Authorization": "Bearer t"},
        "target": "webp",
        "options": {"quality": 80},
    }
    assert not any(
        path.startswith("/v1/files") and method == "POST" and path != "/v1/files/import" for method, path, _ in sent
    )


def test_waiting_for_a_job_reports_its_progress_as_the_server_gives_it():
    job = {"id": "conv_1", "status": "queued", "progress": 0}
    answers = [
        httpx.Response(202, json=job, headers={"location": "/v1/conversions/conv_1"}),
        httpx.Response(200, json={**job, "status": "processing", "progress": 30}),
        httpx.Response(200, json={**job, "status": "processing", "progress": 70}),
        httpx.Response(200, json={**job, "status": "succeeded", "progress": 100, "output_file_id": "file_2"}),
        httpx.Response(302, headers={"location": "https://bucket.example.test/out"}),
        httpx.Response(200, content=b"converted"),
    ]
    client, seen = client_with(answers)
    reports: list[tuple[str, int, int | None]] = []
    result = client.convert(b"GIF89a" + bytes(10), "mp4", progress=lambda *r: reports.append(r))
    assert result.content == b"converted"
    converting = [(done, total) for stage, done, total in reports if stage == "convert"]
    assert converting == [(0, 100), (30, 100), (70, 100), (100, 100), (100, 100)]
    assert [r.url.path for r in seen][1:4] == ["/v1stage/v1/conversions/conv_1"] * 3


def test_key_activity_sends_the_range_and_granularity_as_the_api_takes_them():
    body = {"key_id": "key_1", "granularity": "day", "data": [], "last_used_at": None, "last_used_ip": None}
    client, seen = client_with([httpx.Response(200, json=body)])
    start = datetime(2026, 11, 1)  # naive: taken as UTC
    assert client.key_activity("key_1", start=start, end="2026-12-01T00:00:00Z", granularity="day") == body
    assert seen[0].url.path.endswith("/v1/keys/key_1/activity")
    assert dict(seen[0].url.params) == {
        "from": "2026-11-01T00:00:00+00:00", "to": "2026-12-01T00:00:00Z", "granularity": "day"
    }  # fmt: skip
    client, seen = client_with([httpx.Response(200, json=body)])
    client.key_activity("key_1")
    assert not seen[0].url.params  # the API's defaults: the last 24 hours by hour


def test_the_keys_activity_command_prints_each_bucket_and_the_last_use(capsys, monkeypatch):
    from filegate_client import cli

    bucket = dict.fromkeys(cli.ACTIVITY_COLUMNS[1:], 0) | {"start": "2026-12-07T06:00:00Z", "requests": 3}
    body = {"key_id": "key_1", "granularity": "hour", "data": [bucket], "last_used_at": "2026-12-07T06:05:00Z",
            "last_used_ip": "198.51.100.7"}  # fmt: skip
    client, _ = client_with([httpx.Response(200, json=body)])
    monkeypatch.setattr(cli, "_client", lambda _args: client)
    monkeypatch.setenv("COLUMNS", "160")  # a wide terminal: each row on one line
    assert cli.main(["keys", "activity", "key_1", "--granularity", "hour"]) == 0
    out = capsys.readouterr()
    assert "2026-12-07 06:00" in out.out and "198.51.100.7" in out.err
