"""The service tier's harness: each function's real ``handler`` called in this process, as Lambda would.

- :class:`Functions` imports ``functions/<name>/app.py`` once per function (a module name of its own, e.g.
  ``service_fn_KeysFunction``) with the environment the template gives that function, and calls its
  handler with that environment in place (settings are read at import; some readers are lazy).
- :class:`ServiceApi` puts the local stack's own API Gateway (``filegate_local.gateway.ApiGateway``: the
  template's routes, the real authorizer handler with a REQUEST event, its policy, the template's gateway
  responses, the proxy event) in front of the handlers imported here, so a request takes the path it
  takes under ``make dev`` and in AWS, minus HTTP.
- :meth:`ServiceApi.run_queue` receives a queue's messages from moto and hands them to the function
  the template maps to that queue, as an SQS event; successes are deleted, failures left, like Lambda.
- :meth:`ServiceApi.run_streams` reads the new records of the tables' streams a function is mapped to and
  hands them to it as DynamoDB stream events (filtered, batched, in order, by the local stack's own
  `StreamReader`); a record reported failed and those after it are given again at the next call.

No authorizer cache: every request is authorized afresh, unless a test hands :meth:`ServiceApi.call` an
earlier request's context (``cached_authorizer=``) to play a policy API Gateway still caches.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import itertools
import json
import os
import sys
import time
import types
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from filegate_local import gateway
from filegate_local.gateway import HttpResponse, IncomingRequest
from filegate_local.model import ApiSpec, StackModel
from filegate_local.poller import failed_ids
from filegate_local.sqs_poller import sqs_record
from filegate_local.stream_poller import StreamReader
from filegate_local.workers import Invocation

GATEWAY_PORT = 443
# Source addresses of test clients: one per account sign-up, so the per-IP sign-up limit never bites.
_SOURCE_IPS = (f"198.18.{n // 250}.{n % 250 + 1}" for n in itertools.count())


def next_source_ip() -> str:
    return next(_SOURCE_IPS)


# ------------------------------------------------------------------ environment


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``variables`` on top, restored exactly afterwards."""
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class LambdaContext:
    """The ``context`` Lambda passes to a Python handler (what Powertools reads from it)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self._started)
        return max(0, int(left * 1000))


# ------------------------------------------------------------------ functions


class Functions:
    """The template's functions, each imported fresh with its own environment, called in-process."""

    def __init__(self, model: StackModel, environments: Mapping[str, Mapping[str, str]]) -> None:
        self.model = model
        self.environments = environments
        self._modules: dict[str, ModuleType] = {}

    def module(self, logical_id: str) -> ModuleType:
        """The function's handler module (imported on first use, with the function's environment)."""
        if logical_id not in self._modules:
            spec = self.model.functions[logical_id]
            module_file, _, _ = spec.handler.rpartition(".")
            path = spec.code_dir / f"{module_file.replace('.', '/')}.py"
            name = f"service_fn_{logical_id}"
            loader_spec = importlib.util.spec_from_file_location(name, path)
            assert loader_spec is not None and loader_spec.loader is not None, path
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            with environment(self.environments[logical_id]):
                loader_spec.loader.exec_module(module)
            self._modules[logical_id] = module
        return self._modules[logical_id]

    def handler(self, logical_id: str) -> Callable[[Any, Any], Any]:
        attribute = self.model.functions[logical_id].handler.rpartition(".")[2]
        handler: Callable[[Any, Any], Any] = getattr(self.module(logical_id), attribute)
        return handler

    def invoke(self, logical_id: str, event: dict[str, Any], *, own_environment: bool = True) -> Any:
        """Call the handler with its function's environment in place; without `own_environment` (a worker
        called from a thread while another invocation holds ``os.environ``, which is one per process), in
        whatever environment is there: its settings were read when its module was imported."""
        spec = self.model.functions[logical_id]
        handler = self.handler(logical_id)
        context = LambdaContext(spec.name, spec.arn, spec.memory_mb, spec.timeout_seconds)
        if not own_environment:
            return handler(event, context)
        with environment(self.environments[logical_id]):
            return handler(event, context)

    def by_folder(self, folder: str) -> str:
        """The logical id of the function whose code is functions/<folder> (the first, if shared)."""
        for logical_id, spec in self.model.functions.items():
            if spec.code_dir.name == folder:
                return logical_id
        raise LookupError(f"no function with code in functions/{folder}")


