"""What the local stack runs, read from the template: functions, APIs with routes and authorizers, SQS
and DynamoDB stream event source mappings. Plain data; the runtime parts (workers, gateway, pollers) take these.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filegate_local.event_filters import validate_pattern
from filegate_local.images import image_code
from filegate_local.log_subscriptions import LogSubscriptionSpec, matcher
from filegate_local.template import (
    API_TYPES,
    LAYER_TYPES,
    Template,
    TemplateError,
)

log = logging.getLogger("filegate_local")

DEFAULT_TIMEOUT_SECONDS = 3  # Lambda's default
DEFAULT_MEMORY_MB = 128
API_GATEWAY_INTEGRATION_TIMEOUT_MS = 29_000
DEFAULT_AUTHORIZER_TTL = 300
# What an image function reports as its runtime (AWS_EXECUTION_ENV): its image brings its own Python.
IMAGE_RUNTIME = "image"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str]
    layer_dirs: tuple[Path, ...]
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function: str  # logical id of the authorizer function
    headers: tuple[str, ...] = ()
    query_strings: tuple[str, ...] = ()
    stage_variables: tuple[str, ...] = ()
    context: tuple[str, ...] = ()  # e.g. identity.sourceIp
    ttl_seconds: int = DEFAULT_AUTHORIZER_TTL


@dataclass(frozen=True)
class RouteSpec:
    api: str  # logical id of the API
    event: str  # the function event's name
    function: str  # logical id
    path: str  # resource path, e.g. /v1/keys/{id}
    method: str  # upper case, or ANY
    authorizer: str | None  # authorizer name, or None (public)
    integration_timeout_ms: int = API_GATEWAY_INTEGRATION_TIMEOUT_MS


@dataclass(frozen=True)
class ThrottleSpec:
    resource_path: str  # "/*" for every resource
    method: str  # "*" for every method
    rate_limit: float
    burst_limit: int


@dataclass
class ApiSpec:
    logical_id: str
    api_id: str
    name: str
    stage: str
    binary_media_types: tuple[str, ...]
    gateway_responses: dict[str, dict[str, Any]]
    authorizers: dict[str, AuthorizerSpec]
    stage_variables: dict[str, str]
    throttles: tuple[ThrottleSpec, ...]
    default_authorizer: str | None = None
    routes: list[RouteSpec] = field(default_factory=list)


@dataclass(frozen=True)
class SqsMappingSpec:
    function: str
    event: str
    queue: str  # logical id
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window_seconds: float
    report_batch_item_failures: bool
    maximum_concurrency: int | None


@dataclass(frozen=True)
class StreamMappingSpec:
    """A `Type: DynamoDB` event: the function reads the table's stream, shard by shard, in order."""

    function: str
    event: str
    table: str  # logical id
    table_name: str
    stream_arn: str  # as the template resolves it; the table's LatestStreamArn is read when polling starts
    batch_size: int
    batching_window_seconds: float
    starting_position: str  # TRIM_HORIZON or LATEST
    bisect_on_error: bool
    maximum_retry_attempts: int  # -1: until the record expires (for ever, locally)
    report_batch_item_failures: bool
    filters: tuple[dict[str, Any], ...] = ()  # FilterCriteria patterns; a record passes if one matches


@dataclass
class StackModel:
    functions: dict[str, FunctionSpec]
    apis: dict[str, ApiSpec]
    sqs_mappings: list[SqsMappingSpec]
    stream_mappings: list[StreamMappingSpec] = field(default_factory=list)
    log_subscriptions: list[LogSubscriptionSpec] = field(default_factory=list)


