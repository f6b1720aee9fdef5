"""`make dev` stops under load: SIGTERM to its process group, while four clients convert in a loop, leaves no
process of the stack (filegate-local, moto, the function workers and what they started) and no listening
port within 5 s. Several fresh stacks, since a wait without a deadline only shows when a stop lands at the
wrong moment: each stop lands while every client has a conversion in flight and LibreOffice is converting a
long document in a request, which takes longer than the 5 s: a stop that waits for a request in flight fails."""

from __future__ import annotations

import io
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
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.helpers.processes import all_gone_within, free_ports, listening, process_gone

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RUNS = 5
CLIENTS = 4
STOP_SECONDS = 5.0
START_TIMEOUT_SECONDS = 120.0
LOAD_TIMEOUT_SECONDS = 120.0


@dataclass
class Load:
    """Clients converting in a loop; `all_in_flight` is half of the checkpoint the stop waits for."""

    url: str
    key: str
    uploads: list[tuple[str, bytes, str]]
    stop: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    in_flight: list[bool] = field(default_factory=lambda: [False] * CLIENTS)
    answers: list[int] = field(default_factory=list)

    def all_in_flight(self) -> bool:
        return all(self.in_flight)

    def client(self, index: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as http:
            turn = index
            while not self.stop.is_set():
                name, body, target = self.uploads[turn % len(self.uploads)]
                turn += 1
                with self.changed:
                    self.in_flight[index] = True
                    self.changed.notify_all()
                try:
                    answer = http.post("/v1/convert", files={"file": (name, body)}, data={"target": target})
                except httpx.HTTPError:
                    return  # the stack is stopping
                with self.changed:
                    self.in_flight[index] = False
                    self.answers.append(answer.status_code)
                    self.changed.notify_all()


@pytest.fixture(scope="module")
def uploads() -> list[tuple[str, bytes, str]]:
    png = io.BytesIO()
    Image.new("RGB", (400, 300), (60, 120, 200)).save(png, format="PNG")
    lines = b"".join(
        b"line %d of the notes, long enough to wrap on the page at least once or twice\n" % i for i in range(12_000)
    )
    return [
        ("notes.txt", lines, "pdf"),  # a few hundred pages: LibreOffice works on it for seconds, in the request
        ("photo.png", png.getvalue(), "webp"),
    ]


def _converting(pids: list[int]) -> bool:
    """The second half of the checkpoint: LibreOffice runs under a function worker."""
    return any(Path(_argv0(pid)).name.startswith("soffice") for pid in pids)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "(gone)"


def _argv0(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True, text=True).stdout
        children = [int(p) for p in out.split()]
        found.extend(children)
        frontier.extend(children)
    return found


def _stack_processes(moto_port: int) -> list[int]:
    """Every live process whose environment points at this stack's moto: the workers and their children,
    even one started after the descendants were listed or re-parented since."""
    marker = f"AWS_ENDPOINT_URL=http://127.0.0.1:{moto_port}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0") and not process_gone(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.fixture
def dev_job(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, int, int, Path]]:
    """`make dev`'s command on free ports, leading a process group of its own as a shell's job would."""
    port, moto_port = free_ports(2)
    state_dir = tmp_path / "state"
    console = tmp_path / "console.log"
    command = [
        str(BIN / "filegate-local"), "--port", str(port), "--moto-port", str(moto_port),
        "--env", "EGRESS_ALLOW_INSECURE_LOOPBACK=true", "--state-dir", str(state_dir),
    ]  # fmt: skip
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    with console.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process, console)
        created = subprocess.run(
            [str(BIN / "filegate-admin"), "--local", "--state-dir", str(state_dir), "create-account",
             f"stop-{uuid.uuid4().hex[:8]}@example.com", "--tier", "pro"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, check=True,
        )  # fmt: skip
        yield process, json.loads(created.stdout)["api_key"], port, moto_port, console
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for pid in _stack_processes(moto_port):
            os.kill(pid, signal.SIGKILL)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], console: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"filegate-local exited with {process.returncode}:\n{console.read_text()}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=httpx.Timeout(10.0, connect=1.0)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"no 200 from /v1/health within {START_TIMEOUT_SECONDS:.0f}s:\n{console.read_text()}")


@pytest.mark.parametrize("run", range(RUNS))
def test_sigterm_to_make_devs_group_under_load_leaves_nothing_within_5_s(
    dev_job: tuple[subprocess.Popen[bytes], str, int, int, Path], uploads: list[tuple[str, bytes, str]], run: int
) -> None:
    process, key, port, moto_port, console = dev_job
    load = Load(f"http://127.0.0.1:{port}", key, uploads)
    clients = [threading.Thread(target=load.client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for client in clients:
        client.start()
    try:
        deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
        while True:
            with load.changed:
                assert load.changed.wait_for(load.all_in_flight, max(0.0, deadline - time.monotonic())), (
                    f"the clients never all had a conversion in flight ({load.answers}):\n{console.read_text()}"
                )
                stack = [process.pid, *_descendants(process.pid), *_stack_processes(moto_port)]
                if load.all_in_flight() and _converting(stack):
                    os.killpg(process.pid, signal.SIGTERM)  # what `kill -TERM -<pgid>` of make dev's job does
                    break
            assert time.monotonic() < deadline, f"LibreOffice never ran ({load.answers}):\n{console.read_text()}"
            time.sleep(0.05)  # polling the process table for the checkpoint, not waiting for luck
        stopped = all_gone_within(sorted(set(stack)), [port, moto_port], STOP_SECONDS)
        left = [pid for pid in stack if not process_gone(pid)] + _stack_processes(moto_port)
        described = [f"{pid} {_cmdline(pid)}" for pid in sorted(set(left))]
        assert stopped and not left, f"left after {STOP_SECONDS:.0f} s: {described}\n{console.read_text()[-3000:]}"
        assert not listening(port) and not listening(moto_port)
        assert process.wait(timeout=1) == 0  # and it stopped cleanly, not by a kill
    finally:
        load.stop.set()
        for client in clients:
            client.join(10)
