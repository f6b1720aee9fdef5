"""The Python SDK and the `filegate` command line against the local stack, over real HTTP."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from filegate_client import AuthenticationError, FileGate, RateLimitError
from filegate_client.cli import main as cli
from tests.helpers import media_samples as media
from tests.helpers.local_api import new_account, run_cli

SIX_MB = 6 * 1024 * 1024


def noisy_png(width: int = 1500, height: int = 1420) -> bytes:
    """Random pixels: PNG cannot shrink them, so the file stays over 6 MB (past the sync limit)."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


@pytest.fixture
def pro_key(stack) -> str:
    return new_account(stack, tier="pro")["api_key"]


def test_cli_converts_a_6mb_image_through_the_async_path(stack, pro_key, tmp_path):
    source = tmp_path / "big.png"
    source.write_bytes(noisy_png())
    assert source.stat().st_size > SIX_MB
    code, report = run_cli(
        "convert",
        str(source),
        "--to",
        "jpg",
        "--quality",
        "80",
        "--out-dir",
        str(tmp_path / "out"),
        "--base-url",
        stack.url,
        "--api-key",
        pro_key,
    )
    assert code == 0, report
    (item,) = report
    assert item["ok"] and item["mode"] == "async", item
    assert item["conversion_id"].startswith("conv_")
    output = Path(item["output"])
    assert output == tmp_path / "out" / "big.jpg"
    with Image.open(output) as image:
        assert (image.format, image.size) == ("JPEG", (1500, 1420))
    with FileGate(pro_key, stack.url) as client:
        job = client.get_conversion(item["conversion_id"])
    assert job["status"] == "succeeded" and job["target"] == "jpg"


def test_cli_batch_runs_in_parallel_and_fails_loudly_for_a_bad_file(stack, pro_key, tmp_path):
    inputs = []
    for i in range(4):
        path = tmp_path / f"photo{i}.png"
        path.write_bytes(media.encode(media.photo(120 + i, 80, seed=i), "png"))
        inputs.append(str(path))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    code, report = run_cli(
        "convert",
        *inputs,
        str(broken),
        "--to",
        "webp",
        "--width",
        "60",
        "--parallel",
        "5",
        "--out-dir",
        str(tmp_path / "out"),
        "--base-url",
        stack.url,
        "--api-key",
        pro_key,
    )
    assert code == 1  # one failed
    by_input = {item["input"]: item for item in report}
    for path in inputs:
        item = by_input[path]
        assert item["ok"] and item["mode"] == "sync", item
        with Image.open(item["output"]) as image:
            assert image.format == "WEBP" and image.size[0] == 60
    bad = by_input[str(broken)]
    assert not bad["ok"]
    assert bad["error"]["status"] in (415, 422) and bad["error"]["request_id"], bad


def test_sdk_convert_returns_bytes_for_small_inputs_and_follows_303(stack, pro_key):
    with FileGate(pro_key, stack.url) as client:
        small = client.convert(media.encode(media.photo(64, 48), "png"), "jpg", filename="a.png", quality=70)
        assert small.mode == "sync" and small.content[:2] == b"\xff\xd8" and small.filename == "a.jpg"
        smooth = Image.linear_gradient("L").resize((1600, 1000)).convert("RGB")  # small PNG, 4.8 MB as BMP
        big_out = client.convert(media.encode(smooth, "png"), "bmp", filename="g.png")
        assert big_out.mode == "sync-redirect" and big_out.content[:2] == b"BM"


def test_a_429_is_retried_after_retry_after(stack):
    key = new_account(stack, tier="free")["api_key"]  # 10 requests a minute
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as raw:
        while raw.get("/v1/entitlements/me").status_code != 429:
            pass
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with FileGate(key, stack.url, sleep=sleep) as client:
        me = client.entitlements()
    assert me["tier"] == "free"
    assert waits and 0 < waits[0] <= 60, waits  # it waited what Retry-After said, then succeeded

    with FileGate(key, stack.url, max_retries=0) as impatient:
        for _ in range(11):
            try:
                impatient.entitlements()
            except RateLimitError as exc:
                assert exc.code == "rate_limited" and exc.request_id and exc.retry_after
                break
        else:
            pytest.fail("no 429 after 11 requests on the free tier")


