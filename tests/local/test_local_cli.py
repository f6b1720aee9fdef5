"""`filegate-local` as `make dev` runs it: start, a refused second, SIGTERM, a restart on the same ports, SIGKILL."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers.processes import all_gone_within, child_pids, free_ports

ROOT = Path(__file__).resolve().parents[2]


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
