"""The local stack as one object: moto, provisioning, function pools, the gateway, the SQS and stream pollers.

    with LocalStack(StackConfig(template=Path("template.yaml"), port=0, moto_port=0)) as stack:
        requests.post(f"{stack.url}/v1/keys/free", json={"email": "me@example.com"})

`start()` returns when everything answers; `<state-dir>/stack.json` then says where everything is. It is
written before the gateway answers anything, so whoever gets an answer can find the stack through it.
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
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from filegate_local.gateway import Gateway
from filegate_local.lifeline import child_environment
from filegate_local.log_subscriptions import LogSubscription, start_log_subscriptions
from filegate_local.mailbox import MailEcho
from filegate_local.model import StackModel, build_model
from filegate_local.poller import wake_all
from filegate_local.resources import Provisioner
from filegate_local.sqs_poller import SqsPoller, start_pollers
from filegate_local.state import read_state, remove_state, state_file, write_state
from filegate_local.stream_poller import StreamPoller, start_stream_pollers
from filegate_local.template import Template, load_template_file
from filegate_local.workers import FunctionPool, LogSink, function_environment

log = logging.getLogger("filegate_local")

MOTO_START_TIMEOUT_SECONDS = 60.0
# glibc's malloc for moto, which serves each request in a thread of its own and reads whole request and
# response bodies (an upload, a conversion's output) into memory: few arenas, and buffers over 128 KiB
# mmapped (a fixed threshold, not one that grows with the largest freed buffer), so the memory of a body
# goes back to the system when it is freed instead of staying in a fragmented heap.
MOTO_MALLOC_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
# Stopping must leave no process and no listening port behind within 5 s, whatever is still running: each
# step has a grace, then a SIGKILL.
WORKER_STOP_GRACE_SECONDS = 1.0
MOTO_STOP_GRACE_SECONDS = 1.0
POLLER_STOP_GRACE_SECONDS = 1.0


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
    # Extra variables for every function, over the template's (local-only switches, like `sam local
    # invoke --env-vars`); the template itself stays what is deployed.
    environment: dict[str, str] = field(default_factory=dict)
    echo_logs: bool = False  # also print every function's log lines on stderr
    warm: bool = False  # start one worker per function before serving
    echo_mail: bool = False  # print every email the functions send (make dev: the sign-in code)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    """Whether something listens on host:port. SO_REUSEADDR, as the servers themselves bind: the TIME_WAIT
    connections a stopped stack leaves behind for a minute must not count as "in use"."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class PortInUse(RuntimeError):
    """A port the stack needs is taken, most likely by a local stack that is already running."""


def check_ports_free(host: str, ports: dict[str, int], state_dir: Path) -> None:
    """Fail in one line, before starting anything, if a fixed port is taken."""
    for role, port in ports.items():
        if port and not _port_is_free(host, port):
            owner = _running_stack_pid(state_dir)
            who = f"a local stack is already running (pid {owner})" if owner else "another process listens there"
            raise PortInUse(f"{role} port {host}:{port} is in use: {who}; stop it first or pick other ports")