def _as_str(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _ref_target(raw: Any) -> str | None:
    """The logical id of a `!Ref X` / `!GetAtt X.Arn` (without resolving it)."""
    if isinstance(raw, dict) and len(raw) == 1:
        ((key, args),) = raw.items()
        if key == "Ref":
            return str(args)
        if key == "Fn::GetAtt":
            return str(args.split(".")[0] if isinstance(args, str) else args[0])
    return None


def build_model(template: Template) -> StackModel:
    functions = _functions(template)
    apis = _apis(template)
    mappings: list[SqsMappingSpec] = []
    streams: list[StreamMappingSpec] = []
    subscriptions: list[LogSubscriptionSpec] = []
    for logical_id in template.of_type("AWS::Serverless::Function"):
        if logical_id not in functions:
            continue
        raw_events = template.raw_properties(logical_id).get("Events") or {}
        for event_name in raw_events:
            event = template.resolve(raw_events[event_name])
            raw_event = raw_events[event_name]
            kind = event.get("Type")
            props = event.get("Properties") or {}
            if kind == "Api":
                route = _route(template, apis, logical_id, event_name, props, raw_event)
                apis[route.api].routes.append(route)
            elif kind == "SQS":
                mapping = _sqs_mapping(template, logical_id, event_name, props, raw_event)
                if mapping is not None:
                    mappings.append(mapping)
            elif kind == "DynamoDB":
                stream = _stream_mapping(template, logical_id, event_name, props, raw_event)
                if stream is not None:
                    streams.append(stream)
            elif kind == "CloudWatchLogs":
                subscriptions.append(_log_subscription(template, functions, logical_id, event_name, props))
            else:
                log.info("%s: event %s of type %s is not emulated locally", logical_id, event_name, kind)
    return StackModel(
        functions=functions,
        apis=apis,
        sqs_mappings=mappings,
        stream_mappings=streams,
        log_subscriptions=subscriptions,
    )


def _log_subscription(
    template: Template, functions: dict[str, FunctionSpec], function: str, event_name: str, props: dict[str, Any]
) -> LogSubscriptionSpec:
    """A `Type: CloudWatchLogs` event on a function's log group: the one its `LoggingConfig` names, else its
    default (`/aws/lambda/<its name>`)."""
    group = str(props.get("LogGroupName", ""))

    def log_group(spec: FunctionSpec) -> str:
        config = template.resolve(template.raw_properties(spec.logical_id).get("LoggingConfig") or {})
        return str(config.get("LogGroup") or f"/aws/lambda/{spec.name}")

    source = next((f.logical_id for f in functions.values() if group == log_group(f)), None)
    if source is None:
        raise ValueError(f"{function}.{event_name}: log group {group!r} is no function's; not emulated locally")
    pattern = str(props.get("FilterPattern", ""))
    matcher(pattern)  # an unsupported pattern fails here, at start, not on the first line
    return LogSubscriptionSpec(function, event_name, source, group, pattern)


def _functions(template: Template) -> dict[str, FunctionSpec]:
    layer_dirs_by_arn: dict[str, tuple[Path, ...]] = {}
    for layer in template.of_type(*LAYER_TYPES):
        props = template.properties(layer)
        content = props.get("ContentUri") or props.get("Content")
        if not isinstance(content, str):
            continue
        root = template.resolve_path(content)
        # A layer built by SAM puts its packages under python/; the source tree has them at the root.
        dirs = (root, root / "python") if (root / "python").is_dir() else (root,)
        layer_dirs_by_arn[str(template.physical(layer).ref)] = dirs

    functions: dict[str, FunctionSpec] = {}
    for logical_id in template.of_type("AWS::Serverless::Function"):
        props = template.properties(logical_id)
        runtime = str(props.get("Runtime", ""))
        code_uri = props.get("CodeUri")
        layers: list[Path] = []
        if props.get("PackageType") == "Image":  # run in-process from the source tree, as its Dockerfile lays it out
            metadata = template.resources[logical_id].get("Metadata") or {}
            image = image_code(logical_id, props, metadata, template.base_dir)
            code_dir, handler, runtime = image.code_dir, image.handler, IMAGE_RUNTIME
            layers.extend(image.path_dirs)
        elif not runtime.startswith("python"):
            log.warning("%s: only python functions run locally; skipped", logical_id)
            continue
        elif not isinstance(code_uri, str):
            log.warning("%s: CodeUri is not a local directory; skipped", logical_id)
            continue
        else:
            code_dir, handler = template.resolve_path(code_uri), props.get("Handler")
        if not isinstance(handler, str) or "." not in handler:
            raise TemplateError(f"{logical_id}: Handler must look like module.function")
        for arn in props.get("Layers") or []:
            if str(arn) in layer_dirs_by_arn:
                layers.extend(layer_dirs_by_arn[str(arn)])
            else:
                log.warning("%s: layer %s is not in the template; not on the path", logical_id, arn)
        variables = (props.get("Environment") or {}).get("Variables") or {}
        physical = template.physical(logical_id)
        reserved = props.get("ReservedConcurrentExecutions")
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=str(physical.name),
            arn=str(physical.arn),
            code_dir=code_dir,
            handler=handler,
            runtime=runtime,
            timeout_seconds=float(props.get("Timeout", DEFAULT_TIMEOUT_SECONDS)),
            memory_mb=int(props.get("MemorySize", DEFAULT_MEMORY_MB)),
            environment={str(k): _as_str(v) for k, v in variables.items()},
            layer_dirs=tuple(layers),
            reserved_concurrency=int(reserved) if reserved is not None else None,
        )
    return functions