def test_a_revoked_key_is_refused_with_a_typed_error(stack, pro_key):
    with FileGate(pro_key, stack.url) as admin:
        created = admin.create_key("short-lived", scopes=["convert:write", "keys:manage"])
        doomed = created["api_key"]
        with FileGate(doomed, stack.url) as client:
            assert client.entitlements()["key"]["id"] == created["key_id"]
            admin.revoke_key(created["key_id"])
            with pytest.raises(AuthenticationError) as caught:
                client.entitlements()
    assert caught.value.status == 401 and caught.value.code == "invalid_api_key" and caught.value.request_id
    code, report = run_cli("keys", "list", "--base-url", stack.url, "--api-key", doomed)
    assert code == 1 and report["error"]["code"] == "invalid_api_key"


def test_cli_keys_formats_and_usage(stack, pro_key):
    args = ("--base-url", stack.url, "--api-key", pro_key)
    code, formats = run_cli("formats", "--base-url", stack.url)  # public: no key needed
    assert code == 0 and "jpg" in formats["formats"]["png"]["to"]
    code, created = run_cli("keys", "create", "ci", "--scope", "convert:write", *args)
    assert code == 0 and created["api_key"].startswith("fg_live_") and created["scopes"] == ["convert:write"]
    code, keys = run_cli("keys", "list", *args)
    assert code == 0 and created["key_id"] in {k["id"] for k in keys}
    code, rotated = run_cli("keys", "rotate", created["key_id"], "--grace", "60", *args)
    assert code == 0 and rotated["api_key"] != created["api_key"] and rotated["name"] == "ci"
    code, revoked = run_cli("keys", "revoke", rotated["key_id"], *args)
    assert code == 0 and revoked == {"id": rotated["key_id"], "revoked": True}
    code, usage = run_cli("usage", *args)
    assert code == 0 and "months" in usage and "days" in usage
    code, entries = run_cli("audit", "--limit", "3", *args)
    assert code == 0 and [e["action"] for e in entries] == ["key.revoked", "key.rotated", "key.created"]
    assert entries[0]["target"] == rotated["key_id"] and entries[0]["actor"]["type"] == "key"


def test_no_base_url_is_a_usage_error_not_a_silent_default(monkeypatch, capsys):
    monkeypatch.delenv("FILEGATE_BASE_URL", raising=False)
    assert cli(["formats"]) == 2
    assert "FILEGATE_BASE_URL" in capsys.readouterr().err


def test_webhook_deliveries_verify_with_the_sdk(stack, pro_key):
    from filegate_client import WebhookVerificationError, verify
    from tests.helpers.receiver import running_receiver

    with running_receiver() as receiver, FileGate(pro_key, stack.url) as client:
        secret = client.create_webhook_secret()["secret"]
        hook = client.create_webhook(receiver.script("/hook", [200]))
        assert hook["id"] in {h["id"] for h in client.list_webhooks()["data"]}
        client.test_webhook(hook["id"])
        (delivery,) = receiver.wait_for("/hook", 1, timeout=60)
        assert verify(secret, delivery.headers, delivery.body)["type"] == "webhook.test"
        with pytest.raises(WebhookVerificationError):
            verify(secret, delivery.headers, delivery.body + b" ")
        assert client.list_webhook_deliveries(hook["id"])["data"]
        client.delete_webhook(hook["id"])


def test_cli_webhooks_listen_verifies_and_forwards(stack, pro_key):
    import subprocess
    import sys

    from tests.helpers.receiver import running_receiver

    with running_receiver() as receiver:
        forward = receiver.script("/forwarded", [200])
        command = [
            str(Path(sys.executable).with_name("filegate")), "webhooks", "listen", "--test", "--max-events", "1",
            "--forward-to", forward, "--json", "--base-url", stack.url, "--api-key", pro_key,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        (event,) = [json.loads(line) for line in done.stdout.splitlines()]
        assert event["verified"] and event["type"] == "webhook.test" and event["forwarded_status"] == 200
        (arrived,) = receiver.requests_to("/forwarded")
        assert arrived.headers["webhook-id"] == event["message_id"]
    with FileGate(pro_key, stack.url) as client:
        assert client.list_webhooks()["data"] == []  # the listener removed its endpoint


def test_cli_compresses_a_large_file_as_a_job_in_its_own_format(stack, pro_key, tmp_path):
    source = tmp_path / "big.png"
    source.write_bytes(noisy_png())
    code, report = run_cli("compress", str(source), "--base-url", stack.url, "--api-key", pro_key)
    assert code == 0, report
    (item,) = report
    assert item["ok"] and item["mode"] == "async" and item["output"] == str(tmp_path / "big.compressed.png")
    with Image.open(item["output"]) as image:
        assert (image.format, image.size) == ("PNG", (1500, 1420))
