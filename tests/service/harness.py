"""The service tier's harness: each function's real ``handler`` called in this process, as Lambda would.

- :class:`Functions` imports ``functions/<name>/app.py`` once per function (a module name of its own, e.g.
  ``service_fn_KeysFunction``) with the environment the template gives that function, and calls its
  handler with that environment in place (settings are read at import; some readers are lazy).
- :class:`ServiceApi` plays API Gateway for one request: it matches the template's route, calls the real
  authorizer handler with a REQUEST authorizer event, evaluates the returned policy, renders the
  template's gateway response when the gateway itself answers (401, 403), and otherwise calls the
  function's handler with the proxy event carrying the authorizer's genuine context. Events come from the
  local stack's builders (``filegate_local.events``), so they have the shapes the local stack and AWS send.
- :meth:`ServiceApi.run_queue` receives a queue's messages from moto and hands them to the function
  the template maps to that queue, as an SQS event; successes are deleted, failures left, like Lambda.
- :meth:`ServiceApi.run_streams` reads the new records of the tables' streams a function is mapped to and
  hands them to it as DynamoDB stream events (filtered, batched, in order, as the local stack's poller
  does); a record reported failed and those after it are given again at the next call.

No authorizer cache: every request is authorized afresh, unless a test hands :meth:`ServiceApi.call` an
earlier request's context (``cached_authorizer=``) to play a policy API Gateway still caches.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import importlib.util
import itertools
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlencode

from filegate_local import iam
from filegate_local.authorizer import parse_authorizer_response
from filegate_local.events import (
    ApiContext,
    IncomingRequest,
    method_arn,
    proxy_event,
    request_authorizer_event,
    request_context,
)
from filegate_local.gateway_responses import GatewayResponses
from filegate_local.model import ApiSpec, RouteSpec, StackModel, StreamMappingSpec
from filegate_local.sqs_poller import sqs_record
from filegate_local.stream_poller import StreamReader, records_done

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
    headers: dict[str, str]  # names lower-cased
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


def proxy_response(result: Any, function: str) -> Response:
    """A Lambda proxy integration's reply, as API Gateway turns it into HTTP."""
    assert isinstance(result, dict) and isinstance(result.get("statusCode"), int), result
    headers: dict[str, str] = {}
    for name, value in (result.get("headers") or {}).items():
        headers[name.lower()] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ", ".join(str(v) for v in values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return Response(int(result["statusCode"]), headers, body, function)


# ------------------------------------------------------------------ the gateway


@dataclass(frozen=True)
class _Resource:
    path: str
    segments: tuple[str, ...]

    def bind(self, parts: list[str]) -> dict[str, str] | None:
        greedy = bool(self.segments) and self.segments[-1].endswith("+}")
        if greedy and len(parts) >= len(self.segments) and all(parts[len(self.segments) - 1 :]):
            # {proxy+} takes the rest of the path, one segment or more, as API Gateway's greedy parameter does.
            head = self._bind(parts[: len(self.segments) - 1], self.segments[:-1])
            rest = "/".join(parts[len(self.segments) - 1 :])
            return None if head is None else {**head, self.segments[-1].strip("{+}"): unquote(rest)}
        return self._bind(parts, self.segments)

    @staticmethod
    def _bind(parts: list[str], segments: tuple[str, ...]) -> dict[str, str] | None:
        if len(parts) != len(segments):
            return None
        parameters: dict[str, str] = {}
        for template, part in zip(segments, parts, strict=True):
            if template.startswith("{"):
                if not part:
                    return None
                parameters[template.strip("{}")] = unquote(part)
            elif template != part:
                return None
        return parameters

    @property
    def specificity(self) -> tuple[bool, ...]:
        # API Gateway prefers a literal segment over a parameter, left to right, and a greedy one last.
        return (
            *(s.startswith("{") for s in self.segments),
            self.segments[-1].endswith("+}") if self.segments else False,
        )


class ServiceApi:
    """API Gateway for one API of the template, in-process: routes, authorizer, gateway responses."""

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
        self.responses = GatewayResponses(self.spec.gateway_responses)
        self.routes: dict[str, dict[str, RouteSpec]] = {}
        for route in self.spec.routes:
            self.routes.setdefault(route.path, {})[route.method] = route
        self.resources = [_Resource(p, tuple(p.strip("/").split("/"))) for p in self.routes]

    # -------------------------------------------------------------- HTTP requests

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
        sent: list[tuple[str, str]] = [
            ("Host", f"{self.spec.api_id}.execute-api.{self.region}.amazonaws.com"),
            ("User-Agent", "filegate-service-tests"),
            ("Accept", "*/*"),
        ]
        if key is not None:
            sent.append(("Authorization", f"Bearer {key}"))
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent.append(("Content-Type", "application/json"))
        sent.extend((headers or {}).items())
        if body:
            sent.append(("Content-Length", str(len(body))))
        request = IncomingRequest(
            method=method.upper(),
            raw_path=path,
            query=urlencode(query or {}),
            headers=sent,
            body=body,
            source_ip=source_ip,
            gateway_port=GATEWAY_PORT,
            protocol="HTTP/1.1",
            request_id=str(uuid.uuid4()),
        )
        return self.handle(request, cached_authorizer)

    def authorizer_context(self, method: str, path: str, *, key: str, source_ip: str) -> dict[str, Any] | None:
        """What the real authorizer hands the functions for this request; None when the gateway refuses it."""
        request = IncomingRequest(
            method,
            path,
            "",
            [("Authorization", f"Bearer {key}")],
            b"",
            source_ip,
            GATEWAY_PORT,
            request_id=str(uuid.uuid4()),
        )
        resource, parameters = self._match(path)
        api = ApiContext(self.spec.api_id, self.spec.stage, resource.path, parameters, self.spec.stage_variables)
        route = self.routes[resource.path][method]
        assert route.authorizer is not None, f"{method} {path} is public"
        outcome = self._authorize(route.authorizer, request, api)
        return None if isinstance(outcome, Response) else outcome

    def handle(self, request: IncomingRequest, cached_authorizer: Mapping[str, Any] | None = None) -> Response:
        resource, parameters = self._match(request.path)
        route = self.routes[resource.path].get(request.method) or self.routes[resource.path].get("ANY")
        if route is None:
            raise LookupError(f"template.yaml has no route {request.method} {resource.path}")
        api = ApiContext(self.spec.api_id, self.spec.stage, resource.path, parameters, self.spec.stage_variables)
        authorizer: dict[str, Any] | None = None
        if route.authorizer is not None and cached_authorizer is not None:
            authorizer = dict(cached_authorizer)
        elif route.authorizer is not None:
            outcome = self._authorize(route.authorizer, request, api)
            if isinstance(outcome, Response):
                return outcome
            authorizer = outcome
        binary = any(fnmatch.fnmatch(request.header("Content-Type") or "", p) for p in self.spec.binary_media_types)
        event = proxy_event(request, api, binary=binary, authorizer=authorizer)
        return proxy_response(self.functions.invoke(route.function, event), route.function)

    def _match(self, path: str) -> tuple[_Resource, dict[str, str]]:
        parts = path.strip("/").split("/")
        matches = [(r, p) for r in self.resources if (p := r.bind(parts)) is not None]
        if not matches:
            raise LookupError(f"template.yaml has no resource for {path}")
        return min(matches, key=lambda match: match[0].specificity)

    def _authorize(self, name: str, request: IncomingRequest, api: ApiContext) -> dict[str, Any] | Response:
        """The authorizer's context for the integration, or the gateway's own answer (401 / 403)."""
        spec = self.spec.authorizers[name]
        if any(not request.header(header) for header in spec.headers):
            return self.gateway_response("UNAUTHORIZED", request, api)  # identity source missing: not invoked
        try:
            reply = self.functions.invoke(spec.function, request_authorizer_event(request, api))
        except Exception as exc:
            if str(exc) != "Unauthorized":
                raise
            return self.gateway_response("UNAUTHORIZED", request, api)
        result = parse_authorizer_response(reply)  # validated as API Gateway does
        context = {"principalId": result.principal_id, "integrationLatency": 0, **result.context}
        if not iam.evaluate(result.policy, method_arn(request, api)).allowed:
            return self.gateway_response("ACCESS_DENIED", request, api, authorizer=context)
        return context

    def render_gateway_response(
        self, kind: str, method: str, path: str, authorizer: Mapping[str, Any] | None = None
    ) -> Response:
        """The template's gateway response of that type, for a request to ``method path``."""
        request = IncomingRequest(method, path, "", [], b"", "203.0.113.10", GATEWAY_PORT, request_id=str(uuid.uuid4()))
        resource, parameters = self._match(path)
        api = ApiContext(self.spec.api_id, self.spec.stage, resource.path, parameters, self.spec.stage_variables)
        return self.gateway_response(kind, request, api, authorizer=authorizer)

    def gateway_response(
        self, kind: str, request: IncomingRequest, api: ApiContext, authorizer: Mapping[str, Any] | None = None
    ) -> Response:
        context = request_context(request, api)
        if authorizer is not None:
            context["authorizer"] = dict(authorizer)
        rendered = self.responses.render(kind, context, stage_variables=api.stage_variables)
        return Response(rendered.status, {k.lower(): v for k, v in rendered.headers}, rendered.body, "gateway")

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
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            for message in messages:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"])
            given.extend(records)

    # -------------------------------------------------------------- DynamoDB streams

    def run_streams(self, function: str) -> list[dict[str, Any]]:
        """Hand the function the records its stream mappings have not given it yet (from each mapping's
        StartingPosition at the first call), as DynamoDB stream events of at most BatchSize records, shard
        by shard in order; returns the records given. A batch with failures reported (ReportBatchItemFailures)
        stops that mapping: the failed record and those after it are given again at the next call. A
        handler that raises raises here, and its whole batch is given again at the next call."""
        mappings = [m for m in self.model.stream_mappings if m.function == function]
        assert mappings, f"{function} reads no DynamoDB stream"
        given: list[dict[str, Any]] = []
        for mapping in mappings:
            key = (mapping.function, mapping.event)
            if key not in self._stream_readers:
                self._stream_readers[key] = StreamReader(mapping, self.dynamodb, self.streams, self.region)
            reader = self._stream_readers[key]
            while reader.read() or any(cursor.pending for cursor in reader.readable()):
                if not self._give_stream_batches(mapping, reader, given):
                    break
        return given

    def _give_stream_batches(self, mapping: StreamMappingSpec, reader: StreamReader, given: list[Any]) -> bool:
        """Every batch read so far, shard by shard; False at the first batch with failures reported."""
        for cursor in reader.readable():
            while batch := cursor.next_batch(mapping.batch_size):
                given.extend(batch)
                result = self.functions.invoke(mapping.function, {"Records": batch})
                done = records_done(batch, ok=True, result=result, report_failures=mapping.report_batch_item_failures)
                cursor.settle(len(batch), done, function_error=False, bisect=False, maximum_retries=-1)
                if done < len(batch):
                    return False
        return True