def _apis(template: Template) -> dict[str, ApiSpec]:
    function_by_arn = {str(template.physical(f).arn): f for f in template.of_type("AWS::Serverless::Function")}
    apis: dict[str, ApiSpec] = {}
    for logical_id in template.of_type(*API_TYPES):
        props = template.properties(logical_id)
        physical = template.physical(logical_id)
        auth = props.get("Auth") or {}
        authorizers: dict[str, AuthorizerSpec] = {}
        for name, spec in (auth.get("Authorizers") or {}).items():
            function = function_by_arn.get(str(spec.get("FunctionArn")))
            if function is None:
                log.warning("%s: authorizer %s is not a Lambda function of this template", logical_id, name)
                continue
            identity = spec.get("Identity") or {}
            if str(spec.get("FunctionPayloadType", "TOKEN")).upper() != "REQUEST":  # SAM's default is TOKEN
                raise TemplateError(f"{logical_id}: authorizer {name}: only REQUEST authorizers are emulated")
            authorizers[name] = AuthorizerSpec(
                name=name,
                function=function,
                headers=_strings(identity.get("Headers")),
                query_strings=_strings(identity.get("QueryStrings")),
                stage_variables=_strings(identity.get("StageVariables")),
                context=_strings(identity.get("Context")),
                ttl_seconds=int(float(identity.get("ReauthorizeEvery", DEFAULT_AUTHORIZER_TTL))),
            )
        stage = props.get("StageName")
        if stage is None:
            raise TemplateError(f"{logical_id}: StageName is required")
        throttles: list[ThrottleSpec] = []
        for setting in props.get("MethodSettings") or []:
            rate, burst = setting.get("ThrottlingRateLimit"), setting.get("ThrottlingBurstLimit")
            if rate is None and burst is None:
                continue
            throttles.append(
                ThrottleSpec(
                    resource_path=str(setting.get("ResourcePath", "/*")),
                    method=str(setting.get("HttpMethod", "*")).upper(),
                    rate_limit=float(rate if rate is not None else 10_000),
                    burst_limit=int(burst if burst is not None else 5_000),
                )
            )
        default = auth.get("DefaultAuthorizer")
        if default and default not in authorizers:
            raise TemplateError(f"{logical_id}: DefaultAuthorizer {default} is not declared")
        apis[logical_id] = ApiSpec(
            logical_id=logical_id,
            api_id=str(physical.ref),
            name=str(props.get("Name") or physical.name or f"{template.stack_name}-{logical_id}"),
            stage=str(stage),
            # SAM lets "/" be written "~1" (JSON pointer style) in binary media types.
            binary_media_types=tuple(t.replace("~1", "/") for t in _strings(props.get("BinaryMediaTypes"))),
            gateway_responses=dict(props.get("GatewayResponses") or {}),
            authorizers=authorizers,
            stage_variables={str(k): _as_str(v) for k, v in (props.get("Variables") or {}).items()},
            throttles=tuple(throttles),
            default_authorizer=str(default) if default else None,
        )
    return apis


def _route(
    template: Template,
    apis: dict[str, ApiSpec],
    function: str,
    event_name: str,
    props: dict[str, Any],
    raw_event: dict[str, Any],
) -> RouteSpec:
    api = _ref_target((raw_event.get("Properties") or {}).get("RestApiId"))
    if api is None or api not in apis:  # SAM's implicit API is not emulated
        raise TemplateError(f"{function}.{event_name}: RestApiId must be !Ref to an API of this template")
    auth = props.get("Auth") or {}
    authorizer = auth.get("Authorizer", apis[api].default_authorizer)
    if authorizer == "NONE":
        authorizer = None
    if authorizer is not None and authorizer not in apis[api].authorizers:
        raise TemplateError(f"{function}.{event_name}: unknown authorizer {authorizer}")
    path = str(props["Path"])
    if not path.startswith("/"):
        raise TemplateError(f"{function}.{event_name}: Path must start with /")
    method = str(props["Method"]).upper()
    method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
    timeout = int(props.get("TimeoutInMillis", API_GATEWAY_INTEGRATION_TIMEOUT_MS))
    return RouteSpec(
        api=api,
        event=event_name,
        function=function,
        path=re.sub(r"/+$", "", path) or "/",
        method=method,
        authorizer=authorizer,
        integration_timeout_ms=timeout,
    )


