"""The local stack over HTTP and as `make dev` runs it: what the gateway's transport refuses, and how (on
tests/local/conftest.py's session stack); `filegate-local` started, refused twice, stopped, restarted, killed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path

import httpx
import pytest

from filegate_local.stack import LocalStack
from tests.helpers.processes import all_gone_within, child_pids, free_ports

TOO_LARGE = f"Content-Length: {10 * 1024 * 1024 + 1}\r\n"
SHORT = b"POST /v1/keys/free HTTP/1.1\r\nHost: x\r\n"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("payload", "status", "expected"),
    [
        (f"POST /v1/convert HTTP/1.1\r\nHost: x\r\n{TOO_LARGE}\r\n".encode(), 413, b"X-Request-Body-Bytes: 10485761"),
        (f"POST /v1/convert HTTP/1.1\r\nExpect: 100-continue\r\n{TOO_LARGE}\r\n".encode(), 413, b'"file_too_large"'),
        (b"GARBAGE\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/9.9\r\n\r\n", 505, b'"invalid_request"'),
        (SHORT + b"Content-Length: 100\r\n\r\n{}", 400, b'"request_id": "'),  # a body stops short
        (SHORT + b"Transfer-Encoding: chunked\r\n\r\n64\r\n{}", 400, b'"invalid_request"'),  # a chunk stops short
    ],
)
def test_what_the_gateway_will_not_serve_gets_its_gateway_response_quickly(
    stack: LocalStack, payload: bytes, status: int, expected: bytes
) -> None:
    """Before a body over the limit is sent; within the body stall limit (2 s) for a body that stops short."""
    assert stack.gateway is not None
    started, answer = time.monotonic(), b""
    with socket.create_connection(("127.0.0.1", stack.gateway.port), timeout=10) as sock:
        sock.sendall(payload)  # and waits for the answer, the connection open
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):  # the gateway closes the connection after its answer
                answer += chunk
    assert int(answer.split(b" ", 2)[1]) == status and expected in answer, answer
    assert time.monotonic() - started < 5 and b"x-amzn-RequestId: " in answer


def test_chunked_bodies_keep_alive_and_head(stack: LocalStack, http: httpx.Client) -> None:
    assert stack.gateway is not None
    connection = HTTPConnection("127.0.0.1", stack.gateway.port, timeout=60)
    connection.request("POST", "/v1/health", body=iter([b"hello", b" world"]), encode_chunked=True)
    first = connection.getresponse()
    assert (first.status, first.getheader("Transfer-Encoding")) == (405, None) and first.read()
    sock = connection.sock
    connection.request("HEAD", "/v1/health")
    head = connection.getresponse()
    assert (head.status, head.read(), connection.sock) == (405, b"", sock)  # on the same connection
    assert int(head.getheader("Content-Length") or 0) > 0  # of the body HEAD does not get
    connection.close()
    missing = http.get("/v1/definitely-not-a-route")
    error = missing.json()["error"]
    assert (missing.status_code, error["code"]) == (404, "not_found")
    assert error["request_id"] == missing.headers["X-Request-Id"] == missing.headers["x-amzn-RequestId"]


def cli(state: Path, ports: list[int], *extra: str) -> subprocess.Popen[bytes]:
    flags = ["--port", str(ports[0]), "--moto-port", str(ports[1]), "--state-dir", str(state), "--no-echo-logs"]
    command = [sys.executable, "-m", "filegate_local", "--template", str(ROOT / "template.yaml"), *flags, *extra]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "infra"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def up(process: subprocess.Popen[bytes], state: Path, port: int) -> dict:
    deadline = time.monotonic() + 120
    while not (state / "stack.json").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
        time.sleep(0.2)
    assert httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=60).status_code == 200
    return json.loads((state / "stack.json").read_text())


def leave_time_wait(port: int) -> None:
    """A TIME_WAIT connection on a server port, as a stopped stack leaves for a minute: not "in use"."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        listener.accept()[0].close()  # the server side closes first: its end goes to TIME_WAIT
        client.close()


def test_start_refuse_a_second_stop_restart_and_a_killed_stack_leaves_nothing(tmp_path: Path) -> None:
    ports, state = free_ports(2), tmp_path / "state"
    for port in ports:
        leave_time_wait(port)
    first = cli(state, ports, "--stack-name", "clitest", "--param", "LogLevel=DEBUG")
    second = again = None
    try:
        stack = up(first, state, ports[0])
        assert stack["parameters"]["LogLevel"] == "DEBUG" and stack["outputs"]["KeysTableName"] == "clitest-KeysTable"
        second = cli(state, ports)
        assert second.wait(timeout=60) != 0
        refusal = second.stderr.read().decode() if second.stderr else ""
        assert len(refusal.strip().splitlines()) == 1 and f"already running (pid {first.pid})" in refusal
        children = child_pids(first.pid)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0 and not (state / "stack.json").exists()
        assert all_gone_within(children, [], 5) and b"curl -s -X POST" in (first.stderr.read() if first.stderr else b"")
        again = cli(state, ports)  # at once, on the same ports
        up(again, state, ports[0])
        httpx.get(f"http://127.0.0.1:{ports[0]}/v1/keys", headers={"Authorization": "Bearer x"}, timeout=60)
        children = child_pids(again.pid)
        assert len(children) >= 2  # moto and the authorizer's worker
        again.kill()  # SIGKILL: no chance to clean up; the lifeline ends the rest
        again.wait()
        assert all_gone_within(children, ports, 5)
    finally:
        for process in (first, second, again):
            if process is not None and process.poll() is None:
                process.kill()