def _running_stack_pid(state_dir: Path) -> int | None:
    try:
        state = read_state(state_dir)
        if state is None:
            return None
        pid = int(state["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid


class MotoServer:
    """moto server in a child process (see moto_process) on host:port."""

    def __init__(self, host: str, port: int, log_path: Path) -> None:
        self.host, self.port, self.log_path = host, port, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the process; it takes a few seconds (moto's imports) before it serves."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "filegate_local.moto_process", self.host, str(self.port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env={**os.environ, **MOTO_MALLOC_ENV, "PYTHONPATH": _python_path_with_package(), **child_environment()},
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(MOTO_START_TIMEOUT_SECONDS):
                self.stop()
                raise RuntimeError(f"moto did not start within {MOTO_START_TIMEOUT_SECONDS:.0f}s; see {self.log_path}")
        if self.proc.stdout.readline().strip() != b"ready":
            self.stop()
            raise RuntimeError(f"moto failed to start; see {self.log_path}")
        _wait_http(f"{self.url}/moto-api/data.json", timeout=20)

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(OSError):
            if self.proc.stdin:
                self.proc.stdin.close()
        with contextlib.suppress(OSError):
            self.proc.terminate()  # its state is in memory and goes anyway: no graceful shutdown to wait for
        try:
            self.proc.wait(timeout=MOTO_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=MOTO_STOP_GRACE_SECONDS)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None


def _python_path_with_package() -> str:
    package_root = str(Path(__file__).resolve().parent.parent)
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join([package_root, existing]) if existing else package_root


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own localhost URL
                if response.status < 500:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")
        time.sleep(0.1)


class LocalStack:
    """Everything `filegate-local` runs, startable and stoppable from Python (tests) or the CLI."""

    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.state_dir = Path(self.config.state_dir).resolve()
        self.log_dir = self.state_dir / "logs"
        self.template: Template | None = None
        self.model: StackModel | None = None
        self.moto: MotoServer | None = None
        self.gateway: Gateway | None = None
        self.pools: dict[str, FunctionPool] = {}
        self.pollers: list[SqsPoller] = []
        self.stream_pollers: list[StreamPoller] = []
        self.mail_echo: MailEcho | None = None
        self.state: dict[str, Any] = {}
        self._sinks: list[LogSink] = []
        self._sinks_by_function: dict[str, LogSink] = {}
        self.log_subscriptions: list[LogSubscription] = []
        self._stop = threading.Event()
        self._log_handler: logging.Handler | None = None
        self._started = False

    # ------------------------------------------------------------------ properties

    @property
    def url(self) -> str:
        if self.gateway is None:
            raise RuntimeError("the stack is not started")
        return self.gateway.url

    @property
    def moto_url(self) -> str:
        if self.moto is None:
            raise RuntimeError("the stack is not started")
        return self.moto.url

    @property
    def state_file(self) -> Path:
        return state_file(self.state_dir)

    def log_file(self, function: str) -> Path:
        return self.log_dir / f"{function}.log"

    def invocations(self, function: str) -> int:
        """How many times a function (by logical id) was invoked since start."""
        return self.pools[function].stats.invocations

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalStack:
        if self._started:
            return self
        config = self.config
        check_ports_free(config.host, {"API": config.port, "moto": config.moto_port}, self.state_dir)
        self._started = True
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log_handler = logging.FileHandler(self.log_dir / "gateway.log")
        self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logging.getLogger("filegate_local").addHandler(self._log_handler)
        if logging.getLogger("filegate_local").level == logging.NOTSET:
            logging.getLogger("filegate_local").setLevel(logging.INFO)
        try:
            self._start(config)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, config: StackConfig) -> None:
        moto_port = config.moto_port or free_port(config.host)
        port = config.port or free_port(config.host)
        # Links in mail point at this gateway, as PublicBaseUrl would on AWS; never at a request's Host header.
        declared = load_template_file(Path(config.template)).get("Parameters") or {}
        parameters = dict(config.parameters)
        if "PublicBaseUrl" in declared:
            parameters.setdefault("PublicBaseUrl", f"http://{config.host}:{port}")
        self.moto = MotoServer(config.host, moto_port, self.log_dir / "moto.log")
        self.moto.spawn()
        # Read the template while moto starts: both spend their first seconds importing (moto, cfn-lint).
        started = time.monotonic()
        self.template = Template(
            config.template,
            stack_name=config.stack_name,
            parameter_overrides=parameters,
            moto_endpoint=self.moto.url,
        )
        self.model = build_model(self.template)
        read = time.monotonic()
        self.moto.wait_ready()
        log.info(
            "template read in %.2f s; moto ready %.2f s after its start",
            read - started,
            time.monotonic() - started,
        )
        Provisioner(self.template, self.moto.url).provision()

        for logical_id, spec in self.model.functions.items():
            sink = LogSink(self.log_file(logical_id), logical_id, config.echo_logs)
            self._sinks.append(sink)
            self._sinks_by_function[logical_id] = sink
            env = function_environment(spec, moto_endpoint=self.moto.url)
            env.update(config.environment)
            self.pools[logical_id] = FunctionPool(spec, env, sink, config.workers_per_function)
        self.gateway = Gateway(self.model, self.pools, host=config.host, port=port)
        self.gateway.listen()  # its URL goes into stack.json; it answers nothing until the end
        if config.warm:
            threads = [threading.Thread(target=p.warm) for p in self.pools.values()]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        self.pollers = start_pollers(
            self.model.sqs_mappings,
            self.pools,
            self.moto.url,
            self.template.region,
            self._stop,
            max_pollers=config.workers_per_function,
        )
        self.stream_pollers = start_stream_pollers(
            self.model.stream_mappings, self.pools, self.moto.url, self.template.region, self._stop
        )
        for pool in self.pools.values():
            pool.on_invoked(lambda: wake_all(self.stream_pollers))
        self.log_subscriptions = start_log_subscriptions(
            self.model.log_subscriptions, self.pools, self._sinks_by_function, self._stop
        )
        if config.echo_mail:
            self.mail_echo = MailEcho(self.moto.url, self._stop)
            self.mail_echo.start()
        self.state = self._describe()
        write_state(self.state_dir, self.state)
        # Last: the first answer (a 200 from /v1/health) means every part above is ready and findable.
        self.gateway.serve()

    def stop(self) -> None:
        """Stop everything within a few seconds, whatever is in flight. Safe to call twice.

        In this order, and no step waits without a deadline: nobody new finds the stack; the pollers and
        the pools take no more work (a request waiting for a free worker fails at once); the gateway stops
        taking connections without waiting for the requests in flight (their threads end with their
        invocations); the workers get a short grace to finish, then are killed with whatever they started;
        moto stops; the poller threads, by then unblocked, are joined for what time is left.
        """
        if self.state:
            remove_state(self.state_dir, self.state)  # first: nobody new finds a stack that stops answering
        self._stop.set()
        wake_all([*self.pollers, *self.stream_pollers, *self.log_subscriptions])
        for pool in self.pools.values():
            pool.begin_close()
        if self.gateway is not None:
            self.gateway.stop()
        deadline = time.monotonic() + WORKER_STOP_GRACE_SECONDS
        for pool in self.pools.values():
            pool.close(deadline)  # kills a worker still busy at the deadline, so no poller waits on one
        if self.moto is not None:
            self.moto.stop()
        deadline = time.monotonic() + POLLER_STOP_GRACE_SECONDS
        for thread in [*self.pollers, *self.stream_pollers, *self.log_subscriptions, self.mail_echo]:
            if thread is not None:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.pollers, self.stream_pollers, self.log_subscriptions, self.mail_echo = [], [], [], None
        for sink in self._sinks:
            sink.close()
        self._sinks = []
        self._sinks_by_function = {}
        if self._log_handler is not None:
            logging.getLogger("filegate_local").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ stack.json

    def _describe(self) -> dict[str, Any]:
        assert self.template is not None and self.model is not None
        assert self.gateway is not None and self.moto is not None
        template = self.template
        primary = self.gateway.primary_api
        resources = {lid: r.as_json() for lid, r in template.physical_resources().items()}
        apis = {
            lid: {
                "id": api.api_id,
                "name": api.name,
                "stage": api.stage,
                "url": self.gateway.url,
                "routes": [f"{r.method} {r.path}" for r in api.routes],
            }
            for lid, api in self.model.apis.items()
        }
        functions = {
            lid: {
                "name": spec.name,
                "arn": spec.arn,
                "handler": spec.handler,
                "code_dir": str(spec.code_dir),
                "timeout_seconds": spec.timeout_seconds,
                "log_file": str(self.log_file(lid)),
            }
            for lid, spec in self.model.functions.items()
        }
        return {
            "pid": os.getpid(),
            "stack_name": template.stack_name,
            "region": template.region,
            "account_id": template.account_id,
            "template": str(template.path),
            "api_url": self.gateway.url,
            "api_id": primary.api_id if primary else None,
            "stage": primary.stage if primary else None,
            "gateway_endpoint": self.gateway.url,
            "moto_endpoint": self.moto.url,
            "state_dir": str(self.state_dir),
            "log_dir": str(self.log_dir),
            "parameters": dict(template.parameters),
            "apis": apis,
            "functions": functions,
            "resources": resources,
            "sqs_event_sources": [
                {
                    "function": m.function,
                    "queue": m.queue,
                    "batch_size": m.batch_size,
                    "report_batch_item_failures": m.report_batch_item_failures,
                }
                for m in self.model.sqs_mappings
            ],
            "stream_event_sources": [
                {
                    "function": m.function,
                    "table": m.table,
                    "stream_arn": template.get_att(m.table, "StreamArn"),
                    "batch_size": m.batch_size,
                    "starting_position": m.starting_position,
                    "report_batch_item_failures": m.report_batch_item_failures,
                }
                for m in self.model.stream_mappings
            ],
            "outputs": template.outputs(),
            "environment": {
                "AWS_ENDPOINT_URL": self.moto.url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": template.region,
            },
        }