def _sqs_mapping(
    template: Template,
    function: str,
    event_name: str,
    props: dict[str, Any],
    raw_event: dict[str, Any],
) -> SqsMappingSpec | None:
    if str(props.get("Enabled", True)).lower() == "false":
        return None
    raw_queue = (raw_event.get("Properties") or {}).get("Queue")
    queue = _ref_target(raw_queue)
    if queue is None or queue not in template.resources:
        queue = next(
            (q for q in template.of_type("AWS::SQS::Queue") if template.physical(q).arn == props.get("Queue")), None
        )
    if queue is None:
        log.warning("%s.%s: queue %s is not in this template; not polled", function, event_name, raw_queue)
        return None
    if props.get("FilterCriteria"):
        log.warning(
            "%s.%s: FilterCriteria on SQS events is not emulated locally; every message is given", function, event_name
        )
    physical = template.physical(queue)
    fifo = str(physical.name).endswith(".fifo")
    batch_size = int(props.get("BatchSize", 10))
    scaling = props.get("ScalingConfig") or {}
    maximum = scaling.get("MaximumConcurrency")
    return SqsMappingSpec(
        function=function,
        event=event_name,
        queue=queue,
        queue_arn=str(physical.arn),
        queue_url=str(physical.url),
        batch_size=min(batch_size, 10) if fifo else batch_size,
        batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures="ReportBatchItemFailures" in _strings(props.get("FunctionResponseTypes")),
        maximum_concurrency=int(maximum) if maximum is not None else None,
    )


def _stream_mapping(
    template: Template,
    function: str,
    event_name: str,
    props: dict[str, Any],
    raw_event: dict[str, Any],
) -> StreamMappingSpec | None:
    where = f"{function}.{event_name}"
    if str(props.get("Enabled", True)).lower() == "false":
        return None
    raw_stream = (raw_event.get("Properties") or {}).get("Stream")
    table = _ref_target(raw_stream)
    if table is None or table not in template.resources or template.resource_type(table) != "AWS::DynamoDB::Table":
        log.warning("%s: stream %s is not a table of this template; not polled", where, raw_stream)
        return None
    if not template.raw_properties(table).get("StreamSpecification"):
        raise TemplateError(f"{where}: table {table} has no StreamSpecification")
    position = str(props.get("StartingPosition", "")).upper()
    if position not in ("TRIM_HORIZON", "LATEST"):
        raise TemplateError(f"{where}: StartingPosition must be TRIM_HORIZON or LATEST locally, not {position!r}")
    filters: list[dict[str, Any]] = []
    for item in (props.get("FilterCriteria") or {}).get("Filters") or []:
        raw_pattern = item.get("Pattern")
        try:
            pattern = json.loads(raw_pattern) if isinstance(raw_pattern, str) else raw_pattern
            validate_pattern(pattern)
        except ValueError as exc:  # not JSON, or a FilterError
            raise TemplateError(f"{where}: FilterCriteria pattern {raw_pattern!r}: {exc}") from exc
        filters.append(pattern)
    for name in ("DestinationConfig", "MaximumRecordAgeInSeconds", "ParallelizationFactor", "TumblingWindowInSeconds"):
        if name in props:
            log.warning("%s: %s is not emulated locally; ignored", where, name)
    physical = template.physical(table)
    return StreamMappingSpec(
        function=function,
        event=event_name,
        table=table,
        table_name=str(physical.name),
        stream_arn=str(physical.attributes["StreamArn"]),
        batch_size=int(props.get("BatchSize", 100)),
        batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        starting_position=position,
        bisect_on_error=str(props.get("BisectBatchOnFunctionError", False)).lower() == "true",
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
        report_batch_item_failures="ReportBatchItemFailures" in _strings(props.get("FunctionResponseTypes")),
        filters=tuple(filters),
    )
