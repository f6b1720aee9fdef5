"""The `filegate` command as a user gets it: installed with pip from clients/python into a fresh virtualenv,
run as a process against an API on 127.0.0.1 that answers as docs/api.md says (a small stand-in: these tests are
about what the command does with the answers, not about the API)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()
LONG_IDS = [f"key_{uuid.uuid4().hex[:24]}" for _ in range(3)]
TARGETS = ["avif", "gif", "jpg", "webm", "webp"]


@pytest.fixture(scope="module")
def filegate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only clients/python[cli] installed; its `filegate` script."""
    venv = tmp_path_factory.mktemp("cli-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"{CLIENT}[cli]"], check=True, timeout=600)
    return venv / "bin" / "filegate"


@dataclass
class FakeApi:
    """What the command sent, and the account's state as far as these tests need it."""

    secret: str | None = SECRET
    calls: list[tuple[str, str]] = field(default_factory=list)
    hook_url: str | None = None
    registered: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def count(self, method: str, path: str) -> int:
        return sum(1 for call in self.calls if call == (method, path))


def _deliver(url: str, secret: str) -> None:
    """A signed webhook.test delivery, the Standard Webhooks way."""
    body = json.dumps({"type": "webhook.test", "timestamp": "2026-12-07T00:00:00Z", "data": {}}).encode()
    message_id, stamp = "msg_1", str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{message_id}.{stamp}.".encode() + body, hashlib.sha256).digest())
    headers = {"webhook-id": message_id, "webhook-timestamp": stamp, "webhook-signature": f"v1,{signature.decode()}"}
    with urlopen(Request(url, data=body, headers={**headers, "Content-Type": "application/json"}), timeout=10):
        pass


def _answers(api: FakeApi, method: str, path: str, body: bytes) -> tuple[int, Any]:
    """docs/api.md's answer for each call the tests make."""
    if (method, path) == ("GET", "/v1/formats"):
        return 200, {"formats": {"png": {"to": ["avif", "jpg", "webp"]}, "mp4": {"to": ["gif", "webm"]}}}
    if (method, path) == ("GET", "/v1/keys"):
        long_name = "a key with a long descriptive name that wants the width " * 2
        keys = [
            {"id": i, "name": long_name, "key_prefix": "fg_live_abcd", "scopes": ["convert:write", "files:read"],
             "created_at": "2026-12-07T06:00:00Z", "last_used_at": None, "expires_at": None, "revoked_at": None}
            for i in LONG_IDS
        ]  # fmt: skip
        return 200, {"data": keys, "next_cursor": None}
    if (method, path) == ("POST", "/v1/convert"):
        message = "The file (6000000 bytes) is over the 4194304-byte limit of synchronous conversion."
        return 413, {"error": {"code": "file_too_large", "message": message, "request_id": "r1"}}
    if (method, path) == ("GET", "/v1/webhooks/secret"):
        if api.secret is None:
            return 404, {"error": {"code": "not_found", "message": "No signing secret yet.", "request_id": "r2"}}
        return 200, {"secret": api.secret, "created_at": "2026-12-01T00:00:00Z"}
    if (method, path) == ("POST", "/v1/webhooks/secret"):
        api.secret = SECRET
        return 201, {"secret": SECRET, "created_at": "2026-12-07T00:00:00Z"}
    if (method, path) == ("POST", "/v1/webhooks"):
        api.hook_url = json.loads(body)["url"]
        api.registered.set()
        return 201, {"id": "wh_1", "url": api.hook_url, "events": ["webhook.test"], "created_at": "now"}
    if (method, path) == ("POST", "/v1/webhooks/wh_1/test"):
        assert api.hook_url and api.secret
        threading.Thread(target=_deliver, args=(api.hook_url, api.secret)).start()
        return 202, {"id": "dlv_1"}
    if (method, path) == ("DELETE", "/v1/webhooks/wh_1"):
        return 204, None
    job = {"id": "conv_1", "status": "succeeded", "target": "webp", "progress": 100, "source_file_id": "file_1",
           "output_file_id": "file_2", "error": None, "created_at": "now", "completed_at": "now"}  # fmt: skip
    failed = {**job, "id": "conv_2", "status": "failed", "error": {"code": "conversion_failed", "message": "cut"}}
    if (method, path) == ("GET", "/v1/conversions"):
        return 200, {"data": [job, failed], "next_cursor": None}
    if method == "GET" and path in ("/v1/conversions/conv_1", "/v1/conversions/conv_2"):
        return 200, job if path.endswith("conv_1") else failed
    file = {"id": "file_2", "status": "ready", "filename": "out.webp", "format": "webp", "size": 5,
            "created_at": "now", "expires_at": "later"}  # fmt: skip
    if (method, path) == ("GET", "/v1/files"):
        return 200, {"data": [file], "next_cursor": None}
    if (method, path) == ("GET", "/v1/files/file_2"):
        return 200, file
    if (method, path) == ("GET", "/v1/files/file_2/content"):
        return 302, f"{api.url}/storage/file_2"
    if (method, path) == ("GET", "/storage/file_2"):
        return 200, b"webp!"
    if (method, path) == ("DELETE", "/v1/files/file_2"):
        return 204, None
    return 404, {"error": {"code": "not_found", "message": "No such route.", "request_id": "r0"}}


@pytest.fixture
def api() -> Iterator[FakeApi]:
    state = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = self.path.split("?")[0]
            state.calls.append((self.command, path))
            status, payload = _answers(state, self.command, path, body)
            self.send_response(status)
            if status == 302:
                self.send_header("Location", payload)
                payload = None
            data = payload if isinstance(payload, bytes) else b"" if payload is None else json.dumps(payload).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def run(
    filegate: Path, *args: str, api: FakeApi | None = None, key: bool = True, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILEGATE_")}
    env.update(COLUMNS="80", TERM="dumb", NO_COLOR="1")
    if home is not None:
        env["XDG_CACHE_HOME"] = str(home)
    if api is not None:
        env["FILEGATE_BASE_URL"] = api.url
    if key:
        env["FILEGATE_API_KEY"] = "fg_live_" + "a" * 39
    return subprocess.run([str(filegate), *args], capture_output=True, text=True, env=env, timeout=120)


# ------------------------------------------------------------------ errors, version


def test_version(filegate: Path) -> None:
    done = run(filegate, "--version")
    assert done.returncode == 0 and done.stdout.strip() == "filegate 0.1.0"


def test_a_missing_key_or_base_url_is_said_with_the_commands_own_flags(filegate: Path, api: FakeApi) -> None:
    no_key = run(filegate, "keys", "list", api=api, key=False)
    assert no_key.returncode == 2 and no_key.stdout == ""
    assert "--api-key" in no_key.stderr and "FILEGATE_API_KEY" in no_key.stderr
    assert "api_key" not in no_key.stderr.replace("--api-key", "")
    no_url = run(filegate, "whoami")
    assert no_url.returncode == 2
    assert "--base-url" in no_url.stderr and "--local" in no_url.stderr and "FILEGATE_BASE_URL" in no_url.stderr
    assert "FileGate.local()" not in no_url.stderr and "base_url" not in no_url.stderr
    assert api.calls == []  # nothing was sent


def test_a_failed_conversion_is_on_stderr_even_when_quiet(filegate: Path, api: FakeApi, tmp_path: Path) -> None:
    image = tmp_path / "huge.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    for flags in (["-q"], ["--json"], []):
        done = run(filegate, "convert", str(image), "--to", "webp", *flags, api=api)
        assert done.returncode == 1, done
        assert "file_too_large" in done.stderr and "4194304" in done.stderr, (flags, done.stderr)


# ------------------------------------------------------------------ tables


def test_at_80_columns_no_id_is_cut(filegate: Path, api: FakeApi) -> None:
    done = run(filegate, "keys", "list", api=api)
    assert done.returncode == 0, done.stderr
    for key_id in LONG_IDS:
        assert key_id in done.stdout, done.stdout  # whole, on one line, ready to copy into `keys revoke`
    assert max(len(line) for line in done.stdout.splitlines()) <= 80


# ------------------------------------------------------------------ completion


def test_formats_complete_after_to_from_a_cached_formats_call(filegate: Path, api: FakeApi, tmp_path: Path) -> None:
    first = run(filegate, "formats", "--names", api=api, home=tmp_path)
    assert first.stdout.split() == TARGETS
    again = run(filegate, "formats", "--names", api=api, home=tmp_path)
    assert again.stdout.split() == TARGETS and api.count("GET", "/v1/formats") == 1  # the cache answered
    script = run(filegate, "completion", "bash").stdout
    env_path = f"{filegate.parent}:{os.environ['PATH']}"
    probe = (
        f"{script}\nCOMP_WORDS=(filegate convert clip.mp4 --to we); COMP_CWORD=4; _filegate_complete; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {"PATH": env_path, "FILEGATE_BASE_URL": api.url, "XDG_CACHE_HOME": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.split() == ["webm", "webp"], done
    fish = run(filegate, "completion", "fish").stdout
    assert "complete -c filegate" in fish and "formats --names" in fish and "-l to" in fish
    assert "-a conversions" in fish and "-a files" in fish


# ------------------------------------------------------------------ conversions and files


def test_conversions_list_get_and_wait(filegate: Path, api: FakeApi) -> None:
    listed = run(filegate, "conversions", "list", api=api)
    assert listed.returncode == 0 and "conv_1" in listed.stdout and "conv_2" in listed.stdout
    assert "file_2" in listed.stdout  # the output's id, whole
    as_json = json.loads(run(filegate, "conversions", "list", "--json", api=api).stdout)
    assert [j["error"] for j in as_json] == [None, {"code": "conversion_failed", "message": "cut"}]
    got = run(filegate, "conversions", "get", "conv_1", "--json", api=api)
    assert json.loads(got.stdout)["status"] == "succeeded"
    assert run(filegate, "conversions", "wait", "conv_1", api=api).returncode == 0
    failed = run(filegate, "conversions", "wait", "conv_2", "--json", api=api)
    assert failed.returncode == 1 and "conversion_failed" in failed.stderr
    assert json.loads(failed.stdout)["status"] == "failed"


def test_files_list_get_download_and_delete(filegate: Path, api: FakeApi, tmp_path: Path) -> None:
    assert "file_2" in run(filegate, "files", "list", api=api).stdout
    assert json.loads(run(filegate, "files", "get", "file_2", "--json", api=api).stdout)["format"] == "webp"
    out = tmp_path / "saved.webp"
    assert run(filegate, "files", "download", "file_2", "-o", str(out), api=api).returncode == 0
    assert out.read_bytes() == b"webp!"
    assert run(filegate, "files", "delete", "file_2", api=api).returncode == 0
    assert api.count("DELETE", "/v1/files/file_2") == 1


# ------------------------------------------------------------------ webhooks listen


def test_listen_uses_the_current_secret_and_deletes_its_endpoint(filegate: Path, api: FakeApi) -> None:
    done = run(filegate, "webhooks", "listen", "--test", "--max-events", "1", api=api)
    assert done.returncode == 0, done.stderr
    assert "webhook.test" in done.stdout and "verified" in done.stdout
    assert api.count("POST", "/v1/webhooks/secret") == 0  # never a rotation
    assert api.count("GET", "/v1/webhooks/secret") == 1
    assert api.count("DELETE", "/v1/webhooks/wh_1") == 1


def test_listen_creates_a_secret_only_when_the_account_has_none(filegate: Path, api: FakeApi) -> None:
    api.secret = None
    done = run(filegate, "webhooks", "listen", "--test", "--max-events", "1", api=api)
    assert done.returncode == 0, done.stderr
    assert api.count("POST", "/v1/webhooks/secret") == 1


def test_ctrl_c_deletes_the_endpoint_it_registered(filegate: Path, api: FakeApi) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILEGATE_")}
    env.update(FILEGATE_BASE_URL=api.url, FILEGATE_API_KEY="fg_live_" + "a" * 39)
    process = subprocess.Popen(
        [str(filegate), "webhooks", "listen"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert api.registered.wait(60), "the listener never registered"
        while "Ctrl-C stops" not in (line := process.stderr.readline() if process.stderr else ""):
            assert line, "the listener ended before it was ready"
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert api.count("DELETE", "/v1/webhooks/wh_1") == 1
