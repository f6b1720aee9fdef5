"""The local stack as one object: moto, provisioning, function pools, the gateway, the event sources.

    with LocalStack(StackConfig(template=Path("template.yaml"), port=0, moto_port=0)) as stack:
        requests.post(f"{stack.url}/v1/keys/free", json={"email": "me@example.com"})

`start()` returns when everything answers; `<state-dir>/stack.json` (written before the gateway answers
anything, so whoever gets an answer can find the stack through it) says where everything is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filegate_local.gateway import Gateway
from filegate_local.lifeline import child_environment
from filegate_local.log_subscriptions import start_log_subscriptions
from filegate_local.mailbox import MailEcho
from filegate_local.model import StackModel, build_model
from filegate_local.poller import wake_all
from filegate_local.resources import Provisioner
from filegate_local.sqs_poller import SqsPoller, start_pollers
from filegate_local.state import read_state, remove_state, state_file, write_state
from filegate_local.stream_poller import start_stream_pollers
from filegate_local.template import Template
from filegate_local.workers import FunctionPool, LogSink, function_environment

log = logging.getLogger("filegate_local")

MOTO_START_TIMEOUT_SECONDS = 60.0
# glibc's malloc for moto, which serves each request in a thread of its own and reads whole request and
# response bodies into memory: few arenas, and buffers over 128 KiB mmapped (a fixed threshold), so the
# memory of a body goes back to the system when it is freed instead of staying in a fragmented heap.
MOTO_MALLOC_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
# Stopping leaves no process and no listening port behind within 5 s: each step has a grace, then a SIGKILL.
STOP_GRACE_SECONDS = 1.0


@dataclass
class StackConfig:
    template: Path = Path("template.yaml")
    host: str = "127.0.0.1"
    port: int = 3000  # 0: any free port
    moto_port: int = 4566  # 0: any free port
    state_dir: Path = Path(".local-stack")
    stack_name: str = "filegate-local"
    workers_per_function: int = 4
    parameters: dict[str, str] = field(default_factory=dict)
    # Extra variables for every function over the template's (local-only switches, as `sam local --env-vars`)
    environment: dict[str, str] = field(default_factory=dict)
    echo_logs: bool = False  # also print every function's log lines on stderr
    warm: bool = False  # start one worker per function before serving
    echo_mail: bool = False  # print every email the functions send (make dev: the sign-in code)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_ports_free(host: str, ports: dict[str, int], state_dir: Path) -> None:
    """Fail in one line, before starting anything, if a fixed port is taken. Bound with SO_REUSEADDR, as the
    servers bind: the TIME_WAIT connections a stopped stack leaves behind for a minute are not "in use"."""
    for role, port in ports.items():
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            continue
        who = "another process listens there"
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            pid = int((read_state(state_dir) or {})["pid"])
            os.kill(pid, 0)
            who = f"a local stack is already running (pid {pid})"
        raise RuntimeError(f"{role} port {host}:{port} is in use: {who}; stop it first or pick other ports")


class MotoServer:
    """moto server in a child process (filegate_local.moto_process) on host:port."""

    def __init__(self, host: str, port: int, log_path: Path) -> None:
        self.host, self.port, self.log_path, self.url = host, port, log_path, f"http://{host}:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the process; it takes a few seconds (moto's imports) before it serves."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        package_root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, **MOTO_MALLOC_ENV, "PYTHONPATH": path, **child_environment()}
        command = [sys.executable, "-m", "filegate_local.moto_process", self.host, str(self.port)]
        with self.log_path.open("ab") as out:
            pipe = subprocess.PIPE
            self.proc = subprocess.Popen(command, stdin=pipe, stdout=pipe, stderr=out, env=env, start_new_session=True)

    def wait_ready(self) -> None:
        """Until it prints "ready": its port is bound by then, so requests wait in its backlog."""
        assert self.proc is not None and self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if selector.select(MOTO_START_TIMEOUT_SECONDS) and self.proc.stdout.readline().strip() == b"ready":
                return
        self.stop()
        raise RuntimeError(f"moto did not start within {MOTO_START_TIMEOUT_SECONDS:.0f}s; see {self.log_path}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
            proc.terminate()  # its state is in memory and goes anyway: no graceful shutdown to wait for
        try:
            proc.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_GRACE_SECONDS)
        proc.stdout.close()  # type: ignore[union-attr]


class LocalStack:
    """Everything `filegate-local` runs, startable and stoppable from Python (tests) or the CLI."""

    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.state_dir = Path(self.config.state_dir).resolve()
        self.log_dir, self.state_file = self.state_dir / "logs", state_file(self.state_dir)
        self.url = self.moto_url = ""  # once started
        self.template: Template | None = None
        self.model: StackModel | None = None
        self.moto: MotoServer | None = None
        self.gateway: Gateway | None = None
        self.pools: dict[str, FunctionPool] = {}
        self.sinks: dict[str, LogSink] = {}
        self.pollers: list[SqsPoller] = []
        self.threads: list[Any] = []  # the pollers, log subscriptions and mail echo: woken and joined at stop
        self.state: dict[str, Any] = {}
        self._stop = threading.Event()
        self._log_handler: logging.Handler | None = None

    def log_file(self, function: str) -> Path:
        return self.log_dir / f"{function}.log"

    def invocations(self, function: str) -> int:  # by logical id, since start
        return self.pools[function].stats.invocations

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        config = self.config
        check_ports_free(config.host, {"API": config.port, "moto": config.moto_port}, self.state_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log_handler = logging.FileHandler(self.log_dir / "gateway.log")
        self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        log.addHandler(self._log_handler)
        log.setLevel(log.level or logging.INFO)
        try:
            self._start(config, config.port or free_port(config.host))
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, config: StackConfig, port: int) -> None:
        self.moto = MotoServer(config.host, config.moto_port or free_port(config.host), self.log_dir / "moto.log")
        self.moto.spawn()  # and read the template while moto starts: both spend seconds importing (moto, cfn-lint)
        self.moto_url = self.moto.url
        # Links in mail point at this gateway, as PublicBaseUrl would on AWS; never at a request's Host header.
        parameters = {"PublicBaseUrl": f"http://{config.host}:{port}", **config.parameters}
        name, path = config.stack_name, config.template
        self.template = Template(path, stack_name=name, parameter_overrides=parameters, moto_endpoint=self.moto_url)
        self.model = model = build_model(self.template)
        self.moto.wait_ready()
        Provisioner(self.template, self.moto_url).provision()
        for logical_id, spec in model.functions.items():
            self.sinks[logical_id] = sink = LogSink(self.log_file(logical_id), logical_id, config.echo_logs)
            env = function_environment(spec, moto_endpoint=self.moto_url) | config.environment
            self.pools[logical_id] = FunctionPool(spec, env, sink, config.workers_per_function)
        self.gateway = Gateway(model, self.pools, host=config.host, port=port)
        self.gateway.listen()  # its URL goes into stack.json; it answers nothing until the end
        self.url = self.gateway.url
        if config.warm:
            with ThreadPoolExecutor(max_workers=len(self.pools) or 1) as executor:
                list(executor.map(FunctionPool.warm, self.pools.values()))
        region, pools, stop, most = self.template.region, self.pools, self._stop, config.workers_per_function
        self.pollers = start_pollers(model.sqs_mappings, pools, self.moto_url, region, stop, max_pollers=most)
        streams = start_stream_pollers(model.stream_mappings, pools, self.moto_url, region, stop)
        for pool in pools.values():
            pool.on_invoked(lambda: wake_all(streams))
        subscriptions = start_log_subscriptions(model.log_subscriptions, pools, self.sinks, stop)
        self.threads = [*self.pollers, *streams, *subscriptions]
        if config.echo_mail:
            self.threads.append(MailEcho(self.moto_url, stop))
            self.threads[-1].start()
        self.state = self._describe(self.template, model, self.gateway)
        write_state(self.state_dir, self.state)
        # Last: the first answer (a 200 from /v1/health) means every part above is ready and findable.
        self.gateway.serve()

    def stop(self) -> None:
        """Stop everything within a few seconds, whatever is in flight; safe to call twice. No step waits without
        a deadline: a request waiting for a free worker fails at once, the gateway does not wait for requests in
        flight (their threads end with their invocations), busy workers are killed after a short grace, and the
        poller threads are joined last, once the workers and moto they may be waiting on are gone."""
        if self.state:
            remove_state(self.state_dir, self.state)
        self._stop.set()
        wake_all(self.threads)
        for pool in self.pools.values():
            pool.begin_close()
        if self.gateway is not None:
            self.gateway.stop()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for pool in self.pools.values():
            pool.close(deadline)  # kills a worker still busy at the deadline, so no poller waits on one
        if self.moto is not None:
            self.moto.stop()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for sink in self.sinks.values():
            sink.close()
        self.threads, self.sinks = [], {}
        if self._log_handler is not None:
            log.removeHandler(self._log_handler)
            self._log_handler.close()

    def _describe(self, template: Template, model: StackModel, gateway: Gateway) -> dict[str, Any]:
        """stack.json: what the repo's tools and tests read (tests/helpers, filegate_admin, tests/bench)."""
        api = gateway.primary_api
        streams = [
            {"function": m.function, "table": m.table, "stream_arn": template.get_att(m.table, "StreamArn")}
            | {"starting_position": "TRIM_HORIZON", "report_batch_item_failures": m.report_batch_item_failures}
            for m in model.stream_mappings
        ]
        credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        return {
            "pid": os.getpid(),
            "region": template.region,
            "api_url": self.url,
            "gateway_endpoint": self.url,
            "api_id": api and api.api_id,
            "stage": api and api.stage,
            "moto_endpoint": self.moto_url,
            "parameters": template.parameters,
            "resources": {lid: {"name": template.physical(lid).name} for lid in template.resources},
            "stream_event_sources": streams,
            "outputs": template.outputs(),
            "environment": {"AWS_ENDPOINT_URL": self.moto_url, "AWS_DEFAULT_REGION": template.region, **credentials},
        }