# ------------------------------------------------------------------ responses


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased; repeated headers joined with ", "
    body: bytes
    answered_by: str  # "gateway" (a gateway response) or the function's logical id

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str | None:
        try:
            return str(self.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return None

    def __repr__(self) -> str:
        return f"Response({self.status}, by {self.answered_by}, {self.body[:300]!r})"


def _response(answer: HttpResponse) -> Response:
    headers: dict[str, str] = {}
    for name, value in answer.headers:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return Response(answer.status, headers, answer.body, answer.answered_by)


def proxy_response(result: Any, function: str) -> Response:
    """A Lambda proxy integration's reply, as API Gateway turns it into HTTP."""
    status, headers, body = gateway.proxy_response(result)
    return _response(HttpResponse(status, headers, body, answered_by=function))


# ------------------------------------------------------------------ the gateway


class ServiceApi:
    """The local stack's API Gateway (filegate_local.gateway.ApiGateway) in front of the handlers imported
    here, without its authorizer cache; plus the SQS and DynamoDB stream event sources, run on demand."""

    def __init__(
        self,
        model: StackModel,
        functions: Functions,
        *,
        api: str,
        region: str,
        sqs: Any,
        parameters: Mapping[str, Any],
        dynamodb: Any = None,
        streams: Any = None,
    ) -> None:
        self.model = model
        self.parameters = parameters  # the template's parameter values
        self.functions = functions
        self.spec: ApiSpec = model.apis[api]
        self.region = region
        self.sqs = sqs
        self.dynamodb = dynamodb
        self.streams = streams
        self._stream_readers: dict[tuple[str, str], StreamReader] = {}
        self.gateway = gateway.ApiGateway(self.spec, self._invoke, cache_authorizer=False)
        # The template's gateway responses: .render(kind, request_context, request_headers=) -> HttpResponse.
        self.responses = types.SimpleNamespace(render=functools.partial(gateway.render, self.spec.gateway_responses))

    def _invoke(self, function: str, event: dict[str, Any], _timeout: float | None) -> Invocation:
        """The handler's reply; a handler that raises raises here (the test shows its traceback), but for
        the authorizer's `Unauthorized`, which API Gateway turns into its 401."""
        request_id = str(uuid.uuid4())
        try:
            return Invocation(request_id, "ok", self.functions.invoke(function, event))
        except Exception as exc:
            if str(exc) != "Unauthorized":
                raise
            return Invocation(request_id, "error", error={"errorType": "Exception", "errorMessage": "Unauthorized"})

    # -------------------------------------------------------------- HTTP requests

    def request(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        *,
        body: bytes = b"",
        query: str = "",
        source_ip: str,
    ) -> IncomingRequest:
        sent = [("Host", f"{self.spec.api_id}.execute-api.{self.region}.amazonaws.com"), *headers]
        return IncomingRequest(
            method.upper(), path, query, sent, body, source_ip, GATEWAY_PORT, request_id=str(uuid.uuid4())
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        json_body: Any = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        source_ip: str = "203.0.113.10",
        cached_authorizer: Mapping[str, Any] | None = None,
    ) -> Response:
        """One request through the gateway; ``key`` is sent as ``Authorization: Bearer <key>``.

        ``cached_authorizer`` is an allowing authorizer context from an earlier request (see
        :meth:`authorizer_context`): the request is then served from it without calling the authorizer,
        as API Gateway does while it caches the authorizer's policy."""
        sent: list[tuple[str, str]] = [("User-Agent", "filegate-service-tests"), ("Accept", "*/*")]
        if key is not None:
            sent.append(("Authorization", f"Bearer {key}"))
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent.append(("Content-Type", "application/json"))
        sent.extend((headers or {}).items())
        if body:
            sent.append(("Content-Length", str(len(body))))
        request = self.request(method, path, sent, body=body, query=urlencode(query or {}), source_ip=source_ip)
        return _response(self.gateway.answer(request, cached_authorizer))

    def authorizer_context(self, method: str, path: str, *, key: str, source_ip: str) -> dict[str, Any] | None:
        """What the real authorizer hands the functions for this request; None when the gateway refuses it."""
        request = self.request(method, path, [("Authorization", f"Bearer {key}")], source_ip=source_ip)
        api, route = self.gateway.context_for(request)
        assert route is not None and route.authorizer is not None, f"{method} {path} is public"
        try:
            return self.gateway.authorize(request, api)
        except gateway.GatewayRefusal:
            return None

    def render_gateway_response(
        self, kind: str, method: str, path: str, authorizer: Mapping[str, Any] | None = None
    ) -> Response:
        """The template's gateway response of that type, for a request to ``method path``."""
        request = self.request(method, path, [], source_ip="203.0.113.10")
        return _response(self.gateway.gateway_response(request, kind, 0, authorizer))

    # -------------------------------------------------------------- SQS

    def run_queue(
        self, function: str, *, wait_seconds: float = 5.0, own_environment: bool = True
    ) -> list[dict[str, Any]]:
        """Hand every message waiting on the function's queue to it as SQS events (batches of its
        BatchSize), until the queue is empty; returns the records it was given. Waits up to
        ``wait_seconds`` for the first message. `own_environment`: as for :meth:`Functions.invoke`."""
        mapping = next(m for m in self.model.sqs_mappings if m.function == function)
        given: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait_seconds
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=mapping.queue_url,
                MaxNumberOfMessages=min(10, mapping.batch_size),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                if given or time.monotonic() > deadline:
                    return given
                time.sleep(0.1)
                continue
            records = [sqs_record(m, mapping.queue_arn, self.region) for m in messages]
            result = self.functions.invoke(function, {"Records": records}, own_environment=own_environment)
            reply = result if mapping.report_batch_item_failures else None
            failed = failed_ids(True, reply, (m["MessageId"] for m in messages))
            for message in messages:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"])
            given.extend(records)

    # -------------------------------------------------------------- DynamoDB streams

    def run_streams(self, function: str) -> list[dict[str, Any]]:
        """Hand the function the records its stream mappings have not given it yet (from the trim horizon at
        the first call), as DynamoDB stream events of at most BatchSize records, in order; returns the records
        given. A batch with failures reported (ReportBatchItemFailures) stops that mapping: the failed record
        and those after it are given again at the next call. A handler that raises raises here, and its whole
        batch is given again at the next call."""
        mappings = [m for m in self.model.stream_mappings if m.function == function]
        assert mappings, f"{function} reads no DynamoDB stream"
        given: list[dict[str, Any]] = []
        for mapping in mappings:
            key = (mapping.function, mapping.event)
            if key not in self._stream_readers:
                self._stream_readers[key] = StreamReader(mapping, self.dynamodb, self.streams, self.region)
            reader = self._stream_readers[key]
            while reader.read():
                batch = reader.next_batch()
                given.extend(batch)
                if reader.settle(batch, True, self.functions.invoke(function, {"Records": batch})) < len(batch):
                    break
        return given
