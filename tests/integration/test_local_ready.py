"""`make dev` is healthy only when everything a user may touch is ready (issue 18).

The first 200 from `/v1/health` means `stack.json` is already written, so `filegate-admin --local` works at
once: scripts that wait for health and then create accounts never race the stack's start. Underneath, the
gateway listens (its port goes into stack.json) but answers nothing until the stack tells it to serve.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from filegate_local.gateway import Gateway
from filegate_local.model import build_model
from filegate_local.stack import LocalStack, StackConfig
from filegate_local.template import Template
from tests.helpers.processes import all_gone_within, child_pids, free_ports, listening

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the entry points `make venv` installs beside the tests' interpreter
START_TIMEOUT_SECONDS = 120.0  # a cold start on a loaded machine (moto, cfn-lint, the keys function)
RUNS = 5  # the race showed up at random: several fresh starts, each one checked the moment it is healthy


@dataclass
class DevStack:
    process: subprocess.Popen[bytes]
    port: int
    moto_port: int
    state_dir: Path
    console: Path  # the stack's stderr: its log and the printed instructions

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def console_text(self) -> str:
        return self.console.read_text(errors="replace")


@pytest.fixture
def dev_stack(tmp_path: Path) -> Iterator[DevStack]:
    """`make dev`'s command (the `filegate-local` entry point, its arguments) on free ports with its own state
    dir. Teardown stops it as Ctrl-C does and checks that no process and no port is left behind."""
    port, moto_port = free_ports(2)
    state_dir = tmp_path / "state"
    console = tmp_path / "console.log"
    command = [
        str(BIN / "filegate-local"), "--port", str(port), "--moto-port", str(moto_port),
        "--env", "WEBHOOK_ALLOW_INSECURE_LOOPBACK=true", "--state-dir", str(state_dir),
    ]  # fmt: skip
    with console.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=_no_aws_env()
        )
    stack = DevStack(process, port, moto_port, state_dir, console)
    try:
        yield stack
    finally:
        started = child_pids(process.pid) if process.poll() is None else []
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert all_gone_within(started, [port, moto_port], 5), stack.console_text()


def _no_aws_env() -> dict[str, str]:
    """This environment without AWS settings (the session stack's endpoint, a profile): the stack and the
    admin tool must find everything through stack.json alone."""
    return {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}


def _first_health_200(stack: DevStack) -> None:
    """Poll /v1/health as a script would, until it answers 200."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    with httpx.Client(timeout=httpx.Timeout(10.0, connect=1.0)) as client:
        while time.monotonic() < deadline:
            if stack.process.poll() is not None:
                raise AssertionError(f"filegate-local exited with {stack.process.returncode}:\n{stack.console_text()}")
            try:
                if client.get(f"{stack.url}/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet, or not answering yet
            time.sleep(0.02)
    raise AssertionError(f"no 200 from /v1/health within {START_TIMEOUT_SECONDS:.0f}s:\n{stack.console_text()}")


@pytest.mark.parametrize("run", range(RUNS))
def test_admin_tool_works_the_moment_make_dev_is_healthy(dev_stack: DevStack, run: int) -> None:
    _first_health_200(dev_stack)
    admin = subprocess.run(
        [str(BIN / "filegate-admin"), "--local", "--state-dir", str(dev_stack.state_dir), "create-account",
         f"ready-{run}-{uuid.uuid4().hex[:8]}@example.com"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=_no_aws_env(),
    )  # fmt: skip
    assert admin.returncode == 0, admin.stderr
    account = json.loads(admin.stdout)
    # The account is in the stack that answered: its key works through the gateway.
    whoami = httpx.get(
        f"{dev_stack.url}/v1/entitlements/me", headers={"Authorization": f"Bearer {account['api_key']}"}, timeout=60
    )
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["account_id"] == account["account_id"]


def test_nothing_is_answered_before_stack_json_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ordering itself, whatever the timing: when the stack writes stack.json, its SQS pollers already run
    and its gateway takes connections (its port is in the file) but answers none until the file is there."""
    import filegate_local.stack as stack_module

    config = StackConfig(template=ROOT / "template.yaml", port=0, moto_port=0, state_dir=tmp_path / "state")
    local = LocalStack(config)
    seen: list[str] = []
    write_state = stack_module.write_state

    def write_state_after_probing(state_dir: Path, state: dict[str, Any]) -> None:
        seen.append(f"{sum(poller.thread.is_alive() for poller in local.pollers)} pollers")
        try:
            status = httpx.get(f"{state['api_url']}/no-such-route", timeout=httpx.Timeout(2.0, connect=1.0))
            seen.append(f"answered {status.status_code} before stack.json was written")
        except httpx.ReadTimeout:
            seen.append("connected, no answer")
        write_state(state_dir, state)

    monkeypatch.setattr(stack_module, "write_state", write_state_after_probing)
    with local:
        assert seen == [f"{len(local.pollers)} pollers", "connected, no answer"]
        assert local.pollers
        assert httpx.get(f"{local.url}/no-such-route", timeout=30).status_code == 404  # and now it answers


# --------------------------------------------------------------------------------------------- the gateway


def _template_gateway() -> Gateway:
    """The real template's gateway on a free port, without functions: none answers an unknown route."""
    return Gateway(build_model(Template(ROOT / "template.yaml")), pools={}, port=0)


def test_a_listening_gateway_answers_only_once_it_serves() -> None:
    gateway = _template_gateway()
    gateway.listen()
    try:
        answers: list[int] = []
        url = f"{gateway.url}/no-such-route"
        asking = threading.Thread(target=lambda: answers.append(httpx.get(url, timeout=30).status_code))
        asking.start()
        asking.join(1.0)
        assert asking.is_alive() and answers == []  # connected, and waiting in the backlog
        gateway.serve()
        asking.join(30)
        assert answers == [404]  # the template's MISSING_AUTHENTICATION_TOKEN
    finally:
        gateway.stop()


def test_a_gateway_that_never_served_stops_at_once() -> None:
    """A stack whose start fails after listening stops its gateway without hanging."""
    gateway = _template_gateway()
    gateway.listen()
    stopping = threading.Thread(target=gateway.stop, daemon=True)  # a stuck stop is left behind, not waited on
    stopping.start()
    stopping.join(5)
    assert not stopping.is_alive()
    assert not listening(gateway.port)
